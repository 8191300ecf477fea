"""devtools.locks: the locks in the repository match their inputs (the CI check), every package is pinned
with its hashes, the packages images share have one version everywhere, and a changed input makes its
locks stale (the offline check, and `devtools lock --check`'s exit 12)."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devtools.cli import app
from devtools.locks import resolve
from devtools.locks.sets import LOCK_SETS, MLFLOW_SERVER, PLATFORMS
from testing.cli_harness import REPO
from testing.locks import PIN, copy_lock_inputs, pins

# PyPI's CUDA torch and what only it needs: the CUDA locks hold them, the CPU ones the `+cpu` build.
CUDA_ONLY = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")


def lock_files() -> list[Path]:
    return sorted((REPO / "locks").glob("*.txt"))


def test_the_repositorys_locks_match_their_inputs() -> None:
    platforms = resolve.present_platforms(REPO)
    assert "linux/amd64" in platforms
    assert resolve.stale(REPO, platforms) == []


def test_every_package_of_an_installed_lock_is_pinned_with_its_hashes() -> None:
    for path in lock_files():
        if path.name.startswith("stack."):
            continue  # the joint resolution: constraints, never installed from
        entries = re.split(r"\n(?=[A-Za-z0-9])", path.read_text().split("\n", 2)[2])
        for entry in entries:
            if entry.startswith("#"):
                continue
            assert PIN.match(entry) and "--hash=sha256:" in entry, f"{path.name}: {entry[:80]}"


def test_the_packages_locks_share_have_one_version_everywhere() -> None:
    """torch, numpy, cloudpickle, mlflow, ...: the same in the training and serving images, the MLflow
    server and the host's tests, so what one pickles the other unpickles with the same code."""
    for platform in resolve.present_platforms(REPO):
        versions: dict[str, dict[str, str]] = defaultdict(dict)
        for lock_set in LOCK_SETS:
            path = REPO / lock_set.file(platform)
            if not path.exists():
                continue
            for name, version in pins(path).items():
                if not (lock_set.torch == "cuda" and CUDA_ONLY.match(name)):
                    versions[name][lock_set.name] = version
        differing = {name: by_lock for name, by_lock in versions.items() if len(set(by_lock.values())) > 1}
        assert differing == {}, differing
        training, serving = (
            pins(REPO / f"locks/training.{platform.replace('/', '-')}.txt"),
            pins(REPO / f"locks/serving.{platform.replace('/', '-')}.txt"),
        )
        shared = set(training) & set(serving)
        assert {"torch", "numpy", "cloudpickle", "mlflow"} <= shared


def _copy(tmp_path: Path) -> Path:
    """The locks and every input they are resolved from, and the Compose files, as a checkout has them."""
    copy_lock_inputs(tmp_path)
    for name in ("docker-compose.yml", "docker-compose.dev.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_a_changed_input_makes_the_locks_resolved_from_it_stale(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert resolve.stale(root, ["linux/amd64"]) == []
    server = root / MLFLOW_SERVER
    server.write_text(server.read_text() + "six==1.17.*\n")
    stale = {lock.file: why for lock, why in resolve.stale(root, ["linux/amd64"])}
    # The server's lock, and through the joint resolution every lock it constrains.
    assert stale["locks/mlflow.linux-amd64.txt"] == "its inputs changed since it was resolved"
    assert "locks/stack.linux-amd64.txt" in stale and "locks/serving.linux-amd64.txt" in stale
    (root / "locks" / "moto.linux-amd64.txt").unlink()
    stale = {lock.file: why for lock, why in resolve.stale(root, ["linux/amd64"])}
    assert stale["locks/moto.linux-amd64.txt"] == "missing"


def test_lock_check_is_one_line_and_exit_12_naming_the_stale_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy(tmp_path)
    monkeypatch.setenv("DEVTOOLS_ROOT", str(root))
    runner = CliRunner()
    fresh = runner.invoke(app, ["lock", "--check"])
    assert fresh.exit_code == 0 and fresh.stdout.strip() == "locks match their inputs (linux/amd64)"
    (root / "services/serving/requirements.txt").write_text("fastapi\n")
    stale = runner.invoke(app, ["lock", "--check"])
    assert stale.exit_code == 12
    [line] = stale.stderr.strip().splitlines()
    assert line.startswith("devtools: stale locks: locks/stack.linux-amd64.txt (its inputs changed")
    assert "locks/serving.linux-amd64.txt" in line and line.endswith("run `devtools lock` and commit locks/")


def test_an_unknown_platform_is_a_usage_error() -> None:
    assert set(PLATFORMS) == {"linux/amd64", "linux/arm64"}
    result = CliRunner().invoke(app, ["lock", "--check", "--platform", "windows/amd64"])
    assert result.exit_code == 2 and "locks are made for linux/amd64, linux/arm64" in result.stderr
