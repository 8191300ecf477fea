"""Prebuilt images, the parts without a registry: what `up` does with each answer a pull can get (the
process choke point replaced), and what `doctor` says the registry holds. The real registry:
tests/docker/test_prebuilt.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from devtools.engine.api import Distribution, EngineApi, RegistryAnswer
from devtools.progress import Board
from devtools.registry import prebuilt
from devtools.stack.build_state import BuildState, Wanted, wanted
from devtools.stack.project import ComposeProject
from devtools.stack.start import build_stale
from testing.cli_harness import FakeDocker, recorded_config

REGISTRY = "127.0.0.1:5001"


@pytest.fixture
def dev(docker: FakeDocker, stack_root: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    monkeypatch.setenv("DEVTOOLS_REGISTRY", REGISTRY)
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev"))
    docker.allow(["build"])  # what the registry does not have is built
    docker.allow_docker(["tag"], ["rmi"], ["push"])
    return docker


def wanted_images(stack_root: Path) -> dict[str, Wanted]:
    project = ComposeProject.dev(stack_root)
    config = project.config()
    return {image.service: image for image in wanted(project, config, list(config.services))}


def answer_pulls(docker: FakeDocker, stack_root: Path, pulls: dict[str, tuple[int, str]], label: str = "") -> None:
    """`docker pull` of each service's prebuilt tag answers (exit code, stderr); inspect answers the
    fingerprint label (the right one unless `label`) and a repo digest."""
    for service, image in wanted_images(stack_root).items():
        remote = prebuilt.tag_in(REGISTRY, image, "dev")
        code, said = pulls.get(service, (1, "Error response from daemon: manifest unknown: manifest unknown"))
        docker.respond(
            lambda argv, r=remote: argv[:3] == ["docker", "pull", "-q"] and argv[3] == r, stderr=said, returncode=code
        )
        pulled = {
            "Id": "sha256:" + "1" * 64,
            "Config": {"Labels": {prebuilt.LABEL: label or image.fingerprint}},
            "RepoDigests": [f"{remote.rsplit(':', 1)[0]}@sha256:{'0' * 64}"],
        }
        docker.respond(lambda argv, r=remote: argv == ["docker", "image", "inspect", r], stdout=json.dumps([pulled]))


def stale_build(stack_root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    project = ComposeProject.dev(stack_root)
    built = build_stale(project, project.config(), [], prebuilt.source_for(project))
    return built, capsys.readouterr().err


def builds(docker: FakeDocker) -> list[list[str]]:
    return [args for args in docker.compose_calls() if "build" in args]


def test_images_the_registry_holds_for_these_inputs_are_pulled_not_built(
    dev: FakeDocker, stack_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_pulls(dev, stack_root, {"base": (0, ""), "mlflow": (0, "")})
    built, said = stale_build(stack_root, capsys)
    assert built == ["serving", "training"]  # the registry had no image for their inputs
    assert builds(dev) == [["build", "serving", "training"]]
    images = wanted_images(stack_root)
    assert ["docker", "tag", prebuilt.tag_in(REGISTRY, images["mlflow"], "dev"), "mlstack/mlflow:dev"] in dev.calls
    assert f"mlflow: pulled {REGISTRY}/mlstack/mlflow@sha256:" in said
    assert "serving: no prebuilt image for these inputs: building" in said
    state = BuildState(ComposeProject.dev(stack_root))
    assert state.source("mlstack/mlflow:dev") == f"{REGISTRY}/mlstack/mlflow@sha256:{'0' * 64}"


def test_an_image_whose_fingerprint_label_differs_is_removed_and_built(
    dev: FakeDocker, stack_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_pulls(dev, stack_root, {name: (0, "") for name in ("base", "mlflow", "serving", "training")}, label="f" * 64)
    built, said = stale_build(stack_root, capsys)
    assert built == ["base", "mlflow", "serving", "training"]
    remote = prebuilt.tag_in(REGISTRY, wanted_images(stack_root)["mlflow"], "dev")
    assert ["docker", "rmi", remote] in dev.calls
    assert not [argv for argv in dev.calls if argv[:2] == ["docker", "tag"]]  # nothing of it is used
    assert "mlflow: prebuilt image not used: its devtools.fingerprint label is not these inputs'" in said


@pytest.mark.parametrize(
    ("said", "meaning"),
    [
        (
            'Error response from daemon: Get "http://127.0.0.1:5001/v2/": dial tcp: connect: connection refused',
            "unreachable",
        ),
        ("Error response from daemon: Head ...: no basic auth credentials", "not logged in"),
    ],
)
def test_an_unusable_registry_is_one_line_and_everything_is_built(
    dev: FakeDocker, stack_root: Path, capsys: pytest.CaptureFixture[str], said: str, meaning: str
) -> None:
    answer_pulls(dev, stack_root, {name: (1, said) for name in ("base", "mlflow", "serving", "training")})
    built, shown = stale_build(stack_root, capsys)
    assert built == ["base", "mlflow", "serving", "training"]
    notes = [line for line in shown.splitlines() if line.startswith("prebuilt images:")]
    assert len(notes) == 1 and notes[0].startswith(f"prebuilt images: {REGISTRY} {meaning} (")
    assert notes[0].endswith("; building locally")


def test_without_a_registry_nothing_is_pulled(docker: FakeDocker, stack_root: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("DEVTOOLS_REGISTRY", raising=False)
    docker.respond_to(["config"], stdout=recorded_config(stack_root, "dev"))
    docker.allow(["build"])
    built, _ = stale_build(stack_root, capsys)
    assert built == ["base", "mlflow", "serving", "training"]
    assert not [argv for argv in docker.calls if argv[:2] == ["docker", "pull"]]


def test_publish_builds_for_uid_1000_with_labels_and_pushes_both_tags(
    dev: FakeDocker, stack_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("devtools.stack.project.host_ids", lambda: (1234, 1234))
    digest = f"sha256:{'0' * 64}"
    dev.respond(
        lambda argv: argv[:3] == ["docker", "image", "inspect"],
        stdout=json.dumps(
            [{"RepoDigests": [f"{REGISTRY}/mlstack/base@{digest}", f"{REGISTRY}/mlstack/mlflow@{digest}"]}]
        ),
    )
    monkeypatch.setattr("devtools.registry.push.EngineApi", lambda: FakeRegistry({"base", "mlflow"}))
    lines = prebuilt.publish(REGISTRY, ["mlflow"], Board(io.StringIO(), live=False))
    [build] = [argv for argv in dev.calls if "build" in argv]
    [labels_file] = [Path(arg) for arg in build if arg.endswith("build-labels-mlstack.yml")]
    labels = json.loads(labels_file.read_text())["services"]
    assert sorted(labels) == ["base", "mlflow"]
    [env] = [env for argv, env in zip(dev.calls, dev.envs, strict=True) if "build" in argv]
    assert env["DEVTOOLS_UID"] == env["DEVTOOLS_GID"] == "1000"  # not the host's 1234
    images = {
        image.service: image
        for image in wanted(
            ComposeProject.dev(stack_root).with_env(DEVTOOLS_UID="1000", DEVTOOLS_GID="1000"),
            ComposeProject.dev(stack_root).config(),
            ["base", "mlflow"],
        )
    }
    assert labels["mlflow"]["build"]["labels"] == {"devtools.fingerprint": images["mlflow"].fingerprint}
    pushed = [argv[-1] for argv in dev.calls if argv[:2] == ["docker", "push"]]
    assert pushed == [
        prebuilt.tag_in(REGISTRY, images["base"], "dev"),
        f"{REGISTRY}/mlstack/base:dev",
        prebuilt.tag_in(REGISTRY, images["mlflow"], "dev"),
        f"{REGISTRY}/mlstack/mlflow:dev",
    ]
    assert lines[-1] == f"mlflow: {prebuilt.tag_in(REGISTRY, images['mlflow'], 'dev')} (and :dev)"


class FakeRegistry(EngineApi):
    def __init__(self, held: set[str], refusal: str = "") -> None:
        super().__init__(client=object())
        self.held, self.refusal = held, refusal

    def distribution(self, reference: str) -> Distribution:
        if self.refusal:
            raise RegistryAnswer(self.refusal)
        if reference.rsplit(":", 1)[0].rsplit("/", 1)[-1] in self.held:
            return Distribution(f"sha256:{'0' * 64}", "application/vnd.docker.distribution.manifest.v2+json", [])
        raise RegistryAnswer("manifest unknown: manifest unknown")


def test_doctor_says_how_many_images_the_registry_holds_for_these_inputs(
    dev: FakeDocker, stack_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools import checks

    project = ComposeProject.dev(stack_root)
    config = project.config()
    monkeypatch.setattr("devtools.engine.api.EngineApi", lambda: FakeRegistry({"base", "mlflow"}))
    check = checks.check_prebuilt(project, config)
    assert (
        check.ok
        and check.detail == f"2 of 4 in {REGISTRY} for these inputs; built here, from its layers: serving, training"
    )
    monkeypatch.setattr(
        "devtools.engine.api.EngineApi", lambda: FakeRegistry(set(), "unauthorized: authentication required")
    )
    check = checks.check_prebuilt(project, config)
    assert not check.ok and check.detail == f"{REGISTRY} refused the credentials" and "docker login" in check.fix
    monkeypatch.delenv("DEVTOOLS_REGISTRY")
    assert checks.check_prebuilt(project, config).detail.startswith("no team registry (DEVTOOLS_REGISTRY unset)")
