"""The team-workflow files stay offline-capable and pinned: pre-commit hooks, requirements-dev.txt and
the devcontainer configurations (no engine needed; tests/docker/test_devcontainer.py runs them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.stack.project import BASE_FILE, DEV_FILE

REPO = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[0-9][0-9A-Za-z.+!-]*$")
DEVCONTAINER_CONFIGS = sorted(REPO.glob(".devcontainer/**/devcontainer.json"))


def _hooks() -> list[dict[str, Any]]:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks: list[dict[str, Any]] = []
    for repo in config["repos"]:
        # A git URL would be cloned from its host on every new machine; local hooks install from PyPI.
        assert repo["repo"] == "local", f"hooks must be `repo: local`, not {repo['repo']}"
        hooks += repo["hooks"]
    return hooks


# mypy checks the code against the packages it imports (torch, mlflow, fastapi): those live in the
# project's environment, not in a hook environment, so its hook runs scripts/mypy there.
PROJECT_ENVIRONMENT_HOOKS = {"mypy": "scripts/mypy"}


def test_every_hook_installs_pinned_packages_from_pypi() -> None:
    hooks = _hooks()
    assert hooks
    for hook in hooks:
        if hook["id"] in PROJECT_ENVIRONMENT_HOOKS:
            continue
        assert hook["language"] == "python", hook["id"]
        dependencies = hook.get("additional_dependencies", [])
        assert dependencies, f"{hook['id']}: its tool must come from a pinned additional_dependencies entry"
        for requirement in dependencies:
            assert PINNED.match(requirement), f"{hook['id']}: {requirement!r} is not pinned with =="


def test_mypy_hook_runs_the_pinned_mypy_over_every_package() -> None:
    [hook] = [hook for hook in _hooks() if hook["id"] == "mypy"]
    assert (hook["language"], hook["entry"], hook["pass_filenames"]) == ("script", "scripts/mypy", False)
    pins = (REPO / "requirements-dev.txt").read_text().splitlines()
    assert any(re.fullmatch(r"mypy==[0-9.]+", line.strip()) for line in pins), "pin mypy in requirements-dev.txt"
    tomllib = pytest.importorskip("tomllib")
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True and set(mypy["packages"]) == {"devtools", "training", "serving", "contract"}


def test_hook_ids_are_unique() -> None:
    ids = [hook["id"] for hook in _hooks()]
    assert len(ids) == len(set(ids))


def test_requirements_dev_pins_every_package() -> None:
    lines = (REPO / "requirements-dev.txt").read_text().splitlines()
    requirements = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
    assert "pre-commit" in {requirement.split("==")[0] for requirement in requirements}
    for requirement in requirements:
        assert PINNED.match(requirement), f"requirements-dev.txt: {requirement!r} is not pinned with =="


def test_requirements_dev_holds_devtools_dependencies() -> None:
    """The devcontainer installs devtools editable from what the image holds (requirements-dev.txt),
    offline: a dependency added to pyproject.toml must be pinned there too."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (REPO / "requirements-dev.txt").read_text().splitlines()
    pinned = {name(line) for line in (line.split("#")[0].strip() for line in lines) if line}
    missing = sorted(name(requirement) for requirement in declared if name(requirement) not in pinned)
    assert not missing, f"pin these devtools dependencies in requirements-dev.txt: {missing}"


@pytest.mark.parametrize("path", DEVCONTAINER_CONFIGS, ids=lambda path: str(path.relative_to(REPO)))
def test_devcontainer_runs_the_devtools_stack(path: Path) -> None:
    config = json.loads(path.read_text())  # plain JSON, no comments: check-json and the schema hook read it
    files = [(path.parent / name).resolve() for name in config["dockerComposeFile"]]
    for file in files:
        assert file.is_file(), f"{path}: {file} does not exist"
    # The files `devtools up` merges, first and in its order, so both build and run the same services.
    assert files[:2] == [REPO / BASE_FILE, REPO / DEV_FILE]
    assert config["service"] == "training"
    assert {"mlflow", "serving"} <= set(config["runServices"])
    assert config["remoteUser"] == "dev" and config["updateRemoteUserUID"] is True
    assert config["shutdownAction"] == "none"  # the stack is shared with devtools: never stop it
    assert "features" not in config  # Features are fetched from a registry: offline builds would fail
    assert not re.search(r'"/(home|Users|root)/', path.read_text()), "no host-specific absolute paths"
    assert (REPO / ".devcontainer/post-create.sh").is_file()
