"""What made a run, written by training and read by devtools (`devtools model`, `devtools repro`): the
environment variables devtools passes a job, the run and model-version tags they become, and the one
rule for a lock's digest.

- The image: a registry reference by digest when the image came from one (`repo@sha256:...`), and the
  local image's id (`sha256:...`) either way; on ECS and AWS Batch the task metadata says it.
- The environment: the sha256 of the lock the image installed (`devtools lock`), by its pins and hashes.
- The source: the git commit, whether the tree was dirty, and then the diff (an artifact of the run).
- The data: an MLflow dataset input with the prepared data's digest, source and schema.
- The hardware: the CPU model, the GPU model and count, the NVIDIA driver.
"""

from __future__ import annotations

import base64
import gzip
import hashlib

# Passed by devtools to the job's container (docker compose exec/run -e ...).
IMAGE_ENV = "DEVTOOLS_IMAGE"  # REGISTRY/repo@sha256:... when known, else the local name
IMAGE_ID_ENV = "DEVTOOLS_IMAGE_ID"  # sha256:... of the image the job runs in
GIT_COMMIT_ENV = "DEVTOOLS_GIT_COMMIT"
GIT_DIRTY_ENV = "DEVTOOLS_GIT_DIRTY"  # "true" or "false"
SOURCE_DIFF_ENV = "DEVTOOLS_SOURCE_DIFF"  # the uncommitted changes, gzip then base64 (DIFF_ENV_MAX at most)
REPRO_OF_ENV = "DEVTOOLS_REPRO_OF"  # the run a `devtools repro` reproduces
# `devtools repro`: the prepared data's digest the reproduced run trained on; training refuses other data
# (its exit code for data, 3) before it starts a run.
EXPECT_DATA_DIGEST_ENV = "DEVTOOLS_EXPECT_DATA_DIGEST"
# Larger diffs are not passed: the run says so, and `devtools repro` refuses it (it could not rebuild it).
DIFF_ENV_MAX = 96 * 1024  # under Linux's 128 KiB limit on one environment string
# Where the image keeps the lock it installed (docker/base/install-locked).
IMAGE_LOCK = "/opt/venv/devtools-lock.txt"

# Run tags (and model-version tags: IMAGE, IMAGE_ID, LOCK_SHA256, GIT_COMMIT).
IMAGE = "provenance.image"
IMAGE_ID = "provenance.image_id"
LOCK_SHA256 = "provenance.lock_sha256"
GIT_COMMIT = "mlflow.source.git.commit"  # MLflow's own tag: the UI shows it
GIT_DIRTY = "provenance.git_dirty"
GIT_DIFF = "provenance.git_diff"  # recorded, none (clean), too large, or unknown
DATA_DIGEST = "provenance.data_digest"
HARDWARE_CPU = "provenance.hardware.cpu"
HARDWARE_GPU = "provenance.hardware.gpu"
HARDWARE_GPU_COUNT = "provenance.hardware.gpu_count"
HARDWARE_DRIVER = "provenance.hardware.driver"
REPRO_OF = "provenance.repro_of"
# The `python -m training` arguments that train the same way (JSON list), data location included and
# the tracking server left out: what `devtools repro` replays (with --promote never).
COMMAND = "provenance.command"
WORLD_SIZE = "provenance.world_size"  # ranks in the job; repro replays single-rank runs
VERSION_TAGS = (IMAGE, IMAGE_ID, LOCK_SHA256, GIT_COMMIT, GIT_DIRTY, REPRO_OF)
# What `devtools repro --check` names when the metrics differ: the conditions that may explain it.
CONDITIONS = (IMAGE_ID, LOCK_SHA256, DATA_DIGEST, HARDWARE_CPU, HARDWARE_GPU, HARDWARE_GPU_COUNT, HARDWARE_DRIVER)

DIFF_ARTIFACT = "provenance/source.diff"
DIFF_RECORDED, DIFF_NONE, DIFF_TOO_LARGE, DIFF_UNKNOWN = "recorded", "none", "too large", "unknown"
DATASET_CONTEXT = "training"


def pack_diff(diff: str) -> str:
    """A diff as SOURCE_DIFF_ENV carries it: gzip (no timestamp: the same diff, the same value), base64."""
    return base64.b64encode(gzip.compress(diff.encode(), mtime=0)).decode()


def unpack_diff(packed: str) -> str | None:
    """SOURCE_DIFF_ENV's diff; None when the value is not one pack_diff made."""
    try:
        return gzip.decompress(base64.b64decode(packed)).decode()
    except (ValueError, OSError):  # binascii.Error is a ValueError
        return None


def is_resolver_note(line: str) -> bool:
    """A line of a lock that a relock rewrites whatever the packages: an indented `via` note, or the
    inputs digest (`devtools lock`)."""
    stripped = line.lstrip()
    return stripped.startswith("#") and (line[:1].isspace() or stripped.startswith("# devtools lock:"))


def lock_content(text: str) -> str:
    """A lock without its resolver notes: its pins, hashes and any line of its own."""
    return "\n".join(line for line in text.splitlines() if not is_resolver_note(line))


def lock_digest(text: str) -> str:
    """A lock's sha256 by its pins and hashes: one digest is one set of packages."""
    return hashlib.sha256(lock_content(text).encode()).hexdigest()
