"""The Fargate task sizes: which memory values each CPU size allows (Linux, platform 1.4+)."""

from __future__ import annotations

# CPU units -> allowed memory in MiB (AWS: "Task CPU and memory" for Fargate).
_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


def _allowed(cpu: int) -> str:
    memory = _MEMORY_BY_CPU[cpu]
    if len(memory) <= 3:
        return ", ".join(str(m) for m in memory)
    return f"{memory[0]}-{memory[-1]} in steps of {memory[1] - memory[0]}"


def check(cpu: int, memory: int) -> None:
    """Raises ValueError naming the allowed values when (cpu, memory) is no Fargate task size."""
    if cpu not in _MEMORY_BY_CPU:
        sizes = ", ".join(str(c) for c in _MEMORY_BY_CPU)
        raise ValueError(f"cpu {cpu} is not a Fargate size (CPU units: {sizes})")
    if memory not in _MEMORY_BY_CPU[cpu]:
        raise ValueError(f"cpu {cpu} with memory {memory} MiB is not a Fargate size (cpu {cpu} allows {_allowed(cpu)})")


def smallest_fitting(cpu: int, memory: int) -> tuple[int, int]:
    """The smallest Fargate size with at least `cpu` units and `memory` MiB."""
    for size, memories in _MEMORY_BY_CPU.items():
        if size < cpu:
            continue
        for allowed in memories:
            if allowed >= memory:
                return size, allowed
    raise ValueError(f"no Fargate size has {cpu} CPU units and {memory} MiB (at most 16384 and 122880)")
