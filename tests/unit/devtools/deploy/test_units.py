"""devtools.deploy.units: Compose durations and sizes in seconds, CPU units and MiB."""

from __future__ import annotations

import pytest

from devtools.deploy import units


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10s", 10), ("1m0s", 60), ("1m30s", 90), ("1h0m0s", 3600), ("500ms", 0.5), ("2.5s", 2.5), (15, 15), ("7", 7)],
)
def test_compose_durations_in_seconds(text: object, expected: float) -> None:
    assert units.seconds(text) == expected


@pytest.mark.parametrize("text", ["", "ten seconds", "10x", "1m 30s", True])
def test_malformed_durations_are_rejected(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        units.seconds(text)


def test_whole_seconds_round_up() -> None:
    assert units.whole_seconds("2500ms") == 3


@pytest.mark.parametrize(("value", "expected"), [(1024, 1024), ("512", 512), ("1 vCPU", 1024), ("0.25 vcpu", 256)])
def test_cpu_units(value: object, expected: int) -> None:
    assert units.cpu_units(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(2048, 2048), ("2048", 2048), ("2GB", 2048), ("2 GiB", 2048), ("512MiB", 512)]
)
def test_memory_in_mib(value: object, expected: int) -> None:
    assert units.mebibytes(value) == expected


def test_compose_limits_convert_to_ecs_units() -> None:
    assert units.vcpus_to_units("0.5") == 512
    assert units.compose_bytes_to_mib("536870912") == 512
    assert units.compose_bytes_to_mib("1g") == 1024
