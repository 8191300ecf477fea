"""`devtools repro RUN_ID`: train again under the conditions a run recorded (contract.provenance).

- The image by id: a local image with that id, else the registry reference by digest the run recorded
  (pulled, and its id checked). A local build no registry holds and this engine no longer has is refused.
- The source: a git worktree at the recorded commit with the recorded diff applied, bind-mounted over
  the image's own source (/app/training, /app/contract), so a dev image and a prod image run the same code.
- The data: the dev stack's prepared data, checked by training against the recorded digest before it
  starts a run (refused when it differs).
- The parameters and seeds: the command the run recorded (TrainConfig.command), with --promote never:
  a reproduction registers a version but never moves an alias.

The new run is tagged with the run it reproduces. Nothing half-made is left: the worktree and its
Compose override are removed whatever happens, and a run the job left open is ended FAILED.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contract import provenance as keys

from devtools import proc
from devtools.engine import inspect
from devtools.errors import DevtoolsError, ExitCode
from devtools.jobs.run import tty_flags
from devtools.models.mlflow_api import MlflowApi, RunRecord
from devtools.models.provenance import flags
from devtools.stack.project import ComposeProject

SERVICE = "training"
SOURCE_MOUNTS = {"services/training": "/app/training", "services/contract": "/app/contract"}
TOLERANCE = 1e-6  # --check: the deterministic CPU recipes reproduce their metrics to this
WORKTREES = Path(".devtools") / "repro"

Report = Callable[[str], None]


@dataclass(frozen=True)
class Recorded:
    """What a run recorded of its making, as far as repro needs it."""

    run: RunRecord
    image: str  # the reference the run recorded (repo@sha256:... or a local name)
    image_id: str
    commit: str
    diff: str | None  # None: the tree was clean
    command: list[str]
    data_digest: str

    @classmethod
    def of(cls, run: RunRecord, api: MlflowApi) -> Recorded:
        tags = run.tags
        missing = [
            key for key in (keys.IMAGE_ID, keys.GIT_COMMIT, keys.COMMAND, keys.DATA_DIGEST) if not _known(tags, key)
        ]
        if missing:
            raise DevtoolsError(
                f"run {run.run_id} does not record {', '.join(missing)}: it was made before runs recorded their "
                "provenance, or not by devtools (`devtools train` records it), so there is nothing to rebuild from",
                ExitCode.REPRO,
            )
        world = tags.get(keys.WORLD_SIZE, "1")
        if world != "1":
            raise DevtoolsError(
                f"run {run.run_id} trained on {world} ranks; repro replays single-process runs (a multi-rank "
                "run's result depends on its ranks' layout): train it again with the same --gpus/--nodes",
                ExitCode.REPRO,
            )
        diff: str | None = None
        if tags.get(keys.GIT_DIRTY) != "false":
            if tags.get(keys.GIT_DIFF) != keys.DIFF_RECORDED:
                raise DevtoolsError(
                    f"run {run.run_id} ran from a checkout with uncommitted changes it did not record "
                    f"({keys.GIT_DIFF}: {tags.get(keys.GIT_DIFF, 'unknown')}), so its source cannot be rebuilt",
                    ExitCode.REPRO,
                )
            stored = api.artifact(run.run_id, keys.DIFF_ARTIFACT)
            if stored is None:
                raise DevtoolsError(
                    f"run {run.run_id} says its diff was recorded, but it has no {keys.DIFF_ARTIFACT} artifact",
                    ExitCode.REPRO,
                )
            diff = stored.decode()
        try:
            command = [str(arg) for arg in json.loads(tags[keys.COMMAND])]
        except ValueError as exc:
            raise DevtoolsError(f"run {run.run_id}'s {keys.COMMAND} tag is not a JSON list", ExitCode.REPRO) from exc
        return cls(
            run=run,
            image=tags.get(keys.IMAGE, ""),
            image_id=tags[keys.IMAGE_ID],
            commit=tags[keys.GIT_COMMIT],
            diff=diff,
            command=command,
            data_digest=tags[keys.DATA_DIGEST],
        )

    def replayed(self) -> list[str]:
        """The recorded command, never moving an alias."""
        argv, kept = list(self.command), []
        while argv:
            arg = argv.pop(0)
            if arg == "--promote" and argv:
                argv.pop(0)
                continue
            kept.append(arg)
        return [*kept, "--promote", "never"]


def _known(tags: dict[str, str], key: str) -> bool:
    return tags.get(key, "unknown") not in ("", "unknown")


def find(api: MlflowApi, run_id: str) -> Recorded:
    run = api.run(run_id)
    if run is None:
        raise DevtoolsError(f"MLflow at {api.url} has no run {run_id!r} (see `devtools model`)", ExitCode.REPRO)
    return Recorded.of(run, api)


def image_for(recorded: Recorded, report: Report) -> str:
    """The recorded image's id on this engine: here already, or pulled by the recorded digest."""
    if inspect.image(recorded.image_id) is not None:
        return recorded.image_id
    if "@sha256:" not in recorded.image:
        raise DevtoolsError(
            f"image {recorded.image_id[:19]} is not on this engine, and the run recorded no registry digest "
            f"({recorded.image or 'no reference'}: a local build, since rebuilt or pruned); nothing can rebuild it",
            ExitCode.REPRO,
        )
    report(f"repro: pulling {recorded.image}")
    done = proc.run(["docker", "pull", recorded.image], capture=True, check=False)
    pulled = inspect.image(recorded.image) if done.returncode == 0 else None
    if pulled is None:
        said = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DevtoolsError(f"no registry holds {recorded.image} ({said})", ExitCode.REPRO)
    if pulled.id != recorded.image_id:
        raise DevtoolsError(
            f"{recorded.image} is image {pulled.id[:19]}, not the run's {recorded.image_id[:19]}", ExitCode.REPRO
        )
    return pulled.id


@contextmanager
def worktree(root: Path, recorded: Recorded) -> Iterator[Path]:
    """A git worktree of `root` at the recorded commit with the recorded diff applied; removed on exit."""
    if not (root / ".git").exists():
        raise DevtoolsError(
            f"{root} is not a git checkout: repro needs the history to check out a commit", ExitCode.REPRO
        )
    path = root / WORKTREES / recorded.run.run_id
    _remove(root, path)  # a worktree an interrupted repro left
    done = _git(root, "worktree", "add", "--detach", str(path), recorded.commit)
    try:
        if done.returncode != 0:
            raise DevtoolsError(
                f"commit {recorded.commit[:12]} is not in this checkout (git fetch it first): "
                f"{_last_line(done.stderr)}",
                ExitCode.REPRO,
            )
        if recorded.diff:
            applied = proc.run(
                ["git", "-C", str(path), "apply", "--binary", "--whitespace=nowarn", "-"],
                capture=True,
                check=False,
                stdin=recorded.diff.encode(),
            )
            if applied.returncode != 0:
                raise DevtoolsError(
                    f"the run's recorded diff does not apply to {recorded.commit[:12]}: {_last_line(applied.stderr)}",
                    ExitCode.REPRO,
                )
        yield path
    finally:
        _remove(root, path)


def _remove(root: Path, path: Path) -> None:
    if path.exists():
        _git(root, "worktree", "remove", "--force", str(path))
        shutil.rmtree(path, ignore_errors=True)  # files the container wrote as another user, if any
    _git(root, "worktree", "prune")


def _git(root: Path, *args: str) -> proc.Completed:
    return proc.run(["git", "-C", str(root), *args], capture=True, check=False)


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no message"])[-1]


def override(path: Path, image_id: str, tree: Path) -> Path:
    """A Compose override: the training service from the recorded image, the worktree's source mounted
    over the image's (Compose merges volumes by target). JSON is YAML."""
    volumes = [
        {"type": "bind", "source": str(tree / source), "target": target, "read_only": True}
        for source, target in SOURCE_MOUNTS.items()
        if (tree / source).is_dir()
    ]
    service = {"image": image_id, "pull_policy": "never", "volumes": volumes}
    path.write_text(json.dumps({"services": {SERVICE: service}}, indent=1) + "\n")
    return path


def environment(recorded: Recorded, image_id: str) -> dict[str, str]:
    """What the job is told: the same provenance as the reproduced run, the run it reproduces, and the
    data digest it must find."""
    env = {
        keys.IMAGE_ENV: recorded.image or image_id,
        keys.IMAGE_ID_ENV: image_id,
        keys.GIT_COMMIT_ENV: recorded.commit,
        keys.GIT_DIRTY_ENV: "true" if recorded.diff else "false",
        keys.REPRO_OF_ENV: recorded.run.run_id,
        keys.EXPECT_DATA_DIGEST_ENV: recorded.data_digest,
    }
    if recorded.diff:
        env[keys.SOURCE_DIFF_ENV] = keys.pack_diff(recorded.diff)
    return env


def reproduce(project: ComposeProject, api: MlflowApi, recorded: Recorded, report: Report) -> RunRecord:
    """Runs the recorded command under the recorded conditions; the new run, finished."""
    image_id = image_for(recorded, report)
    started_ms = int(time.time() * 1000)
    with worktree(project.root, recorded) as tree:
        report(f"repro: {recorded.run.run_id} from image {image_id[7:19]}, commit {recorded.commit[:12]}"
               + (" with its recorded diff" if recorded.diff else ""))  # fmt: skip
        file = override(tree.parent / f"{recorded.run.run_id}.compose.json", image_id, tree)
        try:
            env = environment(recorded, image_id)
            job = project.with_override(file).with_env(**env)
            argv = ["python", "-m", "training", *recorded.replayed()]
            code = job.run(
                "run", "--rm", *tty_flags(), *flags(env), "--entrypoint", argv[0], SERVICE, *argv[1:], check=False
            ).returncode
        finally:
            file.unlink(missing_ok=True)
            new = _new_run(api, recorded, started_ms)
            if new is not None:
                api.end_if_open(new.run_id)  # interrupted, or the job died: never left RUNNING
    if code != 0:
        raise DevtoolsError(
            f"the reproduction of {recorded.run.run_id} failed (exit {code}; its error is above); the worktree "
            "is removed" + (f", run {new.run_id} is ended FAILED" if new is not None else ", no run was started"),
            code,
        )
    if new is None:
        raise DevtoolsError(f"the job finished but MLflow has no run tagged {keys.REPRO_OF}={recorded.run.run_id}")
    finished = api.run(new.run_id)
    assert finished is not None
    return finished


def _new_run(api: MlflowApi, recorded: Recorded, started_ms: int) -> RunRecord | None:
    runs = api.runs_tagged(recorded.run.experiment_id, keys.REPRO_OF, recorded.run.run_id)
    return next((run for run in runs if run.start_time_ms >= started_ms - 1000), None)


@dataclass(frozen=True)
class Comparison:
    differing_metrics: dict[str, tuple[float | None, float | None]]
    differing_conditions: dict[str, tuple[str, str]]

    @property
    def matches(self) -> bool:
        return not self.differing_metrics


def compare(original: RunRecord, again: RunRecord) -> Comparison:
    """The metrics that differ by more than TOLERANCE (or exist on one side only), and the recorded
    conditions (image, lock, data, hardware) that differ."""
    metrics: dict[str, tuple[float | None, float | None]] = {}
    for name in sorted({*original.metrics, *again.metrics}):
        before, after = original.metrics.get(name), again.metrics.get(name)
        if before is None or after is None or abs(before - after) > TOLERANCE:
            metrics[name] = (before, after)
    conditions = {
        key: (original.tags.get(key, "unknown"), again.tags.get(key, "unknown"))
        for key in keys.CONDITIONS
        if original.tags.get(key, "unknown") != again.tags.get(key, "unknown")
    }
    return Comparison(metrics, conditions)
