"""What `devtools deploy` needs of a deploy target: a place production runs.

A target is a package under devtools/deploy/targets/ whose `commands` module has these members, and
one line in targets/__init__.py's TARGETS. It reads the target-neutral workloads (workload.py: Compose
and its `x-deploy` keys) plus its own extension key, and owns everything else about itself: its
documents, their validation, how they are applied, and how they run on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class DeployTarget(Protocol):
    NAME: str  # `devtools deploy render NAME`; its documents go to build/NAME unless told otherwise

    # Typer commands: their parameters are the command's options, their docstrings its help.
    render: Callable[..., Any]  # `deploy render NAME`: the prod Compose file -> validated documents
    apply: Callable[..., Any]  # `deploy apply`: the documents -> the target, changing only what differs
    run_local: Callable[..., Any]  # `deploy run-local`: the documents on this engine, as the target runs them
