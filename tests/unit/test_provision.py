"""scripts/provision's platform branches (`scripts/provision plan`), on recorded `uname -s` answers: a Mac
gets no `+cpu` torch (PyPI's macOS wheels are CPU builds, and no `+cpu` one exists) and is told to
install Docker Desktop; Linux keeps the CPU build and the wheelhouse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def plan(tmp_path: Path, system: str) -> list[str]:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "uname").write_text(f"#!/bin/sh\necho {system}\n")
    (fake / "uname").chmod(0o755)
    done = subprocess.run(
        [str(REPO / "scripts" / "provision"), "plan"],
        capture_output=True,
        text=True,
        env={"PATH": f"{fake}:/usr/bin:/bin"},
        check=True,
    )
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("system", "torch", "engine"),
    [("Darwin", "torch==", "Docker Desktop"), ("Linux", "+cpu", "Docker Engine")],
)
def test_each_host_gets_the_torch_it_can_install(tmp_path: Path, system: str, torch: str, engine: str) -> None:
    lines = plan(tmp_path, system)
    assert lines[0] == f"host: {system}"
    venv = lines[1].removeprefix("venv torch: ")
    assert venv.startswith("torch==") and (venv.endswith("+cpu") == (system == "Linux"))
    assert engine in lines[2]
    assert ("skipped" in lines[3]) == (system == "Darwin")
