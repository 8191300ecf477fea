"""The training service: trains a model and records it in MLflow."""
