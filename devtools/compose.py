"""The Compose project devtools drives: which files, in which order, under which name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode
from devtools.project import BASE_FILE, DEV_FILE, find_root, host_ids, project_name


@dataclass(frozen=True)
class ComposeProject:
    root: Path
    name: str
    files: tuple[Path, ...]
    profiles: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def dev(cls, root: Path | None = None) -> ComposeProject:
        """The dev stack: production file + dev override (targets `dev`, source bind-mounted)."""
        return cls._with_files(root, (BASE_FILE, DEV_FILE))

    @classmethod
    def prod(cls, root: Path | None = None) -> ComposeProject:
        """The production-like stack: `docker-compose.yml` alone, targets `prod`."""
        return cls._with_files(root, (BASE_FILE,))

    @classmethod
    def _with_files(cls, root: Path | None, names: Sequence[str]) -> ComposeProject:
        root = root or find_root()
        uid, gid = host_ids()
        return cls(
            root=root,
            name=project_name(),
            files=tuple(root / name for name in names),
            # COMPOSE_BAKE=false: without buildx, Compose warns on every build that Bake is missing.
            env={"DEVTOOLS_UID": str(uid), "DEVTOOLS_GID": str(gid), "COMPOSE_BAKE": "false"},
        )

    def with_file(self, path: Path) -> ComposeProject:
        """Appends one more -f file (the GPU override is the only thing --gpu changes)."""
        return ComposeProject(self.root, self.name, (*self.files, path), self.profiles, self.env)

    def argv(self, *args: str) -> list[str]:
        argv = ["docker", "compose", "--project-directory", str(self.root), "-p", self.name]
        for file in self.files:
            argv += ["-f", str(file)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        return [*argv, *args]

    def run(self, *args: str, capture: bool = False, check: bool = True) -> proc.Completed:
        return proc.run(self.argv(*args), capture=capture, check=check, env=self.env)

    def exec_(self, *args: str) -> None:
        proc.exec_(self.argv(*args), env=self.env)

    def config(self) -> ComposeConfig:
        """The merged, interpolated configuration, as Compose itself resolves it.

        YAML, not `--format json`: Compose's JSON output drops the `x-devtools` extensions.
        """
        import yaml  # only commands that read the config pay for the import

        done = self.run("config", capture=True)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return ComposeConfig(yaml.load(done.stdout, Loader=loader) or {})

    def running_services(self) -> set[str]:
        done = self.run("ps", "--status", "running", "--services", capture=True)
        return {line.strip() for line in done.stdout.splitlines() if line.strip()}


@dataclass(frozen=True)
class ComposeConfig:
    raw: dict[str, Any]

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services: dict[str, dict[str, Any]] = self.raw.get("services", {})
        return services

    def require(self, names: Sequence[str]) -> None:
        unknown = [name for name in names if name not in self.services]
        if unknown:
            known = ", ".join(sorted(self.services))
            raise DevtoolsError(f"unknown service '{unknown[0]}'; this stack has: {known}", ExitCode.UNKNOWN_SERVICE)

    def published_urls(self) -> list[tuple[str, str, str]]:
        """(service, title, url) for every service that declares `x-devtools.url` and publishes a port."""
        urls = []
        for name, service in self.services.items():
            meta = service.get("x-devtools", {})
            if "url" not in meta:
                continue
            published = [port for port in service.get("ports", []) if port.get("published")]
            if published:
                host = published[0].get("host_ip") or "127.0.0.1"
                url = f"http://{host}:{published[0]['published']}{meta['url']}"
                urls.append((name, meta.get("title", name), url))
        return urls
