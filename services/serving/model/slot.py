"""The model currently served, and the one atomic swap that replaces it.

A request takes one reference to the current `LoadedModel` and uses only that, so a swap never
mixes versions within a request and in-flight requests finish on the model they started with.
Replacing a single attribute is atomic in CPython; the lock only orders concurrent swaps.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from contract.accelerated import PYFUNC, RuntimeStatus


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    alias: str
    run_id: str
    # What answers: mlflow.pyfunc.PyFuncModel, or serving.model.runtime.OnnxPredictor (the same
    # predict(data) and metadata).
    predictor: Any
    input_example: Any
    loaded_at: float = field(default_factory=time.time)
    provenance: dict[str, str] = field(default_factory=dict)  # what made the version (contract.provenance)
    signed_by: str | None = None  # the trusted key its signature verified with; None: not verified
    runtime: RuntimeStatus = field(default_factory=lambda: RuntimeStatus(name=PYFUNC, providers=None, reason=None))


@dataclass
class SlotStatus:
    # Why no model is ready yet (cold start), or why the last swap failed; None when fine.
    not_ready_reason: str | None = "loading the model"
    last_swap_error: str | None = None
    last_swap_error_version: str | None = None


class ModelSlot:
    def __init__(self) -> None:
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()
        self.status = SlotStatus()
        # The model clear() let go of, until the next swap: a challenger whose alias was removed because it
        # was promoted is picked up from here by the champion's watcher instead of loaded again.
        self.retired: LoadedModel | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def swap(self, model: LoadedModel) -> LoadedModel | None:
        with self._lock:
            previous, self._current = self._current, model
            self.retired = None
            self.status.not_ready_reason = None
            self.status.last_swap_error = None
            self.status.last_swap_error_version = None
            return previous

    def clear(self, reason: str) -> LoadedModel | None:
        """Nothing served from this slot any more (the challenger's alias was removed), and why."""
        with self._lock:
            previous, self._current = self._current, None
            self.retired = previous or self.retired
            self.status.not_ready_reason = reason
            self.status.last_swap_error = None
            self.status.last_swap_error_version = None
            return previous

    def record_failure(self, version: str | None, error: str) -> None:
        with self._lock:
            if self._current is None:
                self.status.not_ready_reason = error
            else:
                self.status.last_swap_error = error
                self.status.last_swap_error_version = version
