"""The default recipe, the digits demo, in one package: a tiny Vision Transformer (`model`) on
scikit-learn's 8x8 digits (the source, below), trained data-parallel (DDP) when launched in several
processes (`fitting`), logged in torch.export's pt2 format with a (-1, 64) float32 tensor signature.

Standard library only at import: the CLI imports this module first; torch, transformers, scikit-learn
and mlflow are imported inside the methods (and by `model` and `fitting`, which the methods import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from training.config import DEFAULT_EXPERIMENT, DEFAULT_MODEL_NAME, DEFAULT_RECIPE, Device, TrainConfig
from training.recipes import Source

if TYPE_CHECKING:
    import torch
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from training.recipes import Prepared, Recipe
    from training.recipes.digits.fitting import EpochMetrics
    from training.recipes.digits.model import DigitsClassifier
    from training.world import World

# The data: scikit-learn's 8x8 digits, flattened to 64 pixel values in 0..PIXEL_MAX, and 10 classes.
IMAGE_SIZE = 8
NUM_FEATURES = IMAGE_SIZE * IMAGE_SIZE
NUM_CLASSES = 10
PIXEL_MAX = 16
# The validation metric --promote auto compares (logged per epoch, tagged on each version).
METRIC = "val_accuracy"
MODEL_ARTIFACT = "model"


class DigitsRecipe:
    # The defaults serving and docker-compose.yml repeat live in training.config (a test keeps them equal).
    name = DEFAULT_RECIPE
    model_name = DEFAULT_MODEL_NAME
    experiment = DEFAULT_EXPERIMENT
    metric = METRIC
    distributed = True

    def source(self) -> Source:
        """scikit-learn's bundled digits (1797 images), so nothing is downloaded."""
        import numpy as np
        import sklearn  # type: ignore[import-untyped]
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]

        from training.digests import sha256_arrays

        x, y = load_digits(return_X_y=True)
        description = {
            "name": "sklearn.datasets.load_digits",
            "scikit_learn_version": sklearn.__version__,
            "rows": int(x.shape[0]),
            "sha256": sha256_arrays(x, y),
        }
        return Source(
            x.astype(np.float32),
            y.astype(np.int64),
            description,
            # scikit-learn's names for the 64 pixels, row by row
            feature_names=tuple(f"pixel_{row}_{col}" for row in range(IMAGE_SIZE) for col in range(IMAGE_SIZE)),
            stratify=True,
            x_info={"range": [0, PIXEL_MAX]},
            y_info={"num_classes": NUM_CLASSES},
        )

    def device(self, requested: Device, world: World) -> torch.device:
        from training.devices import resolve_device, worker_device

        return worker_device(world, resolve_device(requested))

    def fit(
        self,
        data: Prepared,
        config: TrainConfig,
        device: torch.device,
        world: World,
        on_epoch: Callable[[EpochMetrics], object] | None,
    ) -> tuple[DigitsClassifier, list[EpochMetrics]]:
        from training.recipes.digits.fitting import fit_new_model

        model, history = fit_new_model(data, config, device, world, on_epoch)
        return model.to("cpu").eval(), history

    def params(self, config: TrainConfig, device: torch.device, world: World) -> dict[str, Any]:
        import torch
        import transformers

        from training.recipes.digits.model import ModelSpec

        return {
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "device": device.type,
            "world_size": world.size,
            "global_batch_size": config.batch_size * world.size,
            "optimizer": "AdamW",
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            **ModelSpec().params(),
        }

    def signature(self, data: Prepared) -> ModelSignature:
        import numpy as np
        from mlflow.models import ModelSignature
        from mlflow.types import Schema, TensorSpec

        return ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_FEATURES))]),
            outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES))]),
        )

    def input_example(self, data: Prepared) -> Any:
        return data.validation.x[:4]

    def log_model(
        self, model: DigitsClassifier, *, signature: ModelSignature, input_example: Any, model_name: str
    ) -> ModelInfo:
        import mlflow.pytorch
        import numpy as np
        import torch

        # pt2 (torch.export) needs no pickle and no transformers to serve; a batch > 1 keeps the batch dim dynamic.
        info: ModelInfo = mlflow.pytorch.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=input_example,
            serialization_format="pt2",
            # Explicit requirements skip MLflow's inference, which reloads the model in a subprocess.
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
            registered_model_name=model_name,
        )
        return info


if TYPE_CHECKING:
    _implements: Recipe = DigitsRecipe()  # mypy checks the class against the protocol
