"""What answers for a version: ONNX Runtime on the version's accelerated artifact, or the MLflow pyfunc.

Training exports each version to ONNX and records whether its answers match the pyfunc's (the verdict,
contract.accelerated); the verdict is in the version's artifacts, so the signature that was just
checked covers it. SERVING_RUNTIME picks: `auto` (the default) answers with ONNX Runtime when the
verdict says usable and the graph loads, else with the pyfunc, and says why; `pyfunc` never uses the
graph; `onnx` (the lean image, which has no torch) refuses a version without a usable graph, so the
version already served keeps serving.

An `OnnxPredictor` stands where the pyfunc stood: `predict(data, params=None)` answers what the pyfunc
answers, in its shape and dtype, and `metadata` is the version's MLmodel (signature, input example), read
without importing the model's flavor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from contract.accelerated import ONNX_FILE, ONNXRUNTIME, PYFUNC, VERDICT_FILE, RuntimeChoice, RuntimeStatus, Verdict

# In order of preference; the first ones the installed ONNX Runtime offers are used (the CPU one always).
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


class NotAccelerated(RuntimeError):
    """SERVING_RUNTIME=onnx and the version has no usable ONNX artifact: it is not swapped in."""


class OnnxPredictor:
    """The version's ONNX graph behind the pyfunc's interface."""

    def __init__(self, path: Path, verdict: Verdict, providers: list[str]) -> None:
        import numpy as np
        from mlflow.models import Model

        assert verdict["input"] is not None and verdict["output"] is not None  # a usable verdict has both
        self.metadata = Model.load(str(path))
        self._graph, self._asked = str(path / ONNX_FILE), providers
        self._session: Any = _session(self._graph, providers)
        self._pid = os.getpid()
        self.providers: list[str] = list(self._session.get_providers())
        self.input_name = verdict["input"]["name"]
        self.input_dtype = np.dtype(verdict["input"]["dtype"])
        self.columns = verdict["input"]["columns"]
        self.output_name = verdict["output"]["name"]
        self.output_dtype = np.dtype(verdict["output"]["dtype"])
        self.shape_tail = tuple(verdict["output"]["shape_tail"])
        self._schema = self.metadata.get_input_schema()  # type: ignore[no-untyped-call]
        self._example_path = path

    @property
    def input_example(self) -> Any:
        return self.metadata.load_input_example(str(self._example_path))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """What the pyfunc answers for `data` (the signature's tensor rows, or a frame of its columns)."""
        rows = self._rows(data)
        answered = self._session_here().run([self.output_name], {self.input_name: rows})[0]
        return answered.reshape((len(rows), *self.shape_tail)).astype(self.output_dtype, copy=False)

    def before_fork(self) -> None:
        """Drop this process's session and with it ONNX Runtime's thread pool: the dev fork-server loads
        the version in its parent and forks a worker per reload, and a pool's threads do not survive a
        fork (a worker running on the parent's session, or forked while a pool thread held a lock, can
        hang). Each process then makes its own session on its first prediction."""
        self._session = None

    def _session_here(self) -> Any:
        if self._session is None or self._pid != os.getpid():
            self._session = _session(self._graph, self._asked)
            self._pid = os.getpid()
        return self._session

    def _rows(self, data: Any) -> Any:
        import numpy as np

        if isinstance(data, np.ndarray) and data.dtype == self.input_dtype and self.columns is None:
            return data  # the typed fast path (/invocations' tensor rows, the micro-batcher's batches)
        if self._schema is not None:
            # What the pyfunc does first: the signature's checks and conversions, and its errors (a
            # missing column, a wrong type) answered 400 the same way.
            from mlflow.models.utils import _enforce_schema

            data = _enforce_schema(data, self._schema)
        if self.columns is not None:
            return data[self.columns].to_numpy(dtype=self.input_dtype)
        return np.asarray(data, dtype=self.input_dtype)


def _session(graph: str, providers: list[str]) -> Any:
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    # As many threads as the container may use: ONNX Runtime counts the host's cores, and on a 1-vCPU
    # ECS task (or `docker run --cpus 1`) more threads than the quota only wait for each other.
    options.intra_op_num_threads = cpu_budget()
    return onnxruntime.InferenceSession(graph, options, providers=providers)


def cpu_budget(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota when one is set."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, int(int(quota) / int(period))))


def read_verdict(path: Path) -> tuple[Verdict | None, str]:
    """The version's verdict when it is usable; else None and why not."""
    try:
        verdict: Verdict = json.loads((path / VERDICT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "no accelerated artifact (registered before training exported one)"
    except (OSError, ValueError) as error:
        return None, f"its {VERDICT_FILE} cannot be read: {error}"
    if not verdict.get("usable"):
        return None, f"the equivalence gate refused its ONNX export: {verdict.get('reason')}"
    return verdict, ""


def providers() -> list[str]:
    import onnxruntime

    available = set(onnxruntime.get_available_providers())
    return [provider for provider in PREFERRED_PROVIDERS if provider in available]


def load_predictor(path: Path, choice: RuntimeChoice) -> tuple[Any, RuntimeStatus]:
    """What answers for the version in `path`, and the status GET /model shows for it."""
    verdict, why_not = read_verdict(path) if choice != PYFUNC else (None, "SERVING_RUNTIME=pyfunc")
    if verdict is not None:
        try:
            predictor = OnnxPredictor(path, verdict, providers())
        except Exception as error:  # ONNX Runtime missing or refusing the graph: the pyfunc answers
            why_not = f"ONNX Runtime cannot load it: {' '.join(str(error).split())[:300]}"
        else:
            return predictor, RuntimeStatus(name=ONNXRUNTIME, providers=predictor.providers, reason=None)
    if choice == "onnx":
        raise NotAccelerated(f"{why_not}; this image serves ONNX artifacts only (SERVING_RUNTIME=onnx)")
    import mlflow.pyfunc

    # CPU unless told otherwise: a CPU-exported model must not be moved to a GPU it never saw.
    pyfunc = mlflow.pyfunc.load_model(str(path), model_config={"device": "cpu"})
    return pyfunc, RuntimeStatus(name=PYFUNC, providers=None, reason=why_not)
