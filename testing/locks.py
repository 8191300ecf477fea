"""Reading and copying the locks (`devtools lock`) as the tests of every tier need them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from devtools.locks.sets import LOCK_SETS, joint_inputs
from testing.cli_harness import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares it (pip freeze and the locks spell some differently)."""
    return re.sub(r"[-_.]+", "-", name.lower())


def pins(*paths: Path) -> dict[str, str]:
    """name -> version of every package the lock files pin, by normalized name."""
    found = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if match := PIN.match(line):
                found[normalized(match.group(1))] = match.group(2)
    return found


def copy_lock_inputs(dest: Path) -> Path:
    """The locks and every input they are resolved from into `dest`, as a checkout holds them."""
    for name in {*joint_inputs(), *(i for s in LOCK_SETS for i in s.inputs)}:
        source = REPO / name.split("[", 1)[0]
        (dest / source.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, dest / source.relative_to(REPO))
    shutil.copytree(REPO / "locks", dest / "locks")
    return dest
