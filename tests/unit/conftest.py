"""Unit tier fixtures; the harness lives in cli_harness.py (a unique module name: several conftest.py
files in one run would shadow each other under `from conftest import ...`)."""

from cli_harness import cli, docker, stack_root  # noqa: F401  (pytest fixtures)
