"""The challenger on live traffic: a second alias of the same model, compared with the champion on the
requests clients send, without ever costing a client its answer. `LiveTraffic` is the one place requests
meet it; the parts are `router` (canary), `shadow` (the shadow thread and its queue), `comparison` (the
figures of one pair of versions) and `comparison_log` (those figures on the challenger's MLflow run).
/comparison shows the figures and Prometheus counts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from contract.aliases import CHALLENGER, CHAMPION
from contract.status import ChallengerStatus, Comparison

from serving import metrics
from serving.model.slot import LoadedModel, ModelSlot
from serving.settings import Settings
from serving.traffic.comparison import LiveComparison, iso_utc
from serving.traffic.router import CanaryRouter
from serving.traffic.shadow import ShadowScorer

T = TypeVar("T")


@dataclass(frozen=True)
class Pick:
    """Who answers one request: `model` (champion or challenger, `role`), and the pair it was picked
    from, taken once so a swap mid-request changes nothing for it."""

    model: LoadedModel
    role: str  # CHAMPION or CHALLENGER: the metrics' role label
    champion: LoadedModel
    challenger: LoadedModel | None


class LiveTraffic:
    """Routing, timing, counting, shadow copies and figures for the champion's and the challenger's slots."""

    def __init__(self, settings: Settings, champion: ModelSlot, challenger: ModelSlot) -> None:
        self.settings = settings
        self.champion_slot = champion
        self.challenger_slot = challenger
        self.comparison = LiveComparison()
        self.router = CanaryRouter(settings)
        self.shadow = ShadowScorer(settings, self.comparison)
        metrics.CHALLENGER_ROUTED.set_function(lambda: float(self._routed(self._challenger())))

    def pick(self, headers: Mapping[str, str]) -> Pick | None:
        """Who answers this request; None while no champion is loaded."""
        champion = self.champion_slot.current
        if champion is None:
            return None
        challenger = self._challenger()
        if challenger is not None and self.router.picks_challenger(headers, challenger):
            return Pick(challenger, CHALLENGER, champion, challenger)
        return Pick(champion, CHAMPION, champion, challenger)

    def answer(self, pick: Pick, predict: Callable[[], T]) -> T:
        """predict(), timed and counted for the version that answers; its exception is the client's."""
        started = time.perf_counter()
        try:
            result = predict()
        except Exception as error:
            self._answered(pick, time.perf_counter() - started, error)
            raise
        self._answered(pick, time.perf_counter() - started, None)
        return result

    def _answered(self, pick: Pick, seconds: float, error: Exception | None) -> None:
        metrics.PREDICT_SECONDS.labels(pick.role, "answered").observe(seconds)
        metrics.PREDICTIONS.labels(pick.role, pick.model.version, "answered", "error" if error else "ok").inc()
        self.comparison.answered(pick.champion, pick.challenger, pick.role, seconds, error is None)
        if pick.role == CHALLENGER:
            self.router.outcome(pick.model, error)

    def shadows(self, pick: Pick) -> bool:
        """Whether this request's answer gets a shadow copy (shadow mode, a challenger, the champion answered)."""
        return self.settings.challenger_mode == "shadow" and pick.challenger is not None and pick.role == CHAMPION

    def shadow_copy(self, pick: Pick, answer: Any, score: Callable[[LoadedModel], Any]) -> None:
        """In shadow mode, after the champion answered: score(challenger) off the response path."""
        challenger = pick.challenger
        if not self.shadows(pick) or challenger is None:
            return
        self.shadow.submit(pick.champion, challenger, answer, lambda: score(challenger))

    def figures(self) -> Comparison:
        """GET /comparison."""
        champion, challenger = self.champion_slot.current, self._challenger()
        snapshot = self.comparison.snapshot(champion, challenger)
        return {
            "model": self.settings.model_name,
            "mode": self.settings.challenger_mode if self.settings.follows_challenger else "off",
            "canary_share": self.settings.canary_share,
            "since": snapshot.since,
            "champion": snapshot.champion,
            "challenger": {
                **snapshot.challenger,
                "routed": self._routed(challenger),
                "state_reason": self._state_reason(challenger),
            },
            "compared": snapshot.compared,
            "agreed": snapshot.agreed,
            "agreement": snapshot.agreement,
            "kind": snapshot.kind,
            "shadow_dropped": snapshot.dropped,
            "shadow_queued": self.shadow.queued(),
        }

    def challenger_status(self) -> ChallengerStatus | None:
        """The challenger's part of GET /model; None when no challenger is followed."""
        if not self.settings.follows_challenger:
            return None
        challenger, status = self._challenger(), self.challenger_slot.status
        return {
            "alias": self.settings.challenger_alias,
            "mode": self.settings.challenger_mode,
            "canary_share": self.settings.canary_share if self.settings.challenger_mode == "canary" else None,
            "version": challenger.version if challenger else None,
            "run_id": challenger.run_id if challenger else None,
            "loaded_at": iso_utc(challenger.loaded_at) if challenger else None,
            "routed": self._routed(challenger),
            "state_reason": self._state_reason(challenger),
            "last_swap_error": status.last_swap_error,
            "last_swap_error_version": status.last_swap_error_version,
        }

    def _challenger(self) -> LoadedModel | None:
        current = self.challenger_slot.current
        return current if self.settings.follows_challenger else None

    def _routed(self, challenger: LoadedModel | None) -> bool:
        return self.settings.challenger_mode == "canary" and self.router.routed(challenger)

    def _state_reason(self, challenger: LoadedModel | None) -> str | None:
        if not self.settings.follows_challenger:
            return "no challenger followed (MODEL_CHALLENGER_MODE=off or MODEL_CHALLENGER_ALIAS empty)"
        if challenger is None:
            return self.challenger_slot.status.not_ready_reason or "no challenger loaded"
        return self.router.state_reason(challenger)
