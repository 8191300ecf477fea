"""devtools.engine.inspect: `docker inspect` read into typed values, unknown names left out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from devtools import proc
from devtools.engine import inspect

NVIDIA_REQUESTS = [{"Driver": "nvidia", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}]


class Engine:
    """Answers `docker {image,container} inspect NAME...` from known objects, as docker does: the known
    ones printed, exit 1 when any is unknown."""

    def __init__(self, known: dict[str, dict[str, Any]]) -> None:
        self.known, self.calls = known, []  # type: list[list[str]]

    def run(self, argv: Sequence[str], **_: object) -> proc.Completed:
        self.calls.append(list(argv))
        names = list(argv[3:])
        found = [self.known[name] for name in names if name in self.known]
        code = 0 if len(found) == len(names) else 1
        return proc.Completed(tuple(argv), code, json.dumps(found), "" if code == 0 else "Error: No such object")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Engine:
    fake = Engine(
        {
            "mlstack/serving:dev": {
                "Id": "sha256:aa",
                "Os": "linux",
                "Architecture": "arm64",
                "Variant": "v8",
                "Config": {"Labels": {"devtools.fingerprint": "f00"}, "Volumes": {"/cache": {}}},
                "RepoDigests": ["127.0.0.1:5001/mlstack/serving@sha256:bb", "other/serving@sha256:cc"],
            },
            "node-1": {
                "Name": "/node-1",
                "State": {
                    "Status": "exited",
                    "ExitCode": 137,
                    "FinishedAt": "2026-12-05T10:00:01Z",
                    "OOMKilled": True,
                    "Health": {"Status": "unhealthy", "Log": [{"Output": "first"}, {"Output": "refused"}]},
                },
                "Config": {"Healthcheck": {"Test": ["CMD", "http-ok", "http://127.0.0.1:8080/ready"]}},
                "HostConfig": {"Memory": 2**30, "DeviceRequests": NVIDIA_REQUESTS},
            },
        }
    )
    monkeypatch.setattr(proc, "run", fake.run)
    return fake


def test_an_image_is_read_into_typed_facts(engine: Engine) -> None:
    image = inspect.image("mlstack/serving:dev")
    assert image is not None
    assert image.platform == "linux/arm64/v8" and image.labels == {"devtools.fingerprint": "f00"}
    assert image.volumes == frozenset({"/cache"})
    assert image.digest_in("127.0.0.1:5001/mlstack/serving") == "sha256:bb"
    assert image.digest_in("127.0.0.1:5001/mlstack/training") is None


def test_a_container_is_read_into_typed_facts(engine: Engine) -> None:
    node = inspect.container("node-1")
    assert node is not None and not node.running
    assert (node.name, node.exit_code, node.oom_killed, node.memory_limit) == ("node-1", 137, True, 2**30)
    assert (node.health, node.health_output) == ("unhealthy", "refused")
    assert node.healthcheck[0] == "CMD" and node.gpu_requested


def test_unknown_names_are_absent_and_known_ones_still_answered(engine: Engine) -> None:
    assert inspect.image("nope:latest") is None
    found = inspect.containers("node-1", "gone")
    assert list(found) == ["node-1"]
    assert engine.calls[-2:] == [
        ["docker", "container", "inspect", "node-1"],
        ["docker", "container", "inspect", "gone"],
    ]


@pytest.mark.parametrize(
    ("requests", "has_gpus"),
    [
        (None, False),
        ([], False),
        (NVIDIA_REQUESTS, True),
        ([{"Driver": "", "Count": 0, "DeviceIDs": ["0", "1"], "Capabilities": [["gpu", "utility"]]}], True),
        ([{"Driver": "cdi", "DeviceIDs": ["vendor.com/fpga=0"], "Capabilities": None}], False),
    ],
)
def test_gpu_requests_are_read_from_the_device_requests(
    monkeypatch: pytest.MonkeyPatch, requests: object, has_gpus: bool
) -> None:
    engine = Engine(
        {"c0ffee": {"Name": "/c", "State": {"Status": "running"}, "HostConfig": {"DeviceRequests": requests}}}
    )
    monkeypatch.setattr(proc, "run", engine.run)
    found = inspect.container("c0ffee")
    assert found is not None and found.gpu_requested is has_gpus
