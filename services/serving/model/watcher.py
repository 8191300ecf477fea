"""Follows a registry alias: loads a new version in the background, smoke-tests it, swaps it in.

A version that fails to load or to pass the smoke test is never swapped in; the old model keeps
serving and the version is retried with exponential backoff. MLflow unreachable: keep serving.
One watcher per alias: the champion's, and the challenger's when one is followed. An optional alias
(the challenger's) that no version holds any more empties its slot; the champion's never does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from serving import metrics
from serving.model.signature import SignatureRefused
from serving.model.slot import LoadedModel, ModelSlot
from serving.model.smoke_test import smoke_test
from serving.model.store import AliasNotSet, AliasTarget, ModelStore
from serving.periodic import Periodic
from serving.settings import Settings

log = logging.getLogger("serving.watcher")


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def _attempt(target: AliasTarget) -> tuple[str, str | None]:
    """What a failed load is remembered by: the version and its signature, so a version signed (or signed
    again) after it was refused is tried at the next poll, not after its backoff."""
    return (target.version, target.signature)


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
        *,
        alias: str | None = None,
        optional: bool = False,
        peer: ModelSlot | None = None,
    ) -> None:
        self.store = store
        self.slot = slot
        self.settings = settings
        self.clock = clock
        self.alias = alias or settings.model_alias
        self.optional = optional
        # The other alias's slot: a version already loaded there (a promoted challenger) is reused
        # instead of loaded twice.
        self.peer = peer
        self._failed: dict[tuple[str, str | None], _Backoff] = {}
        self._loop = Periodic(f"alias-watcher-{self.alias}", settings.poll_interval_s, self.poll_once, first_now=True)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def poll_once(self) -> None:
        name, alias = self.settings.model_name, self.alias
        try:
            target = self.store.resolve_alias(alias)
        except AliasNotSet as error:
            if self.optional:
                if self.slot.current is not None or self.slot.status.not_ready_reason != str(error):
                    log.info("%s: not following it", error)
                self.slot.clear(str(error))
                return
            reason = f"cannot resolve {name}@{alias} at {self.settings.tracking_uri}: {error}"
            if self.slot.current is None:
                self.slot.record_failure(None, reason)
            log.warning("%s; %s", reason, "keeping the current model" if self.slot.current else "not ready")
            return
        except Exception as error:
            reason = f"cannot resolve {name}@{alias} at {self.settings.tracking_uri}: {one_line(error)}"
            if self.slot.current is None:
                self.slot.record_failure(None, reason)
            log.warning("%s; %s", reason, "keeping the current model" if self.slot.current else "not ready")
            return
        current = self.slot.current
        if current is not None and current.version == target.version:
            return
        backoff = self._failed.get(_attempt(target))
        if backoff and self.clock() < backoff.retry_at:
            return
        self._load_and_swap(target, backoff)

    def _load_and_swap(self, target: AliasTarget, backoff: _Backoff | None) -> None:
        started = self.clock()
        try:
            model = self._warm(target) or self.store.load(target)
            smoke_test(model)
        except Exception as error:
            delay = min(backoff.delay_s * 2, self.settings.retry_max_s) if backoff else self.settings.retry_initial_s
            self._failed[_attempt(target)] = _Backoff(delay, self.clock() + delay)
            metrics.SWAP_FAILURES.inc()
            if isinstance(error, SignatureRefused):
                metrics.SIGNATURE_REFUSALS.inc()
            message = f"version {target.version} not swapped in: {one_line(error)}"
            self.slot.record_failure(target.version, message)
            log.error("%s (retry in %.0fs)", message, delay)
            return
        previous = self.slot.swap(model)
        self._failed.pop(_attempt(target), None)
        metrics.MODEL_VERSION.labels(model.name, model.alias).set(float(model.version))
        if previous is not None:
            metrics.SWAPS.inc()
        log.info(
            "%s %s version %s (was %s), loaded in %.2fs",
            f"challenger @{self.alias}:" if self.optional else "serving",
            model.name,
            model.version,
            previous.version if previous else "none",
            self.clock() - started,
        )

    def _warm(self, target: AliasTarget) -> LoadedModel | None:
        """The version as the other alias's slot holds it (or just let go of), if it does."""
        if self.peer is None:
            return None
        for held in (self.peer.current, self.peer.retired):
            if held is not None and held.version == target.version:
                return replace(held, alias=self.alias, loaded_at=time.time())
        return None
