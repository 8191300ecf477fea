"""serving.traffic.comparison_log: the comparison logged as metrics on the challenger's MLflow run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from serving.settings import Settings
from serving.traffic.comparison_log import ComparisonLogger, live_metrics


def test_the_comparison_is_logged_on_the_challengers_run(
    mlflow_server: str, make_settings: Callable[..., Settings]
) -> None:
    from mlflow import MlflowClient

    # The client, not mlflow's fluent API: that keeps an active experiment across tests.
    uri = mlflow_server
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment(f"live-{uuid.uuid4().hex[:8]}"))
    client.log_metric(run.info.run_id, "val_accuracy", 0.9)
    figures: dict[str, Any] = {
        "champion": {"p99_ms": 2.0},
        "challenger": {"run_id": run.info.run_id, "requests": 50, "errors": 1, "p99_ms": 3.0},
        "agreement": 0.96,
        "compared": 50,
        "shadow_dropped": 0,
    }
    logger = ComparisonLogger(make_settings(tracking_uri=uri), lambda: figures)  # type: ignore[arg-type,return-value]
    assert logger.log_once() is True
    assert logger.log_once() is False  # nothing new: not logged again
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["live_agreement"] == 0.96 and logged["live_error_rate"] == 0.02
    assert logged["live_requests"] == 50 and logged["live_champion_p99_ms"] == 2.0
    assert logged["val_accuracy"] == 0.9
    assert live_metrics({**figures, "agreement": None, "compared": 0}).keys().isdisjoint({"live_agreement"})  # type: ignore[typeddict-item]
