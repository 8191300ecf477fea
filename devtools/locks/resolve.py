"""Hash-locked environments: the lock sets (sets.py) resolved by uv into `locks/`, and checked offline.

Each lock is `uv pip compile --generate-hashes` of its inputs for one platform, constrained by the
joint resolution of every input of that platform (locks/stack.<os>-<arch>.txt), so shared packages
agree everywhere. torch is pinned to the build the lock names (`+cpu`, or PyPI's CUDA build) before
resolving, so a missing CPU wheel fails the resolution instead of silently locking the CUDA build.

The last line of every lock records the sha256 of what it was resolved from (its inputs' contents, the
platform, Python, the torch build, and for the constrained ones the joint's inputs): `devtools lock
--check` recomputes it without any network, so CI fails when an input changed and its lock did not.
Builds install with `--require-hashes --no-deps`: no resolver runs at build time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode
from devtools.locks.sets import JOINT, LOCK_SETS, PLATFORMS, PYTHON, TORCH, LockSet, joint_inputs

DIGEST_LINE = "# devtools lock: inputs sha256="
COMMAND = "devtools lock"
# Where the CPU build of torch comes from when wheelhouse/ has no wheel of it for the platform.
TORCH_CPU_INDEX_ENV = "TORCH_CPU_INDEX"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_TORCH_PIN = re.compile(r"^torch==(\S+)", re.M)

Report = Callable[[str], None]


@dataclass(frozen=True)
class Lock:
    """One lock file: a lock set (or the joint resolution) for one platform."""

    name: str
    platform: str
    inputs: tuple[str, ...]
    torch: str = "cpu"
    constrained: bool = True  # by the joint resolution of its platform
    hashes: bool = True

    @property
    def file(self) -> str:
        return f"locks/{self.name}.{self.platform.replace('/', '-')}.txt"

    @classmethod
    def of(cls, lock_set: LockSet, platform: str) -> Lock:
        return cls(lock_set.name, platform, lock_set.inputs, lock_set.torch, lock_set.joint)

    @classmethod
    def joint(cls, platform: str) -> Lock:
        # A constraints file, not installed from: no hashes.
        return cls(JOINT, platform, joint_inputs(), "cpu", constrained=False, hashes=False)


def locks_for(platforms: Sequence[str]) -> list[Lock]:
    """The joint resolution first, then every lock set, for each platform it is made for."""
    unknown = [platform for platform in platforms if platform not in PLATFORMS]
    if unknown:
        raise DevtoolsError(f"--platform {unknown[0]}: locks are made for {', '.join(PLATFORMS)}", ExitCode.USAGE)
    found: list[Lock] = []
    for platform in platforms:
        found.append(Lock.joint(platform))
        found += [Lock.of(lock_set, platform) for lock_set in LOCK_SETS if platform in lock_set.platforms]
    return found


def inputs_digest(root: Path, lock: Lock) -> str:
    """What the lock was resolved from, as one sha256: changes exactly when its resolution may."""
    digest = hashlib.sha256()
    digest.update(f"{lock.name}\0{lock.platform}\0{PLATFORMS[lock.platform]}\0{PYTHON}\0{lock.torch}\0".encode())
    for name in lock.inputs:
        path = root / name.split("[", 1)[0]
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    if lock.constrained:
        digest.update(inputs_digest(root, Lock.joint(lock.platform)).encode())
    return digest.hexdigest()


def recorded_digest(path: Path) -> str | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return next((line.removeprefix(DIGEST_LINE) for line in reversed(lines) if line.startswith(DIGEST_LINE)), None)


def stale(root: Path, platforms: Sequence[str]) -> list[tuple[Lock, str]]:
    """(lock, why) for every lock that does not match its inputs: missing, or resolved from other inputs."""
    found = []
    for lock in locks_for(platforms):
        recorded = recorded_digest(root / lock.file)
        if recorded is None:
            found.append((lock, "missing" if not (root / lock.file).exists() else "has no inputs digest"))
        elif recorded != inputs_digest(root, lock):
            found.append((lock, "its inputs changed since it was resolved"))
    return found


def present_platforms(root: Path) -> list[str]:
    """The platforms the repository holds locks for (the check covers what is there)."""
    return [platform for platform in PLATFORMS if (root / Lock.joint(platform).file).exists()]


def resolve(root: Path, platforms: Sequence[str], *, upgrade: bool, report: Report) -> list[Path]:
    """Resolves every lock of `platforms` (the joint one first) and writes them; returns the files."""
    uv = uv_binary()
    written = []
    for lock in locks_for(platforms):
        report(f"lock: {lock.file} ({', '.join(lock.inputs)}; torch {lock.torch})")
        written.append(_resolve_one(root, uv, lock, upgrade=upgrade))
    return written


def uv_binary() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).is_file():
        raise DevtoolsError("uv is not installed in devtools' environment: pip install uv (pyproject.toml pins it)")
    return found


def _resolve_one(root: Path, uv: str, lock: Lock, *, upgrade: bool) -> Path:
    out = root / lock.file
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="devtools-lock-") as scratch:
        argv = [uv, "pip", "compile", "--quiet", "--python-version", PYTHON]
        argv += ["--python-platform", PLATFORMS[lock.platform], "--custom-compile-command", COMMAND]
        argv += ["--generate-hashes"] if lock.hashes else []
        argv += ["--upgrade"] if upgrade else []
        argv += _torch_source(root, lock)
        if any(name.endswith("[test]") for name in lock.inputs):
            argv += ["--extra", "test"]
        if lock.constrained:
            argv += ["--constraint", str(_constraints(root, lock, Path(scratch)))]
        argv += [_input_file(root, name, lock, Path(scratch)) for name in lock.inputs]
        # An existing lock is where uv keeps its pins from (no --upgrade: the least that changes).
        argv += ["--output-file", str(out)]
        done = proc.run(argv, capture=True, check=False, env={"UV_NO_CONFIG": "1"})
    if done.returncode != 0:
        raise DevtoolsError(f"{lock.file}: uv could not resolve it: {_last_words(done.stderr)}", ExitCode.LOCK)
    text = out.read_text()
    # uv names the files it was given: the checkout's as the repository names them, not this machine's
    # path, and the scratch copy of the torch pin as the input it stands for.
    text = text.replace(f"{root}/", "")
    text = re.sub(r"/tmp/devtools-lock-[^/\s]+/", "services/training/", text)
    out.write_text(text.rstrip("\n") + f"\n{DIGEST_LINE}{inputs_digest(root, lock)}\n")
    return out


def _input_file(root: Path, name: str, lock: Lock, scratch: Path) -> str:
    """The input as uv reads it; torch's pin made exact for the build this lock holds."""
    path = root / name.split("[", 1)[0]
    if name != TORCH:
        return str(path)
    version = _TORCH_PIN.search(path.read_text())
    if version is None:
        raise DevtoolsError(f"{TORCH} has no `torch==X.Y.Z` pin", ExitCode.LOCK)
    pin = f"torch=={version.group(1)}" + ("+cpu" if lock.torch == "cpu" else "")
    exact = scratch / "requirements-torch.txt"
    exact.write_text(pin + "\n")
    return str(exact)


def _torch_source(root: Path, lock: Lock) -> list[str]:
    """Where uv finds torch's CPU build: the wheel in wheelhouse/ for the platform (scripts/provision puts
    it there), else PyTorch's CPU index (TORCH_CPU_INDEX). The CUDA build and everything else: PyPI."""
    if lock.torch != "cpu":
        return []
    version = _TORCH_PIN.search((root / TORCH).read_text())
    machine = PLATFORMS[lock.platform].split("-", 1)[0]  # x86_64, aarch64
    wheel = f"torch-{version.group(1) if version else '*'}+cpu-cp{PYTHON.replace('.', '')}-*_{machine}.whl"
    if any((root / "wheelhouse").glob(wheel)):
        sources = ["--find-links", str(root / "wheelhouse")]
    else:
        sources = ["--extra-index-url", os.environ.get(TORCH_CPU_INDEX_ENV, TORCH_CPU_INDEX)]
    # unsafe-best-match: the `+cpu` build is on that source only; PyPI has none.
    return [*sources, "--index-strategy", "unsafe-best-match"]


def _constraints(root: Path, lock: Lock, scratch: Path) -> Path:
    """The joint resolution as constraints; without torch for a lock of another torch build."""
    joint = root / Lock.joint(lock.platform).file
    if not joint.is_file():
        raise DevtoolsError(f"{joint.relative_to(root)} is missing: resolve it first (`devtools lock`)", ExitCode.LOCK)
    if lock.torch == "cpu":
        return joint
    kept = [line for line in joint.read_text().splitlines() if not line.startswith("torch==")]
    path = scratch / "constraints.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def _last_words(stderr: str) -> str:
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("hint:", "help:"))]
    return "; ".join(useful[-3:])[:500] or "no output"
