"""Defaults from the environment (stdlib only: the CLI parser uses them for --help)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "/data"
DEFAULT_TRACKING_URI = "http://mlflow:5000"


def default_data_dir() -> Path:
    return Path(os.environ.get("TRAINING_DATA_DIR") or DEFAULT_DATA_DIR)


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
