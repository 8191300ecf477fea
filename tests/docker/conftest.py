"""Docker tier fixtures; the harness lives in stack_harness.py (see tests/unit/conftest.py for why)."""

from stack_harness import postgres, prod_images, stack, stack_env  # noqa: F401
