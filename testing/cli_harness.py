"""Unit tier harness: the CLI through CliRunner with the process choke point replaced by a recorder."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devtools import proc
from devtools.cli import app

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "unit" / "fixtures"


class Unscripted(AssertionError):
    """A command the test did not script: the fake engine refuses to guess its answer."""


@dataclass
class FakeDocker:
    """Stands in for devtools.proc: records every argv, answers from scripted responses. A command no
    response matches fails the test (Unscripted), so a test states every call it lets through: an
    unexpected call, or a missing one answered by a default, cannot pass unnoticed."""

    root: Path
    calls: list[list[str]] = field(default_factory=list)
    execs: list[list[str]] = field(default_factory=list)
    envs: list[dict[str, str]] = field(default_factory=list)
    responses: list[tuple[Callable[[list[str]], bool], proc.Completed]] = field(default_factory=list)

    def respond(
        self, when: Callable[[list[str]], bool], *, stdout: str = "", stderr: str = "", returncode: int = 0
    ) -> None:
        self.responses.insert(0, (when, proc.Completed((), returncode, stdout, stderr)))

    def respond_to(self, subcommand: Sequence[str], **kwargs: object) -> None:
        """Respond to `docker compose ... <subcommand...>` (matched after the -f/-p prefix)."""
        self.respond(lambda argv: compose_args(argv)[: len(subcommand)] == list(subcommand), **kwargs)  # type: ignore[arg-type]

    def allow(self, *subcommands: Sequence[str]) -> None:
        """Let each `docker compose SUBCOMMAND...` through: exit 0, no output."""
        for subcommand in subcommands:
            self.respond_to(subcommand)

    def allow_docker(self, *prefixes: Sequence[str]) -> None:
        """Let each plain `docker PREFIX...` (not compose) through: exit 0, no output."""
        for prefix in prefixes:
            self.respond(lambda argv, p=list(prefix): argv[1 : 1 + len(p)] == p)

    def run(
        self,
        argv: Sequence[str],
        *,
        capture: bool = False,
        check: bool = True,
        env: dict[str, str] | None = None,
        explain_from_stdout: bool = False,
        stdin: bytes | None = None,
    ) -> proc.Completed:
        argv = list(argv)
        self.calls.append(argv)
        self.envs.append(dict(env or {}))
        for when, answer in self.responses:
            if when(argv):
                result = proc.Completed(tuple(argv), answer.returncode, answer.stdout, answer.stderr)
                break
        else:
            raise Unscripted(f"unscripted command: {' '.join(argv)} (script it with respond/respond_to/allow)")
        if check and result.returncode != 0:
            raise proc.classify(result.argv, result.returncode, result.stderr)
        return result

    def observe(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        on_stdout: Callable[[str], None],
        on_stderr: Callable[[str], None],
    ) -> proc.Completed:
        """proc.observe: the scripted answer's output goes to the callbacks, line by line."""
        done = self.run(argv, env=env, check=False, capture=True)
        for line in done.stdout.splitlines(keepends=True):
            on_stdout(line)
        for line in done.stderr.splitlines(keepends=True):
            on_stderr(line)
        return proc.Completed(done.argv, done.returncode, "", "")

    def exec_(self, argv: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        self.execs.append(list(argv))
        raise SystemExit(0)

    def compose_calls(self, *, logs: bool = False) -> list[list[str]]:
        """The compose subcommands run, in order; reading logs (`up` reads MLflow's start) only with logs=True."""
        found = [compose_args(argv) for argv in self.calls if argv[:2] == ["docker", "compose"]]
        return [args for args in found if logs or args[:1] != ["logs"]]

    def changing_calls(self) -> list[list[str]]:
        """Every argv but the reading of logs."""
        return [
            argv
            for argv in self.calls
            if not (argv[:2] == ["docker", "compose"] and compose_args(argv)[:1] == ["logs"])
        ]


def compose_args(argv: Sequence[str]) -> list[str]:
    """What follows `docker compose --project-directory R -p N -f F...` in argv."""
    args = list(argv[2:])
    while args and args[0] in ("--project-directory", "-p", "-f", "--profile", "--progress", "--ansi"):
        args = args[2:]
    return args


def compose_prefix(root: Path, *files: str, name: str = "mlstack") -> list[str]:
    argv = ["docker", "compose", "--project-directory", str(root), "-p", name]
    for file in files:
        argv += ["-f", str(root / file)]
    return argv


@pytest.fixture
def stack_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's Compose files and build inputs, so build state is written to tmp."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("docker-compose.yml", "docker-compose.dev.yml"):
        shutil.copy(REPO / name, root / name)
    for tree in ("docker", "services", "locks"):
        # Tool caches (.mypy_cache can be 100+ MB) are not build inputs; copied per test they fill the disk.
        shutil.copytree(REPO / tree, root / tree, ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
    monkeypatch.setenv("DEVTOOLS_ROOT", str(root))
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("DEVTOOLS_DEBUG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return root


def recorded_config(root: Path, variant: str = "dev") -> str:
    return (FIXTURES / f"compose_config_{variant}.yml").read_text().replace("@ROOT@", str(root))


@pytest.fixture
def docker(stack_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDocker]:
    fake = FakeDocker(stack_root)
    # The engine knows no image or container a test did not name (devtools asks for provenance).
    fake.respond(lambda argv: argv[1:3] in (["image", "inspect"], ["container", "inspect"]), stdout="[]", returncode=1)
    fake.respond_to(["ps", "-q"], stdout="")  # no container's id, unless a test names one
    fake.respond_to(["logs"], stdout="")  # services say nothing, unless a test says what
    fake.respond_to(["config"], stdout=recorded_config(stack_root))
    monkeypatch.setattr(proc, "run", fake.run)
    monkeypatch.setattr(proc, "exec_", fake.exec_)
    monkeypatch.setattr(proc, "observe", fake.observe)
    yield fake


@pytest.fixture
def cli() -> Callable[..., object]:
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, list(args))

    return invoke
