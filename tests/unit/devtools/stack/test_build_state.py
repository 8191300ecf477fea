"""devtools.stack.build_state: an image's fingerprint (staleness, the prebuilt tag) follows its lock's
pins and hashes, not the notes a relock rewrites in every lock."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from devtools.stack.build_state import fingerprint
from testing.cli_harness import REPO

SERVING: dict[str, Any] = {
    "build": {"context": ".", "dockerfile": "docker/serving/Dockerfile", "target": "prod"},
    "x-devtools": {"build-inputs": ["docker/serving", "locks/serving.linux-amd64.txt"]},
}


def test_a_locks_pins_count_and_its_resolver_notes_do_not(tmp_path: Path) -> None:
    shutil.copytree(REPO / "docker" / "serving", tmp_path / "docker" / "serving")
    (tmp_path / "locks").mkdir()
    lock = tmp_path / "locks" / "serving.linux-amd64.txt"
    shutil.copy(REPO / "locks" / "serving.linux-amd64.txt", lock)
    before = fingerprint(tmp_path, SERVING)

    # What a relock of another image rewrites here: the `via` notes and the inputs digest.
    text = lock.read_text()
    lock.write_text(text.replace("    # via", "    # via (another)").replace("inputs sha256=", "inputs sha256=0"))
    assert fingerprint(tmp_path, SERVING) == before

    lock.write_text(text.replace("six==", "six==0.", 1) if "six==" in text else text + "six==1.17.0\n")
    assert fingerprint(tmp_path, SERVING) != before  # another package set: another image, another tag
    lock.write_text(text + "# a line of its own\n")
    assert fingerprint(tmp_path, SERVING) != before
