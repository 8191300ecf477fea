"""The digits recipe's model: a tiny Vision Transformer for the 8x8 digits, built from a config (no
pretrained weights, no hub).

The hub is off (HF_HUB_OFFLINE, set in training/__init__.py before transformers is imported).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from transformers import ViTConfig, ViTForImageClassification

from training.recipes.digits import IMAGE_SIZE, NUM_CLASSES, PIXEL_MAX


@dataclass(frozen=True)
class ModelSpec:
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 128
    patch_size: int = 2

    def params(self) -> dict[str, int]:
        return {f"model_{key}": value for key, value in asdict(self).items()}

    def vit_config(self) -> ViTConfig:
        config = ViTConfig(
            image_size=IMAGE_SIZE,
            patch_size=self.patch_size,
            num_channels=1,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
        )
        # transformers 5 types ViTConfig's own fields only; the label count is the base config's setter.
        config.num_labels = NUM_CLASSES
        return config


class DigitsClassifier(nn.Module):
    """(N, 64) pixel values in 0..16 -> (N, 10) logits; the flat input keeps the MLflow signature simple."""

    def __init__(self, spec: ModelSpec | None = None) -> None:
        super().__init__()
        self.vit = ViTForImageClassification((spec or ModelSpec()).vit_config())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Scaling lives in the model so callers (and the served model) send raw pixel values.
        pixels = features.to(torch.float32) * (2.0 / PIXEL_MAX) - 1.0
        pixels = pixels.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        logits: torch.Tensor = self.vit(pixel_values=pixels).logits
        return logits
