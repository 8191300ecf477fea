"""The training service: prepares data, trains a recipe's model and records it in MLflow (the modules: README.md)."""

import os

# The model is built from a config: nothing may come from the Hugging Face Hub. Set here, before any
# module of the package imports transformers, because huggingface_hub reads it once, when imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
