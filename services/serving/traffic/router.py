"""Canary routing: which version answers a request, and when a failing challenger is dropped from it.

`canary_share` of the requests go to the challenger; a client that sends the key header always gets the
same version (its key has a fixed place in [0, 1)). The challenger's errors are the client's (it
answered) and counted; a run of them drops it from routing until a new version holds its alias.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Mapping

from serving.model.slot import LoadedModel
from serving.settings import Settings

log = logging.getLogger("serving.challenger")


def _bucket(key: str) -> float:
    """A client key's fixed place in [0, 1): the same key lands on the same side of any share."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class CanaryRouter:
    def __init__(self, settings: Settings, draw: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._draw = draw
        self._lock = threading.Lock()
        self._failures = 0
        self._dropped_version: str | None = None
        self.dropped_reason: str | None = None

    def routed(self, challenger: LoadedModel | None) -> bool:
        return challenger is not None and challenger.version != self._dropped_version

    def picks_challenger(self, headers: Mapping[str, str], challenger: LoadedModel | None) -> bool:
        if self.settings.challenger_mode != "canary" or not self.routed(challenger):
            return False
        key = headers.get(self.settings.canary_key_header)
        return (_bucket(key) if key else self._draw()) < self.settings.canary_share

    def outcome(self, challenger: LoadedModel, error: BaseException | None) -> None:
        """The challenger answered a request: a success resets the run of failures, a failure extends it."""
        with self._lock:
            if error is None:
                self._failures = 0
                return
            self._failures += 1
            if self._failures < self.settings.challenger_max_failures or not self.routed(challenger):
                return
            self._dropped_version, self._failures = challenger.version, 0
            self.dropped_reason = (
                f"version {challenger.version} dropped from canary routing after "
                f"{self.settings.challenger_max_failures} failures in a row (last: {type(error).__name__}: "
                f"{' '.join(str(error).split())[:200]}); a new version on @{challenger.alias} is routed again"
            )
            log.warning("%s", self.dropped_reason)

    def state_reason(self, challenger: LoadedModel | None) -> str | None:
        if challenger is not None and not self.routed(challenger):
            return self.dropped_reason
        return None
