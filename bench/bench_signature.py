"""What verifying a version's signature adds to a swap (issue 27): serving's load path for one model,
with the verification (serving/model/signature.py: hash every artifact, check the signature with the
trusted keys) and without it, interleaved, same model, same process. And the serving start: serving's app
imports model_signing lazily, so its import is measured apart (paid once, at the first verified load).

The model is a digits-sized MLP saved with mlflow.pytorch as the digits recipe saves it (pt2), signed
once by devtools' promotion path.
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


def main() -> None:
    import mlflow.pyfunc
    import mlflow.pytorch
    import torch
    from contract.signing import SIGNATURE_TAG
    from serving.model.signature import Verifier

    from devtools.models import signing
    from testing.model_versions import LocalModelVersion

    work = Path(tempfile.mkdtemp(prefix="bench-signature-"))
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    path = work / "model"
    import numpy as np

    # As the digits recipe logs it (services/training/recipes/digits): pt2, an input example, explicit requirements.
    example = np.zeros((1, 64), dtype=np.float32)
    mlflow.pytorch.save_model(
        model, str(path), input_example=example, serialization_format="pt2", pip_requirements=["torch", "numpy"]
    )
    signing.new_key(work)
    api = LocalModelVersion(path)
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
    print(
        f"start: import serving.app {imports[0]:.2f} s (the verifier's library is not among it); "
        f"model_signing.verifying, imported at the first verified load, {imports[1]:.2f} s"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
