"""Follows the registry alias: loads a new version in the background, smoke-tests it, swaps it in.

A version that fails to load or to pass the smoke test is never swapped in; the old model keeps
serving and the version is retried with exponential backoff. MLflow unreachable: keep serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from serving import metrics
from serving.model_store import AliasTarget, ModelStore, smoke_test
from serving.settings import Settings
from serving.slot import ModelSlot

log = logging.getLogger("serving.watcher")


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


@dataclass
class _Backoff:
    delay_s: float
    retry_at: float


class AliasWatcher:
    def __init__(
        self,
        store: ModelStore,
        slot: ModelSlot,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.slot = slot
        self.settings = settings
        self.clock = clock
        self._failed: dict[str, _Backoff] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alias-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.settings.poll_interval_s)

    def poll_once(self) -> None:
        name, alias = self.settings.model_name, self.settings.model_alias
        try:
            target = self.store.resolve_alias()
        except Exception as error:
            reason = f"cannot resolve {name}@{alias} at {self.settings.tracking_uri}: {one_line(error)}"
            if self.slot.current is None:
                self.slot.record_failure(None, reason)
            log.warning("%s; %s", reason, "keeping the current model" if self.slot.current else "not ready")
            return
        current = self.slot.current
        if current is not None and current.version == target.version:
            return
        backoff = self._failed.get(target.version)
        if backoff and self.clock() < backoff.retry_at:
            return
        self._load_and_swap(target, backoff)

    def _load_and_swap(self, target: AliasTarget, backoff: _Backoff | None) -> None:
        started = self.clock()
        try:
            model = self.store.load(target)
            smoke_test(model)
        except Exception as error:
            delay = min(backoff.delay_s * 2, self.settings.retry_max_s) if backoff else self.settings.retry_initial_s
            self._failed[target.version] = _Backoff(delay, self.clock() + delay)
            metrics.SWAP_FAILURES.inc()
            message = f"version {target.version} not swapped in: {one_line(error)}"
            self.slot.record_failure(target.version, message)
            log.error("%s (retry in %.0fs)", message, delay)
            return
        previous = self.slot.swap(model)
        self._failed.pop(target.version, None)
        metrics.MODEL_VERSION.labels(model.name, model.alias).set(float(model.version))
        if previous is not None:
            metrics.SWAPS.inc()
        log.info(
            "serving %s version %s (was %s), loaded in %.2fs",
            model.name,
            model.version,
            previous.version if previous else "none",
            self.clock() - started,
        )
