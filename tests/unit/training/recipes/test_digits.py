"""training.recipes.digits: the digits recipe's source, model and training loop agree with its signature;
the model it registers serves what the trained module computes; each epoch's shards cover the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.training_helpers import require

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import load_prepared  # noqa: E402
from training.recipes import recipe_named  # noqa: E402
from training.recipes.digits.fitting import _EpochOrder  # noqa: E402
from training.recipes.digits.model import DigitsClassifier  # noqa: E402
from training.recording import TrainResult  # noqa: E402
from training.world import World  # noqa: E402


def test_the_signature_the_data_and_the_model_agree(prepared_dir: Path) -> None:
    """What the signature promises serving is what the prepared data holds and what the model takes."""
    data = load_prepared(prepared_dir)
    signature = recipe_named("digits").signature(data)
    [inputs], [outputs] = signature.inputs.to_dict(), signature.outputs.to_dict()
    width, classes = inputs["tensor-spec"]["shape"][1], outputs["tensor-spec"]["shape"][1]
    assert data.validation.x.shape[1] == width and data.validation.x.dtype == np.dtype(inputs["tensor-spec"]["dtype"])
    assert set(np.unique(data.train.y)) == set(range(classes))
    with torch.no_grad():
        scores = DigitsClassifier()(torch.from_numpy(data.validation.x[:3]))
    assert tuple(scores.shape) == (3, classes)


def test_the_served_model_matches_the_pytorch_module(digits_trained: TrainResult, digits_config: TrainConfig) -> None:
    x = load_prepared(digits_config.data_dir).validation.x
    served = mlflow.pyfunc.load_model(f"models:/{digits_config.model_name}@{digits_config.alias}")

    predicted = served.predict(x)

    spec = served.metadata.signature.inputs.to_dict()
    assert spec == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": (-1, 64)}}]
    with torch.no_grad():
        expected = digits_trained.model(torch.from_numpy(x)).numpy()
    assert predicted.shape == (len(x), 10)
    np.testing.assert_allclose(predicted, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(predicted.argmax(axis=1), expected.argmax(axis=1))
    assert served.input_example.shape == (4, 64)  # what serving smoke-tests a new version with


@pytest.mark.parametrize("ranks", [2, 3])
def test_epoch_shards_cover_every_row_and_agree_on_the_permutation(ranks: int) -> None:
    rows = 1437  # the training split: not a multiple of 2 or 3, so the sampler pads
    orders = [_EpochOrder(rows, seed=5, world=World(rank=r, local_rank=r, size=ranks)) for r in range(ranks)]

    for epoch in (1, 2):
        shards = [order.indices(epoch).tolist() for order in orders]
        assert {len(shard) for shard in shards} == {len(orders[0])}  # same number of steps on every rank
        assert set().union(*shards) == set(range(rows))
        assert sum(len(shard) for shard in shards) - rows < ranks  # padding only fills the last step
    assert orders[0].indices(1).tolist() != orders[0].indices(2).tolist()  # reshuffled each epoch
