"""The serving service: a FastAPI app in front of the registered model."""
