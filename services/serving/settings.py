"""Serving configuration, from the environment (12-factor: the same image runs in dev, CI and ECS)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_alias: str
    tracking_uri: str
    # How often the alias is polled. MLflow webhooks cannot reach a private container by default,
    # so polling is the source of truth.
    poll_interval_s: float
    cache_dir: Path
    # Backoff for a version that failed to load or to pass the smoke test: doubles up to the cap.
    retry_initial_s: float
    retry_max_s: float

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            model_name=env.get("MODEL_NAME", "digits-classifier"),
            model_alias=env.get("MODEL_ALIAS", "champion"),
            tracking_uri=env.get("MLFLOW_TRACKING_URI", "http://mlflow:5000"),
            poll_interval_s=float(env.get("MODEL_POLL_INTERVAL_S", "2")),
            cache_dir=Path(env.get("MODEL_CACHE_DIR", "/tmp/model-cache")),
            retry_initial_s=float(env.get("MODEL_RETRY_INITIAL_S", "2")),
            retry_max_s=float(env.get("MODEL_RETRY_MAX_S", "60")),
        )
