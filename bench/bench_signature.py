"""What verifying a version's signature adds to a swap (issue 27): serving's load path for one model,
with the verification (serving/model/signature.py: hash every artifact, check the signature with the
trusted keys) and without it, interleaved, same model, same process. And the serving start: importing
the verifier (model_signing, sigstore's models) against importing serving's app without it.

The model is a digits-sized MLP saved with mlflow.pytorch, signed once by devtools' promotion path.
Run on the host's test environment: .venv/bin/python bench/bench_signature.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "services")]
ROUNDS = 15


class _Api:  # the MLflow calls of sign_version, answered from the saved model
    def __init__(self, artifacts: Path) -> None:
        self.artifacts, self.tags = artifacts, {}

    def model_version(self, model: str, version: str) -> dict[str, object]:
        return {"source": "models:/m-1"}

    def artifact_root(self, source: str) -> str:
        return "root"

    def download_tree(self, root: str, target: Path) -> list[str]:
        shutil.copytree(self.artifacts, target, dirs_exist_ok=True)
        return [str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()]

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self.tags[key] = value


def main() -> None:
    import mlflow.pyfunc
    import mlflow.pytorch
    import torch
    from contract.signing import SIGNATURE_TAG
    from serving.model.signature import Verifier

    from devtools.models import signing

    work = Path(tempfile.mkdtemp(prefix="bench-signature-"))
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    path = work / "model"
    mlflow.pytorch.save_model(model, str(path))
    signing.new_key(work)
    api = _Api(path)
    signing.sign_version(api, "digits", "1", signing.key_path(work))  # type: ignore[arg-type]
    verifier = Verifier(signing.trusted(work), True)
    bundle = api.tags[SIGNATURE_TAG]
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    plain, verified, checks = [], [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        mlflow.pyfunc.load_model(str(path), model_config={"device": "cpu"})
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        verifier.check(path, "digits", "1", bundle)
        middle = time.perf_counter()
        mlflow.pyfunc.load_model(str(path), model_config={"device": "cpu"})
        verified.append(time.perf_counter() - start)
        checks.append(middle - start)
    imports = []
    for module in ("serving.app", "model_signing.verifying"):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        runs = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={"PYTHONPATH": f"{REPO / 'services'}"},
                ).stdout
            )
            for _ in range(5)
        ]
        imports.append(statistics.median(runs))
    p, v, c = statistics.median(plain), statistics.median(verified), statistics.median(checks)
    print(f"model: {size / 1024:.0f} KiB in {sum(1 for q in path.rglob('*') if q.is_file())} files, {ROUNDS} rounds")
    print(f"load without verification: median {p * 1000:.1f} ms")
    print(f"load with verification:    median {v * 1000:.1f} ms (the check alone {c * 1000:.1f} ms): {v / p:.2f}x")
    print(f"start: import serving.app {imports[0]:.2f} s; of it, the verifier's imports {imports[1]:.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
