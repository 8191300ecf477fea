"""The comparison as metrics on the challenger's MLflow run, every `comparison_log_interval_s`, so it sits
next to the run's own metrics in the MLflow UI. Failures are logged and retried next time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from contract.status import Comparison

from serving.periodic import Periodic
from serving.settings import Settings

log = logging.getLogger("serving.challenger")


class ComparisonLogger:
    def __init__(self, settings: Settings, figures: Callable[[], Comparison]) -> None:
        self.settings = settings
        self.figures = figures
        self._last: tuple[Any, ...] | None = None
        self._step = 0
        self._loop = Periodic("comparison-logger", settings.comparison_log_interval_s, self.log_once, first_now=False)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def log_once(self) -> bool:
        """True when a new set of figures was logged."""
        figures = self.figures()
        challenger = figures["challenger"]
        run_id = challenger["run_id"]
        if not run_id or not challenger["requests"]:
            return False
        values = live_metrics(figures)
        key = (run_id, *sorted(values.items()))
        if key == self._last:
            return False  # nothing new since the last time: no point in the same figures at a new step
        try:
            from mlflow import MlflowClient
            from mlflow.entities import Metric

            stamp = int(time.time() * 1000)
            batch = [Metric(name, value, stamp, self._step) for name, value in values.items()]
            MlflowClient(tracking_uri=self.settings.tracking_uri).log_batch(run_id, metrics=batch)
        except Exception as error:
            log.warning("comparison not logged to run %s: %s: %s", run_id, type(error).__name__, error)
            return False
        self._last, self._step = key, self._step + 1
        return True


def live_metrics(figures: Comparison) -> dict[str, float]:
    """The comparison as MLflow metrics (numbers only; a figure not known yet is left out)."""
    challenger, champion = figures["challenger"], figures["champion"]
    values: dict[str, float | None] = {
        "live_requests": challenger["requests"],
        "live_errors": challenger["errors"],
        "live_error_rate": challenger["errors"] / challenger["requests"] if challenger["requests"] else None,
        "live_p99_ms": challenger["p99_ms"],
        "live_champion_p99_ms": champion["p99_ms"],
        "live_agreement": figures["agreement"],
        "live_compared": figures["compared"] or None,
        "live_shadow_dropped": figures["shadow_dropped"],
    }
    return {name: float(value) for name, value in values.items() if value is not None}
