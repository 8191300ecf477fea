"""The ECS target's Fargate task sizes: valid pairs, the refusals, the smallest that fits."""

from __future__ import annotations

import pytest

from devtools.deploy.targets.ecs import fargate


@pytest.mark.parametrize(("cpu", "memory"), [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (4096, 30720)])
def test_valid_fargate_sizes(cpu: int, memory: int) -> None:
    fargate.check(cpu, memory)


@pytest.mark.parametrize(
    ("cpu", "memory", "message"),
    [
        (256, 4096, "cpu 256 allows 512, 1024, 2048"),
        (1024, 1024, "cpu 1024 allows 2048-8192 in steps of 1024"),
        (2048, 4500, "2048"),
        (300, 1024, "not a Fargate size"),
    ],
)
def test_invalid_fargate_sizes_name_what_is_allowed(cpu: int, memory: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fargate.check(cpu, memory)


def test_smallest_fitting_fargate_size() -> None:
    assert fargate.smallest_fitting(100, 700) == (256, 1024)
    assert fargate.smallest_fitting(512, 3000) == (512, 3072)
    assert fargate.smallest_fitting(1024, 9000) == (2048, 9216)
    with pytest.raises(ValueError):
        fargate.smallest_fitting(16384, 200_000)
