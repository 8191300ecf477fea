"""Unit tier fixtures; the harness lives in cli_harness.py (a unique module name: several conftest.py
files in one run would shadow each other under `from conftest import ...`)."""

import pytest
from cli_harness import cli, docker, stack_root  # noqa: F401  (pytest fixtures)

from devtools.engine import facts


@pytest.fixture(autouse=True)
def _fresh_engine_facts() -> None:
    """The engine's facts are cached per run (one docker call each); every test is a new run."""
    facts.current.cache_clear()
