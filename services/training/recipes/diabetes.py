"""A second recipe, and the example to copy: a scikit-learn regression on tabular data with named columns.

scikit-learn's bundled diabetes data (442 patients, 10 numeric columns: age, sex, bmi, bp, s1..s6;
the target is a measure of disease progression a year later), so nothing is downloaded. The model is
a standardising Ridge regression: one closed-form fit, deterministic without a seed, so the history is
that one fit ("epoch 1"), and --epochs, --lr and --batch-size (the digits' gradient descent) do not
apply. It trains in one process on the CPU.

The signature is column-based: one double column per feature, named, so serving's /predict takes
`{"inputs": [{"age": 0.04, "sex": 0.05, ...}]}` and MLflow's /invocations formats take the same rows.
Double, not float: pandas and JSON numbers are float64, and a pyfunc refuses a float64 column where
its signature says float (serving converts; a direct `predict` on a DataFrame does not).

numpy, pandas, scikit-learn and mlflow are imported inside the methods: the CLI imports this module first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.config import Device, TrainConfig
from training.errors import UsageError
from training.recipes import Source

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

    from training.recipes import Prepared, Recipe
    from training.world import World

MODEL_ARTIFACT = "model"
RIDGE_ALPHA = 1.0
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class FitMetrics:
    """The fit, validated: root mean squared error on both splits and R² on validation."""

    epoch: int
    train_rmse: float
    val_rmse: float
    val_r2: float

    def logged(self) -> dict[str, float]:
        return {"train_rmse": self.train_rmse, "val_rmse": self.val_rmse, "val_r2": self.val_r2}


class DiabetesRecipe:
    name = "diabetes"
    model_name = "diabetes-regressor"
    experiment = "diabetes"
    metric = "val_r2"  # greater is better (1.0 is perfect; a constant prediction scores 0)
    distributed = False

    def source(self) -> Source:
        import numpy as np
        import sklearn  # type: ignore[import-untyped]
        from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]

        from training.digests import sha256_arrays

        bunch = load_diabetes()
        x, y = bunch.data.astype(np.float64), bunch.target.astype(np.float64)
        description = {
            "name": "sklearn.datasets.load_diabetes",
            "scikit_learn_version": sklearn.__version__,
            "rows": int(x.shape[0]),
            "sha256": sha256_arrays(x, y),
        }
        # scikit-learn ships the columns mean-centred and scaled (scaled=True); the model standardises again.
        return Source(x, y, description, feature_names=tuple(bunch.feature_names), stratify=False)

    def device(self, requested: Device, world: World) -> str:
        if requested == "cuda":
            raise UsageError(f"recipe {self.name} trains on the CPU (scikit-learn): use --device cpu or auto")
        return "cpu"

    def fit(
        self,
        data: Prepared,
        config: TrainConfig,
        device: str,
        world: World,
        on_epoch: Callable[[FitMetrics], object] | None,
    ) -> tuple[Any, list[FitMetrics]]:
        import sys

        import numpy as np
        from sklearn.linear_model import Ridge  # type: ignore[import-untyped]
        from sklearn.metrics import r2_score  # type: ignore[import-untyped]
        from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
        from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

        from training.errors import TrainingError

        model = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=RIDGE_ALPHA))])
        # Fitted on a DataFrame, the model checks the column names of what it is asked to predict.
        model.fit(self._frame(data, data.train.x), data.train.y)
        train_rmse = _rmse(data.train.y, model.predict(self._frame(data, data.train.x)))
        predicted = model.predict(self._frame(data, data.validation.x))
        metrics = FitMetrics(
            1, train_rmse, _rmse(data.validation.y, predicted), float(r2_score(data.validation.y, predicted))
        )
        if not all(np.isfinite(value) for value in metrics.logged().values()):
            raise TrainingError(f"recipe {self.name}: the fit is not finite ({metrics.logged()})")
        if on_epoch is not None:
            on_epoch(metrics)
        if config.progress:
            print(
                f"fit 1/1 train_rmse={metrics.train_rmse:.4f} val_rmse={metrics.val_rmse:.4f} "
                f"{self.metric}={metrics.val_r2:.4f}",
                file=sys.stderr,
                flush=True,
            )
        return model, [metrics]

    def params(self, config: TrainConfig, device: str, world: World) -> dict[str, Any]:
        import sklearn

        return {
            "estimator": "StandardScaler+Ridge",
            "ridge_alpha": RIDGE_ALPHA,
            "device": device,
            "scikit_learn_version": sklearn.__version__,
        }

    def signature(self, data: Prepared) -> ModelSignature:
        from mlflow.models import infer_signature

        # Outputs: one float64 per row, like the targets (and like Ridge's predictions).
        return infer_signature(self._frame(data, data.validation.x[:EXAMPLE_ROWS]), data.validation.y[:EXAMPLE_ROWS])

    def input_example(self, data: Prepared) -> pd.DataFrame:
        return self._frame(data, data.validation.x[:EXAMPLE_ROWS])

    def log_model(self, model: Any, *, signature: ModelSignature, input_example: Any, model_name: str) -> ModelInfo:
        import mlflow.sklearn
        import numpy as np
        import pandas as pd
        import sklearn
        import skops  # type: ignore[import-untyped]

        info: ModelInfo = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=input_example,
            # skops: loading it runs no pickled code (a Ridge pipeline holds only trusted types).
            serialization_format="skops",
            # Explicit requirements skip MLflow's inference, which reloads the model in a subprocess.
            # Serving's image has all four through mlflow: no new dependency there.
            pip_requirements=[
                f"scikit-learn=={sklearn.__version__}",
                f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}",
                f"skops=={skops.__version__}",
            ],
            registered_model_name=model_name,
        )
        return info

    @staticmethod
    def _frame(data: Prepared, x: npt.NDArray[Any]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(x, columns=data.manifest["features"]["names"])


def _rmse(expected: npt.NDArray[Any], predicted: npt.NDArray[Any]) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((np.asarray(expected) - np.asarray(predicted)) ** 2)))


if TYPE_CHECKING:
    _implements: Recipe = DiabetesRecipe()  # mypy checks the class against the protocol
