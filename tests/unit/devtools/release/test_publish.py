"""devtools release, the parts without a registry: where it releases to, the manifest it writes and reads,
the dirty-tree rule, and `deploy render ecs --release` naming every image by digest. The Docker tier
pushes for real (tests/docker/test_release.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from devtools import proc
from devtools.deploy.targets.ecs import render as render_module
from devtools.deploy.targets.ecs.arch import Arch
from devtools.deploy.targets.ecs.render import render
from devtools.deploy.targets.ecs.settings import Options, resolve
from devtools.engine.api import Distribution, EngineApi
from devtools.errors import DevtoolsError, ExitCode
from devtools.registry import endpoint
from devtools.registry.push import Pusher
from devtools.release import manifest, publish
from devtools.release.manifest import PlatformImage, Release, ReleasedImage
from devtools.revision import Revision
from devtools.stack.config import ComposeConfig
from testing.cli_harness import FIXTURES as UNIT_FIXTURES

FIXTURES = UNIT_FIXTURES
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
# Test input in the shape a registry answers (64 hex digits), one per image.
DIGESTS = {"mlstack/mlflow": "a" * 64, "mlstack/serving": "b" * 64, "mlstack/training": "c" * 64}


def prod_config() -> ComposeConfig:
    return ComposeConfig(yaml.safe_load((FIXTURES / "compose_config_prod.yml").read_text().replace("@ROOT@", "/repo")))


def a_release(repositories: dict[str, str] = DIGESTS, platforms: tuple[str, ...] = ("linux/amd64",)) -> Release:
    """One image per repository; with several platforms an index (its digest) over one image each."""
    images = []
    for name, digest in repositories.items():
        service = name.split("/")[1]
        if len(platforms) == 1:
            variants = [
                PlatformImage(platforms[0], f"sha256:{digest}", f"abc1234/{service}.cdx.json", {"os": "Debian"})
            ]
        else:
            variants = [
                PlatformImage(platform, f"sha256:{digest[:-1]}{n}", f"abc1234/{service}.{n}.cdx.json")
                for n, platform in enumerate(platforms)
            ]
        images.append(ReleasedImage(service, name, f"{REGISTRY}/{name}:abc1234", f"sha256:{digest}", variants))
    return Release("mlstack", REGISTRY, "abc1234", "abc1234", False, images)


def test_the_registry_comes_from_the_option_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(endpoint.ENV, raising=False)
    with pytest.raises(DevtoolsError) as missing:
        endpoint.resolve(None)
    assert missing.value.code is ExitCode.USAGE and "DEVTOOLS_REGISTRY" in missing.value.message
    monkeypatch.setenv(endpoint.ENV, "127.0.0.1:5001/")
    assert endpoint.resolve(None) == "127.0.0.1:5001"
    assert endpoint.resolve("ghcr.io/team") == "ghcr.io/team"
    with pytest.raises(DevtoolsError, match="without a scheme"):
        endpoint.resolve("https://127.0.0.1:5001")
    assert endpoint.is_loopback("127.0.0.1:5001") and not endpoint.is_loopback(REGISTRY)


def test_the_manifest_round_trips_with_references_by_digest(tmp_path: Path) -> None:
    path = manifest.write(a_release(), tmp_path / "abc1234.json")
    data = json.loads(path.read_text())
    assert data["images"][0]["reference"] == f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}"
    assert data["images"][0]["platforms"] == ["linux/amd64"]
    assert manifest.read(path) == a_release()
    assert [p.name for p in tmp_path.iterdir()] == ["abc1234.json"]  # no temporary file left


def test_a_release_of_some_services_keeps_the_others_of_the_same_revision(tmp_path: Path) -> None:
    path = manifest.write(a_release(), tmp_path / "abc1234.json")
    base = a_release({"mlstack/base": "d" * 64, "mlstack/mlflow": "e" * 64})
    merged = manifest.with_earlier(base, path)
    by_repository = merged.by_repository()
    assert sorted(by_repository) == ["mlstack/base", "mlstack/mlflow", "mlstack/serving", "mlstack/training"]
    assert by_repository["mlstack/mlflow"].digest == f"sha256:{'e' * 64}"  # the new one wins
    assert by_repository["mlstack/serving"].digest == f"sha256:{'b' * 64}"
    elsewhere = replace(base, registry="ghcr.io/team")  # another registry: the earlier file is not about it
    assert manifest.with_earlier(elsewhere, path) == elsewhere
    path.write_text("{")
    assert manifest.with_earlier(base, path) == base


def test_a_multi_platform_manifest_names_the_index_and_keeps_each_platforms_image(tmp_path: Path) -> None:
    both = a_release(platforms=("linux/amd64", "linux/arm64"))
    path = manifest.write(both, tmp_path / "abc1234.json")
    [mlflow, *_] = json.loads(path.read_text())["images"]
    assert mlflow["reference"] == f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}"  # the index
    assert mlflow["platforms"] == ["linux/amd64", "linux/arm64"]
    assert [v["digest"] for v in mlflow["variants"]] == [f"sha256:{'a' * 63}0", f"sha256:{'a' * 63}1"]
    assert manifest.read(path) == both


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{", "not JSON"),
        ('{"schema": "2"}', "not a devtools release manifest"),
        ('{"schema": 1, "images": []}', "written by another devtools .schema 1, this one reads 2."),
        ('{"schema": 2, "images": []}', "missing or malformed field"),
        (
            '{"schema": 2, "project": "p", "registry": "r", "tag": "t", "revision": "t", "dirty": false, "images": '
            '[{"service": "s", "repository": "p/s", "image": "r/p/s:t", "digest": "sha256:' + "a" * 64 + '", '
            '"variants": [{"platform": "linux/amd64", "digest": "sha256:abc"}]}]}',
            "s has no sha256 digest",
        ),
    ],
)
def test_a_bad_manifest_is_one_usage_line(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(DevtoolsError, match=said) as error:
        manifest.read(path)
    assert error.value.code is ExitCode.USAGE


def test_a_dirty_tree_is_refused_without_allow_dirty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Revision, "of", classmethod(lambda cls, root: cls("abc1234", dirty=True)))
    with pytest.raises(DevtoolsError) as error:
        publish.release([], registry_option="127.0.0.1:5001", allow_dirty=False, report=print)
    assert error.value.code is ExitCode.USAGE
    assert "--allow-dirty" in error.value.message and "abc1234-dirty" in error.value.message


def test_render_with_a_release_names_every_image_by_digest() -> None:
    config = prod_config()
    settings = resolve(Options(region="eu-west-1"), {}, project="mlstack", tag="abc1234")
    released = render_module.released_images(config, a_release(), Path("abc1234.json"))
    rendered = render(config, replace(settings, images=released))
    images = {
        document.params["family"]: document.params["containerDefinitions"][0]["image"]
        for document in rendered.documents
        if document.operation == "RegisterTaskDefinition"
    }
    assert images == {
        "mlstack-mlflow": f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}",
        "mlstack-mlflow-access": f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}",
        "mlstack-serving": f"{REGISTRY}/mlstack/serving@sha256:{'b' * 64}",
        "mlstack-training": f"{REGISTRY}/mlstack/training@sha256:{'c' * 64}",
        "mlstack-seed": f"{REGISTRY}/mlstack/training@sha256:{'c' * 64}",
    }


def test_render_refuses_a_release_without_the_tasks_architecture() -> None:
    amd64_only = a_release()
    with pytest.raises(DevtoolsError) as error:
        render_module.released_images(prod_config(), amd64_only, Path("abc1234.json"), Arch.ARM64)
    assert error.value.code is ExitCode.USAGE
    assert "mlstack/mlflow has linux/amd64, not linux/arm64 that the arm64 tasks run" in error.value.message
    both = a_release(platforms=("linux/amd64", "linux/arm64"))
    assert render_module.released_images(prod_config(), both, Path("abc1234.json"), Arch.ARM64)["mlstack/mlflow"] == (
        f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}"
    )


def test_render_refuses_a_release_that_lacks_a_deployed_image() -> None:
    partial = a_release({"mlstack/mlflow": "a" * 64})
    with pytest.raises(DevtoolsError) as error:
        render_module.released_images(prod_config(), partial, Path("abc1234.json"))
    assert error.value.code is ExitCode.USAGE
    assert "is not in it (it has mlstack/mlflow); release it with `devtools release`" in error.value.message


APT_UPGRADE = """Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  libssl3 zlib1g
Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Conf zlib1g (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
"""


def test_pending_security_updates_are_read_from_apts_simulated_upgrade() -> None:
    from devtools.release.scan import ImageScan, OsUpdate, parse_pending

    found = parse_pending(APT_UPGRADE)
    assert found == [
        OsUpdate("zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1"),
        OsUpdate("libssl3", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2"),
    ]
    result = ImageScan("mlstack/serving:abc", "Debian GNU/Linux 12 (bookworm)", found, python_note="not checked: x")
    assert result.fixable == 2
    assert result.summary().startswith("mlstack/serving:abc: 2 OS packages with a pending Debian security update")
    unchecked = ImageScan("alpine:3", "", os_note="the image has no apt (not Debian-based)", python_note="n")
    assert unchecked.fixable == 0 and "OS packages not checked: the image has no apt" in unchecked.summary()


class FakeRegistry(EngineApi):
    """Stands in for EngineApi.distribution: what the registry answers for each reference."""

    def __init__(self, answers: dict[str, Distribution]) -> None:
        super().__init__(client=object())
        self.answers = answers

    def distribution(self, reference: str) -> Distribution:
        return self.answers[reference]


INDEX = "127.0.0.1:5001/mlstack/base:abc1234"
MEMBERS = [f"{INDEX}-amd64", f"{INDEX}-arm64"]
INDEX_DIGEST = f"sha256:{'f' * 64}"
PLATFORMS = ["linux/amd64", "linux/arm64"]


def manifest_commands(monkeypatch: pytest.MonkeyPatch, pushed: str = INDEX_DIGEST) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: list[str], **_: object) -> proc.Completed:
        calls.append(list(argv))
        return proc.Completed(tuple(argv), 0, f"{pushed}\n" if argv[2] == "push" else "", "")

    monkeypatch.setattr(proc, "run", run)
    return calls


def test_an_index_is_created_afresh_pushed_and_read_back_with_every_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = manifest_commands(monkeypatch)
    held = FakeRegistry({INDEX: Distribution(INDEX_DIGEST, "application/vnd.oci.image.index.v1+json", PLATFORMS)})
    digest = Pusher("127.0.0.1:5001", engine=held).push_index(INDEX, MEMBERS, PLATFORMS)
    assert digest == INDEX_DIGEST
    assert calls == [
        ["docker", "manifest", "rm", INDEX],  # a list an interrupted release left behind
        ["docker", "manifest", "create", "--insecure", INDEX, *MEMBERS],
        ["docker", "manifest", "push", "--insecure", "--purge", INDEX],
    ]


@pytest.mark.parametrize(
    ("held", "said"),
    [
        (Distribution(f"sha256:{'0' * 64}", "", PLATFORMS), f"the registry holds sha256:{'0' * 64}, not the"),
        (
            Distribution(INDEX_DIGEST, "", ["linux/amd64"]),
            "the registry's index holds linux/amd64, not linux/amd64, linux/arm64",
        ),
    ],
)
def test_an_index_the_registry_holds_otherwise_is_refused(
    monkeypatch: pytest.MonkeyPatch, held: Distribution, said: str
) -> None:
    manifest_commands(monkeypatch)
    with pytest.raises(DevtoolsError, match=said) as error:
        Pusher("127.0.0.1:5001", engine=FakeRegistry({INDEX: held})).push_index(INDEX, MEMBERS, PLATFORMS)
    assert error.value.code is ExitCode.REGISTRY
