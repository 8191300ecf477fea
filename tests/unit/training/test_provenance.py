"""training.provenance.collect: what the environment says, and "unknown" where it says nothing."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from contract import provenance as keys
from training.provenance import collect


def packed(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


def test_a_bare_run_says_unknown_and_guesses_nothing(tmp_path: Path) -> None:
    found = collect({}, lock=tmp_path / "absent.txt")
    for key in (keys.IMAGE, keys.IMAGE_ID, keys.LOCK_SHA256, keys.GIT_COMMIT, keys.GIT_DIRTY, keys.GIT_DIFF):
        assert found.tags[key] == "unknown", key
    assert found.diff is None and keys.REPRO_OF not in found.tags


def test_the_lock_digest_is_of_its_pins_not_its_resolver_notes(tmp_path: Path) -> None:
    lock = tmp_path / "devtools-lock.txt"
    lock.write_text("six==1.17.0 \\\n    --hash=sha256:ab\n    # via x\n")
    first = collect({}, lock=lock).tags[keys.LOCK_SHA256]
    lock.write_text("six==1.17.0 \\\n    --hash=sha256:ab\n    # via y\n# devtools lock: inputs sha256=00\n")
    assert collect({}, lock=lock).tags[keys.LOCK_SHA256] == first
    lock.write_text("six==1.16.0 \\\n    --hash=sha256:ab\n")
    assert collect({}, lock=lock).tags[keys.LOCK_SHA256] != first


def test_a_dirty_tree_brings_its_diff_a_clean_one_none(tmp_path: Path) -> None:
    dirty = collect({keys.GIT_COMMIT_ENV: "a" * 40, keys.GIT_DIRTY_ENV: "true", keys.SOURCE_DIFF_ENV: packed("+x\n")})
    assert (dirty.tags[keys.GIT_DIFF], dirty.diff) == ("recorded", "+x\n")
    too_large = collect({keys.GIT_COMMIT_ENV: "a" * 40, keys.GIT_DIRTY_ENV: "true"})
    assert (too_large.tags[keys.GIT_DIFF], too_large.diff) == ("too large", None)
    clean = collect({keys.GIT_COMMIT_ENV: "a" * 40, keys.GIT_DIRTY_ENV: "false", keys.SOURCE_DIFF_ENV: packed("+x")})
    assert (clean.tags[keys.GIT_DIFF], clean.diff) == ("none", None)
    assert collect({keys.REPRO_OF_ENV: "r1"}).tags[keys.REPRO_OF] == "r1"


@pytest.fixture
def task_metadata() -> Iterator[str]:
    """The ECS task metadata endpoint (v4) as ECS and AWS Batch serve it: the container's own record."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"Image": "1.dkr.ecr.eu-west-1.amazonaws.com/training@sha256:" + "c" * 64,
                               "ImageID": "sha256:" + "d" * 64}).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v4/task-id"
    server.shutdown()


def test_on_ecs_the_task_metadata_names_the_image(task_metadata: str) -> None:
    tags = collect({"ECS_CONTAINER_METADATA_URI_V4": task_metadata}).tags
    assert tags[keys.IMAGE].endswith("@sha256:" + "c" * 64) and tags[keys.IMAGE_ID] == "sha256:" + "d" * 64
    # devtools' word wins: it started the container
    assert (
        collect({"ECS_CONTAINER_METADATA_URI_V4": task_metadata, keys.IMAGE_ID_ENV: "sha256:e"}).tags[keys.IMAGE_ID]
        == "sha256:e"
    )


def test_repro_refuses_other_data_than_the_reproduced_run_s() -> None:
    from types import SimpleNamespace

    from training.errors import DataError
    from training.provenance import check_data

    data = SimpleNamespace(digest="a" * 64)
    check_data(data, {})  # type: ignore[arg-type]  # not a repro: any data
    check_data(data, {keys.EXPECT_DATA_DIGEST_ENV: "a" * 64})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="not the reproduced run's bbbbbbbbbbbb"):
        check_data(data, {keys.EXPECT_DATA_DIGEST_ENV: "b" * 64})  # type: ignore[arg-type]
