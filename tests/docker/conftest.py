"""Docker tier fixtures; the harness lives in testing/stack_harness.py."""

from testing.stack_harness import postgres, prod_images, stack, stack_env  # noqa: F401
