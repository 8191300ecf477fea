"""Compose's duration and size notations, in the units a workload is sized in: seconds, CPU units (1024
per vCPU) and MiB."""

from __future__ import annotations

import math
import re

# `docker compose config` writes durations the Go way ("1m0s", "1m30s", "500ms").
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_BYTES_PER_UNIT = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
}
_MIB = 1024**2


def seconds(value: object) -> float:
    """A Compose duration in seconds; a bare number is taken as seconds."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a duration")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"'{value}' is not a duration (like 10s, 1m30s)")
    return sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts)


def whole_seconds(value: object) -> int:
    """Rounded up: a 2.5 s timeout must not become a 2 s one."""
    return math.ceil(seconds(value))


def cpu_units(value: object) -> int:
    """CPU units (1024 per vCPU) from an integer of units, or '0.5 vCPU'."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a CPU size")
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text.endswith("vcpu"):
        return round(float(text.removesuffix("vcpu").strip()) * 1024)
    if text.isdigit():
        return int(text)
    raise ValueError(f"'{value}' is not a CPU size (CPU units like 1024, or '1 vCPU')")


def vcpus_to_units(value: object) -> int:
    """Compose `deploy.resources.limits.cpus` (a fraction of CPUs) in CPU units, rounded up."""
    try:
        return math.ceil(float(str(value)) * 1024)
    except ValueError:
        raise ValueError(f"'{value}' is not a CPU count") from None


def mebibytes(value: object) -> int:
    """Memory in MiB from an integer of MiB, or a size with a unit ('2GB', '512 MiB')."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a memory size")
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(str(value).strip().lower())
    if not match or match.group(2) not in _BYTES_PER_UNIT:
        raise ValueError(f"'{value}' is not a memory size (MiB like 2048, or '2GB')")
    number, unit = float(match.group(1)), match.group(2)
    # A bare number means MiB here, as cloud task sizes are written.
    return math.ceil(number if unit == "" else number * _BYTES_PER_UNIT[unit] / _MIB)


def compose_bytes_to_mib(value: object) -> int:
    """Compose `deploy.resources.limits.memory` (bytes, or a size with a unit) in MiB, rounded up."""
    match = _SIZE.fullmatch(str(value).strip().lower())
    if isinstance(value, bool) or not match or match.group(2) not in _BYTES_PER_UNIT:
        raise ValueError(f"'{value}' is not a memory size")
    return math.ceil(float(match.group(1)) * _BYTES_PER_UNIT[match.group(2)] / _MIB)
