"""The dev stack on a remote engine: the source synced into volumes instead of bind-mounted.

docker-compose.remote.yml says what, per service (`x-devtools.sync`): a folder of the checkout, its
path in the container, and the volume that holds it there. `up` mirrors each folder into its volume
before the containers start: one throwaway container of the service's image per folder, the folder
as a tar on its stdin, the volume emptied first (a file deleted here while nothing watched is gone
there too) and every file the dev user's. The watcher then copies each changed file into a running
container of the service and removes each deleted one, through the engine API (devtools.engine.api).

By rule, never silently: the ignored names of the watcher (caches, VCS, data folders, editor files)
are not synced; a file over DEVTOOLS_SYNC_MAX_MB (50 by default) is not copied and is named; binary
files are copied as they are. A change the engine cannot take (its link is down) is kept, and copied
when it answers again: no edit is lost.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from devtools import proc
from devtools.engine.api import EngineApi
from devtools.errors import DevtoolsError, ExitCode
from devtools.progress import Board
from devtools.sources import is_ignored
from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject, host_ids

SYNC_LIMIT_ENV = "DEVTOOLS_SYNC_MAX_MB"
DEFAULT_SYNC_LIMIT_MB = 50
# Run as root in a throwaway container with the volume at /dst: empty it, unpack stdin (GNU tar keeps
# the owner written in the archive: the dev user's).
_MIRROR = "set -e; find /dst -mindepth 1 -delete; tar -xf - -C /dst"


@dataclass(frozen=True)
class SyncRoot:
    service: str
    path: Path  # absolute, in the checkout
    target: str  # the same folder in the container
    key: str  # the volume, as the Compose files name it (serving-src); other services may mount it too
    volume: str  # the engine's name of that volume (<project>_serving-src)

    def inside(self, path: Path) -> str:
        return str(PurePosixPath(self.target) / path.relative_to(self.path).as_posix())


def sync_roots(project: ComposeProject, config: ComposeConfig) -> list[SyncRoot]:
    """Every `x-devtools.sync` entry of the configuration, resolved."""
    volumes = config.raw.get("volumes") or {}
    roots = []
    for name, service in config.services.items():
        for entry in (service.get("x-devtools") or {}).get("sync") or []:
            volume = str(entry["volume"])
            engine_name = str((volumes.get(volume) or {}).get("name") or f"{project.name}_{volume}")
            path = (project.root / str(entry["path"])).resolve()
            roots.append(SyncRoot(name, path, str(entry["target"]), volume, engine_name))
    return roots


def limit_bytes() -> int:
    raw = os.environ.get(SYNC_LIMIT_ENV, "").strip()
    try:
        megabytes = float(raw) if raw else DEFAULT_SYNC_LIMIT_MB
    except ValueError:
        raise DevtoolsError(f"{SYNC_LIMIT_ENV}={raw}: expected a number of MB", ExitCode.USAGE) from None
    return int(megabytes * 2**20)


@dataclass
class Archive:
    data: bytes
    files: int
    skipped: list[str] = field(default_factory=list)  # what was not copied, and why


def files_under(project_root: Path, folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not is_ignored(path.relative_to(project_root)):
            yield path


def archive(root: SyncRoot, files: Iterable[Path], project_root: Path) -> Archive:
    """A tar of `files` (under root.path), paths relative to it, owned by the dev user."""
    uid, gid = host_ids()
    limit = limit_bytes()
    buffer, count, skipped = io.BytesIO(), 0, []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in files:
            relative = path.relative_to(project_root)
            if is_ignored(relative):
                continue
            size = path.stat().st_size
            if size > limit:
                skipped.append(f"{relative} ({size / 2**20:.0f} MB > the {limit / 2**20:.0f} MB of {SYNC_LIMIT_ENV})")
                continue
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root.path).as_posix())
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
            count += 1
    return Archive(buffer.getvalue(), count, skipped)


def mirror(config: ComposeConfig, roots: Iterable[SyncRoot], project_root: Path, board: Board) -> None:
    """Each root's folder into its volume, exactly (what is there and nothing else)."""
    for root in roots:
        image = config.services[root.service].get("image")
        board.set(f"{root.service} source", f"syncing {root.path.relative_to(project_root)} -> {root.volume}")
        packed = archive(root, files_under(project_root, root.path), project_root)
        for line in packed.skipped:
            board.note(f"sync: not copied: {line}")
        argv = ["docker", "run", "--rm", "-i", "--network", "none", "--user", "0:0", "-v", f"{root.volume}:/dst"]
        done = proc.run([*argv, "--entrypoint", "sh", str(image), "-c", _MIRROR], stdin=packed.data)
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if line.strip()]
            raise DevtoolsError(
                f"syncing {root.path.name} to the remote engine failed: {said[-1] if said else done.returncode}"
            )
        board.set(f"{root.service} source", f"synced {packed.files} files into {root.volume}", done=True)


class Syncer:
    """The watcher's half: changed files into running containers, deleted ones removed, and what the
    engine could not take kept for when it answers again."""

    def __init__(self, project: ComposeProject, roots: list[SyncRoot], engine: EngineApi) -> None:
        self.project, self.roots, self.engine = project, roots, engine
        self.pending: set[Path] = set()
        self.lost = False  # the engine's link is down: retry the pending files

    def folders(self) -> list[Path]:
        return [root.path for root in self.roots]

    def push(self, paths: Iterable[Path]) -> tuple[list[str], list[Path]]:
        """Copies or removes each path under a sync root; (lines to show, paths now in the containers)."""
        wanted = self.pending | {path for path in paths if any(path.is_relative_to(r.path) for r in self.roots)}
        if not wanted:
            return [], []
        lines: list[str] = []
        done: list[Path] = []
        try:
            for root in self.roots:
                files = sorted(path for path in wanted if path.is_relative_to(root.path))
                if files:
                    lines += self._push_root(root, files)
                    done += files
        except DevtoolsError as error:
            # The link is down, or the stack (or its tunnel) is: keep the changes for when it is back.
            if error.code not in (ExitCode.DOCKER_UNAVAILABLE, ExitCode.NOT_RUNNING):
                raise
            self.pending = wanted - set(done)
            self.engine.reconnect()
            if not self.lost:
                lines.append(f"engine link lost ({error.message[:160]}); {len(self.pending)} file(s) kept, retrying")
            self.lost = True
            return lines, done
        if self.lost:
            lines.append(f"engine link back: {len(done)} file(s) synced")
        self.pending, self.lost = set(), False
        return lines, done

    def _push_root(self, root: SyncRoot, files: list[Path]) -> list[str]:
        container = self._running(root.service)
        present = [path for path in files if path.is_file()]
        gone = [path for path in files if not path.exists()]
        lines = []
        if present:
            packed = archive(root, present, self.project.root)
            lines += [f"{root.service}: sync: not copied: {line}" for line in packed.skipped]
            if packed.files:
                self.engine.put_archive(container, root.target, packed.data)
        if gone:
            code, said = self.engine.exec_(container, ["rm", "-rf", "--", *(root.inside(path) for path in gone)])
            if code != 0:
                lines.append(f"{root.service}: sync: could not remove {len(gone)} file(s): {said.strip()[-160:]}")
        lines.append(f"{root.service}: synced {len(present)} changed, {len(gone)} removed")
        return lines

    def _running(self, service: str) -> Any:
        for container in self.engine.containers(self.project.name, service):
            return container
        raise DevtoolsError(f"service '{service}' is not running: start it with `devtools up`", ExitCode.NOT_RUNNING)
