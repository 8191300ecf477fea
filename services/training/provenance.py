"""What made this run, recorded on it (contract.provenance): the image by digest, the lock it installed,
the git commit and dirty flag (the diff as an artifact when dirty), the prepared data as an MLflow
dataset input with its digest, source and schema, and the hardware.

devtools passes what only the host knows (the commit, the diff, the image it started) in the job's
environment; on ECS and AWS Batch the task metadata endpoint names the image. What is unknown is
recorded as unknown, never guessed: a run from a bare `python -m training` says so.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import provenance as keys

from training.config import TrainConfig
from training.errors import DataError
from training.recipes import Prepared

UNKNOWN = "unknown"
_ECS_METADATA = "ECS_CONTAINER_METADATA_URI_V4"


@dataclass(frozen=True)
class Provenance:
    tags: dict[str, str]
    diff: str | None = None  # the uncommitted changes, when the tree was dirty and the diff came along
    notes: list[str] = field(default_factory=list)

    def version_tags(self) -> dict[str, str]:
        """What a model version carries of its run's provenance (`devtools model` shows it)."""
        return {key: self.tags[key] for key in keys.VERSION_TAGS if key in self.tags}


def collect(environ: dict[str, str] | None = None, lock: Path = Path(keys.IMAGE_LOCK)) -> Provenance:
    env = dict(os.environ if environ is None else environ)
    tags: dict[str, str] = {}
    image, image_id = _image(env)
    tags[keys.IMAGE], tags[keys.IMAGE_ID] = image, image_id
    tags[keys.LOCK_SHA256] = keys.lock_digest(lock.read_text()) if lock.is_file() else UNKNOWN
    tags[keys.GIT_COMMIT] = env.get(keys.GIT_COMMIT_ENV) or UNKNOWN
    dirty = env.get(keys.GIT_DIRTY_ENV, "").lower()
    tags[keys.GIT_DIRTY] = dirty if dirty in ("true", "false") else UNKNOWN
    diff = _diff(env)
    if dirty == "true":
        tags[keys.GIT_DIFF] = keys.DIFF_RECORDED if diff is not None else keys.DIFF_TOO_LARGE
    else:
        tags[keys.GIT_DIFF] = keys.DIFF_NONE if dirty == "false" else keys.DIFF_UNKNOWN
    tags.update(hardware())
    if env.get(keys.REPRO_OF_ENV):
        tags[keys.REPRO_OF] = env[keys.REPRO_OF_ENV]
    return Provenance(tags, diff if dirty == "true" else None)


def check_data(data: Prepared, environ: Mapping[str, str] | None = None) -> None:
    """`devtools repro` names the data digest of the run it reproduces: other data is refused."""
    expected = (os.environ if environ is None else environ).get(keys.EXPECT_DATA_DIGEST_ENV)
    if expected and expected != data.digest:
        raise DataError(
            f"the prepared data's digest is {data.digest[:12]}, not the reproduced run's {expected[:12]}: "
            "the data changed since (run the pipeline that made it, or restore it)"
        )


def record(found: Provenance, data: Prepared, config: TrainConfig, recipe: str, world_size: int) -> None:
    """On the active run: the tags (and the command that trains the same way), the prepared data as a
    dataset input, the diff as an artifact."""
    import mlflow
    from mlflow.data.numpy_dataset import from_numpy

    location = str(config.data_dir)
    mlflow.set_tags(
        {
            **found.tags,
            keys.DATA_DIGEST: data.digest,
            keys.COMMAND: json.dumps(config.command()),
            keys.WORLD_SIZE: str(world_size),
        }
    )
    # MLflow keeps a dataset's digest in 36 characters: 128 bits of the data's digest (the tag has all of it).
    with warnings.catch_warnings():
        # A local path matches MLflow's local artifact source twice (it warns, then takes it): noise on
        # stderr, where a job's one-line error must stay alone.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = from_numpy(
            data.train.x, targets=data.train.y, source=location, name=f"{recipe}-prepared", digest=data.digest[:32]
        )
    mlflow.log_input(dataset, context=keys.DATASET_CONTEXT)
    if found.diff is not None:
        mlflow.log_text(found.diff, keys.DIFF_ARTIFACT)


def hardware() -> dict[str, str]:
    """The CPU model; the GPU model, count and NVIDIA driver where torch sees CUDA devices."""
    found = {keys.HARDWARE_CPU: _cpu_model(), keys.HARDWARE_GPU_COUNT: "0"}
    torch = sys.modules.get("torch")  # never imported for this alone (a scikit-learn recipe has no torch)
    if torch is not None and torch.cuda.is_available():
        found[keys.HARDWARE_GPU_COUNT] = str(torch.cuda.device_count())
        found[keys.HARDWARE_GPU] = str(torch.cuda.get_device_name(0))
        found[keys.HARDWARE_DRIVER] = _nvidia_driver()
    return found


def _image(env: dict[str, str]) -> tuple[str, str]:
    """(reference, id): devtools' word, else the ECS task metadata (ECS, AWS Batch), else unknown."""
    if env.get(keys.IMAGE_ID_ENV):
        return env.get(keys.IMAGE_ENV) or UNKNOWN, env[keys.IMAGE_ID_ENV]
    uri = env.get(_ECS_METADATA)
    if uri:
        try:
            with urllib.request.urlopen(uri, timeout=2) as answer:
                container: dict[str, Any] = json.loads(answer.read())
            return str(container.get("Image") or UNKNOWN), str(container.get("ImageID") or UNKNOWN)
        except (OSError, ValueError):
            pass
    return UNKNOWN, UNKNOWN


def _diff(env: dict[str, str]) -> str | None:
    packed = env.get(keys.SOURCE_DIFF_ENV)
    return keys.unpack_diff(packed) if packed else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


def _nvidia_driver() -> str:
    if not shutil.which("nvidia-smi"):
        return UNKNOWN
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else UNKNOWN
