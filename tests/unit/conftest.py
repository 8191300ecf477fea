"""Unit tier fixtures; the harness lives in testing/cli_harness.py."""

import pytest

from devtools.engine import facts
from testing.cli_harness import cli, docker, stack_root  # noqa: F401  (pytest fixtures)


@pytest.fixture(autouse=True)
def _fresh_engine_facts() -> None:
    """The engine's facts are cached per run (one docker call each); every test is a new run."""
    facts.current.cache_clear()
