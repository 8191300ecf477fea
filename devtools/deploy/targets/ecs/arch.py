"""The CPU architectures Fargate runs; a module of its own so the CLI can name them at import time."""

from __future__ import annotations

from enum import Enum


class Arch(str, Enum):
    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def ecs(self) -> str:
        """The runtimePlatform.cpuArchitecture value."""
        return "X86_64" if self is Arch.X86_64 else "ARM64"

    @property
    def platform(self) -> str:
        """The image platform a task of this architecture pulls from an image index."""
        return "linux/amd64" if self is Arch.X86_64 else "linux/arm64"
