"""devtools release, the parts without a registry: where it releases to, the manifest it writes and reads,
the dirty-tree rule, and `deploy render ecs --release` naming every image by digest. The Docker tier
pushes for real (tests/docker/test_release.py; this file has its own name: pytest needs unique basenames)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from devtools.deploy import render as render_module
from devtools.deploy.render import render
from devtools.deploy.settings import Options, resolve
from devtools.errors import DevtoolsError, ExitCode
from devtools.release import manifest, publish, registry
from devtools.release.manifest import Release, ReleasedImage
from devtools.revision import Revision
from devtools.stack.config import ComposeConfig

FIXTURES = Path(__file__).parent / "fixtures"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
# Test input in the shape a registry answers (64 hex digits), one per image.
DIGESTS = {"mlstack/mlflow": "a" * 64, "mlstack/serving": "b" * 64, "mlstack/training": "c" * 64}


def prod_config() -> ComposeConfig:
    return ComposeConfig(yaml.safe_load((FIXTURES / "compose_config_prod.yml").read_text().replace("@ROOT@", "/repo")))


def a_release(repositories: dict[str, str] = DIGESTS) -> Release:
    images = [
        ReleasedImage(name.split("/")[1], name, f"{REGISTRY}/{name}:abc1234", f"sha256:{digest}", ["linux/amd64"])
        for name, digest in repositories.items()
    ]
    return Release("mlstack", REGISTRY, "abc1234", "abc1234", False, images)


def test_the_registry_comes_from_the_option_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.ENV, raising=False)
    with pytest.raises(DevtoolsError) as missing:
        registry.resolve(None)
    assert missing.value.code is ExitCode.USAGE and "DEVTOOLS_REGISTRY" in missing.value.message
    monkeypatch.setenv(registry.ENV, "127.0.0.1:5001/")
    assert registry.resolve(None) == "127.0.0.1:5001"
    assert registry.resolve("ghcr.io/team") == "ghcr.io/team"
    with pytest.raises(DevtoolsError, match="without a scheme"):
        registry.resolve("https://127.0.0.1:5001")
    assert registry.is_loopback("127.0.0.1:5001") and not registry.is_loopback(REGISTRY)


def test_the_manifest_round_trips_with_references_by_digest(tmp_path: Path) -> None:
    path = manifest.write(a_release(), tmp_path / "abc1234.json")
    data = json.loads(path.read_text())
    assert data["images"][0]["reference"] == f"{REGISTRY}/mlstack/mlflow@sha256:{'a' * 64}"
    assert manifest.read(path) == a_release()
    assert [p.name for p in tmp_path.iterdir()] == ["abc1234.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{", "not JSON"),
        ('{"schema": 2}', "not a devtools release manifest"),
        ('{"schema": 1, "images": []}', "missing or malformed field"),
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
        "mlstack-serving": f"{REGISTRY}/mlstack/serving@sha256:{'b' * 64}",
        "mlstack-training": f"{REGISTRY}/mlstack/training@sha256:{'c' * 64}",
        "mlstack-seed": f"{REGISTRY}/mlstack/training@sha256:{'c' * 64}",
    }


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
