"""contract.gpus: the one spelling of "every GPU the container sees", and torchrun's, both understood."""

from __future__ import annotations

import pytest
from contract.gpus import ALL_GPUS, TORCHRUN_ALL, means_all_gpus


def test_the_spellings() -> None:
    assert (ALL_GPUS, TORCHRUN_ALL) == ("all", "gpu")


@pytest.mark.parametrize(
    ("text", "all_gpus"), [("all", True), ("gpu", True), ("2", False), ("ALL", False), ("", False)]
)
def test_which_values_mean_every_gpu(text: str, all_gpus: bool) -> None:
    assert means_all_gpus(text) is all_gpus
