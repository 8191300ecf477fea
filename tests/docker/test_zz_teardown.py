"""Runs last (file order): `devtools down -v` removes every container, network and volume of the project."""

from __future__ import annotations

from testing.stack_harness import Stack, project_resources


def test_down_volumes_leaves_nothing_of_the_project(stack: Stack) -> None:
    assert project_resources()["volumes"], "the stack should have created its volumes"
    stack.devtools("down", "-v")
    assert project_resources() == {"containers": [], "networks": [], "volumes": []}
