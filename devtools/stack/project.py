"""The Compose project devtools drives: where it lives, its name, its variant, and its -f files.

One value, `ComposeProject`, owns the whole list of Compose files and their order:

    base (docker-compose.yml)  +  dev override (dev variant)  +  auth override (dev variant, auth=True)
                               +  GPU override (gpu=True)
                               +  remote override (dev variant on an engine on another machine)

Variants are made with `dataclasses.replace` (`project.with_gpu()`, `project.with_env(...)`), never by
copying fields by position, so a new field (a remote engine, a registry) is added in one place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from devtools import proc
from devtools.engine import facts
from devtools.errors import DevtoolsError
from devtools.progress import Board
from devtools.stderr import classify

if TYPE_CHECKING:
    from devtools.stack.config import ComposeConfig

BASE_FILE = "docker-compose.yml"
DEV_FILE = "docker-compose.dev.yml"
GPU_FILE = "docker-compose.gpu.yml"
# The dev stack with production's MLflow authentication (`devtools up --auth`); the choice is kept per
# project in .devtools/auth-<project> (auth_marker), so later commands and one-off jobs run with it.
AUTH_FILE = "docker-compose.auth.yml"
# The dev stack on an engine that cannot see this checkout: no bind mounts (the source is synced into
# volumes) and ports forwarded over SSH (devtools.remote.mirror).
REMOTE_FILE = "docker-compose.remote.yml"
# What a deploy target writes to run its documents on this engine: build/<project>/docker-compose.yml.
RENDERED_FILE = "docker-compose.yml"

# Compose resolves the project name from -p, then COMPOSE_PROJECT_NAME, then `name:` in the file.
# devtools always passes -p, so a devcontainer (which reads `name:`) and the CLI share containers,
# and tests can isolate themselves with COMPOSE_PROJECT_NAME.
DEFAULT_PROJECT_NAME = "mlstack"

# Used when the host user is root: a dev user with UID 0 would defeat the non-root dev images.
FALLBACK_UID = 1000


class Variant(str, Enum):
    DEV = "dev"  # production file + dev override: targets `dev`, source bind-mounted
    PROD = "prod"  # docker-compose.yml alone: targets `prod`, what production runs
    # A Compose file a deploy target wrote from its documents, run alone on this engine as production
    # would run them (`devtools deploy run-local`): devtools.deploy.targets.
    RENDERED = "rendered"


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding both Compose files; DEVTOOLS_ROOT wins."""
    if override := os.environ.get("DEVTOOLS_ROOT"):
        root = Path(override).resolve()
        if not (root / BASE_FILE).is_file():
            raise DevtoolsError(f"DEVTOOLS_ROOT={override} has no {BASE_FILE}")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / BASE_FILE).is_file() and (candidate / DEV_FILE).is_file():
            return candidate
    # An editable install knows where its checkout is, so devtools works from any directory.
    package_checkout = Path(__file__).resolve().parents[2]
    if (package_checkout / BASE_FILE).is_file() and (package_checkout / DEV_FILE).is_file():
        return package_checkout
    raise DevtoolsError(
        f"no {BASE_FILE} + {DEV_FILE} found here or above; run devtools inside the repository (or set DEVTOOLS_ROOT)"
    )


def auth_marker(root: Path, name: str) -> Path:
    """Present while the dev stack `name` runs with MLflow authentication (`devtools up --auth`)."""
    return root / ".devtools" / f"auth-{name}"


def project_name() -> str:
    return os.environ.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT_NAME


def host_ids() -> tuple[int, int]:
    """UID/GID the dev images give their user, so files written into bind mounts stay the engineer's."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        return FALLBACK_UID, FALLBACK_UID
    return uid, gid


def parse_ps(stdout: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`: one object per line since Compose 2.21, a list before."""
    import json  # not at the top: every command's --help imports this module

    text = stdout.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class ComposeProject:
    root: Path
    name: str
    variant: Variant = Variant.DEV
    gpu: bool = False  # the GPU override is appended (only after detection said a GPU is usable)
    env: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    remote: bool = False  # the engine is on another machine (facts.Engine.remote): the remote override
    auth: bool = False  # the dev stack with MLflow authentication (`up --auth`): the auth override
    overrides: tuple[Path, ...] = ()  # generated Compose files merged last (`devtools repro`'s image and source)

    @classmethod
    def load(cls, variant: Variant = Variant.DEV, root: Path | None = None) -> ComposeProject:
        """The project of the checkout devtools runs in (find_root), for `variant`."""
        uid, gid = host_ids()
        root, name = root or find_root(), project_name()
        return cls(
            root=root,
            name=name,
            variant=variant,
            # The prod stack has authentication always; the dev stack when `up --auth` chose it.
            auth=variant is Variant.DEV and auth_marker(root, name).exists(),
            # COMPOSE_BAKE=false: without buildx, Compose warns on every build that Bake is missing.
            env={"DEVTOOLS_UID": str(uid), "DEVTOOLS_GID": str(gid), "COMPOSE_BAKE": "false"},
            # Only the dev stack bind-mounts the checkout; a socket endpoint is decided without a call.
            remote=variant is Variant.DEV and facts.current().remote is not None,
        )

    @classmethod
    def dev(cls, root: Path | None = None) -> ComposeProject:
        return cls.load(Variant.DEV, root)

    @classmethod
    def prod(cls, root: Path | None = None) -> ComposeProject:
        return cls.load(Variant.PROD, root)

    @classmethod
    def rendered(cls, suffix: str, profiles: tuple[str, ...] = (), root: Path | None = None) -> ComposeProject:
        """A deploy target's rendered Compose file (build/<project>-<suffix>/docker-compose.yml) as its own
        project, `<project>-<suffix>`, so it never touches the dev or prod stack. `profiles`: the ones to
        enable (one-off jobs in a profile start only when run by name)."""
        project = cls.load(Variant.RENDERED, root)
        return replace(project, name=f"{project.name}-{suffix}", profiles=profiles)

    @property
    def files(self) -> tuple[Path, ...]:
        """The -f files, in the order Compose merges them."""
        if self.variant is Variant.RENDERED:
            return (self.root / "build" / self.name / RENDERED_FILE,)
        names = [BASE_FILE]
        if self.variant is Variant.DEV:
            names.append(DEV_FILE)
            if self.auth:
                names.append(AUTH_FILE)
        if self.gpu:
            names.append(GPU_FILE)
        if self.remote and self.variant is Variant.DEV:
            names.append(REMOTE_FILE)
        return (*(self.root / name for name in names), *self.overrides)

    def with_gpu(self) -> ComposeProject:
        return replace(self, gpu=True)

    def with_override(self, file: Path) -> ComposeProject:
        return replace(self, overrides=(*self.overrides, file))

    def with_env(self, **env: str) -> ComposeProject:
        """The same project with more environment for Compose (interpolation: DEVTOOLS_TAG, ...)."""
        return replace(self, env={**self.env, **env})

    def argv(self, *args: str) -> list[str]:
        return self._argv(args)

    def _argv(self, args: Sequence[str], *, flags: Sequence[str] = (), extra_files: Sequence[Path] = ()) -> list[str]:
        argv = ["docker", "compose", "--project-directory", str(self.root), "-p", self.name]
        for file in (*self.files, *extra_files):
            argv += ["-f", str(file)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        if os.environ.get("NO_COLOR"):  # https://no-color.org: Compose's own output too
            argv += ["--ansi", "never"]
        return [*argv, *flags, *args]

    def run(self, *args: str, capture: bool = False, check: bool = True) -> proc.Completed:
        return proc.run(self.argv(*args), capture=capture, check=check, env=self.env)

    def build(
        self, *args: str, labels: Mapping[str, Mapping[str, str]] | None = None, board: Board | None = None
    ) -> proc.Completed:
        """`docker compose build ARGS`: the one place the stack's images are built. Progress is one line
        per image on `board` (its own on stderr when None; the full BuildKit log with -v); a failure is
        explained from the failing step's output. `labels`: service -> image labels to add (a
        generated override file, so the fingerprint of the Compose files is untouched)."""
        extra = (self._labels_file(labels),) if labels else ()
        if proc.verbose():
            argv = self._argv(("build", *args), extra_files=extra, flags=("--progress", "plain"))
            return proc.run(argv, env=self.env, explain_from_stdout=True)
        from devtools.stack.build_progress import BuildProgress

        argv = self._argv(("build", *args), extra_files=extra, flags=("--progress", "json"))
        with nullcontext(board) if board is not None else Board() as shown:
            progress = BuildProgress(shown)
            done = proc.observe(argv, env=self.env, on_stdout=progress.stdout, on_stderr=progress.stderr)
        if done.returncode != 0:
            raise classify(done.argv, done.returncode, progress.explanation())
        return done

    def _labels_file(self, labels: Mapping[str, Mapping[str, str]]) -> Path:
        """An override adding image labels, per project (concurrent projects never share one)."""
        import json  # JSON is YAML: no yaml import on this path

        path = self.root / ".devtools" / f"build-labels-{self.name}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        services = {name: {"build": {"labels": dict(values)}} for name, values in labels.items()}
        path.write_text(json.dumps({"services": services}, indent=1) + "\n")
        return path

    def exec_(self, *args: str) -> NoReturn:
        """Become `docker compose ARGS`: its terminal handling, signals and exit code are ours."""
        proc.exec_(self.argv(*args), env=self.env)

    def config(self) -> ComposeConfig:
        """The merged, interpolated configuration, as Compose itself resolves it.

        YAML, not `--format json`: Compose's JSON output drops the `x-devtools` extensions.
        """
        from devtools.stack.config import ComposeConfig  # yaml: only commands that read the config pay

        return ComposeConfig.parse(self.run("config", capture=True).stdout)

    def running_services(self) -> set[str]:
        done = self.run("ps", "--status", "running", "--services", capture=True)
        return {line.strip() for line in done.stdout.splitlines() if line.strip()}

    def containers(self, *, check: bool = True) -> list[dict[str, Any]]:
        """Every container of the project (running or not), as `docker compose ps --format json` rows;
        [] when check=False and Compose failed."""
        done = self.run("ps", "--all", "--format", "json", capture=True, check=check)
        return parse_ps(done.stdout) if done.returncode == 0 else []
