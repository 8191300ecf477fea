"""What each lock file is made of: its inputs (the human-edited requirement files, with loose pins), the
platforms it is resolved for, and which torch build it holds.

Every lock of a platform is resolved under one joint resolution of all the inputs together (`stack`),
so a package two images share (torch, numpy, cloudpickle, mlflow, ...) has the same version in both,
and in the host's test environment: a model pickled in the training image unpickles in serving's with
the very same packages. Only the CUDA build of training resolves apart (its torch is another wheel).
"""

from __future__ import annotations

from dataclasses import dataclass

TORCH = "services/training/requirements-torch.txt"
SERVING = "services/serving/requirements.txt"
SERVING_LEAN = "services/serving/requirements-lean.txt"
TRAINING = "services/training/requirements.txt"
NOTEBOOK = "services/training/requirements-notebook.txt"
DEV_TOOLS = "requirements-dev.txt"
MLFLOW_SERVER = "docker/mlflow/requirements.txt"
MOTO = "docker/ecs-local/requirements-moto.txt"
PROJECT = "pyproject.toml"  # devtools' own dependencies
PROJECT_TESTS = "pyproject.toml[test]"  # and its test extra

# os/arch -> the wheel platform uv resolves for (the images are Debian bookworm: glibc 2.36).
PLATFORMS: dict[str, str] = {
    "linux/amd64": "x86_64-manylinux_2_28",
    "linux/arm64": "aarch64-manylinux_2_28",
}
DEFAULT_PLATFORMS = ("linux/amd64",)
PYTHON = "3.11"  # the images' Python (python:3.11-slim) and the host's here
JOINT = "stack"


@dataclass(frozen=True)
class LockSet:
    name: str  # locks/<name>.<os>-<arch>.txt
    inputs: tuple[str, ...]
    torch: str = "cpu"  # cpu: torch's CPU build (`+cpu`, from the wheelhouse or PyTorch's CPU index); cuda: PyPI's
    joint: bool = True  # resolved under the joint resolution of its platform (less torch for cuda)
    platforms: tuple[str, ...] = tuple(PLATFORMS)
    purpose: str = ""

    def file(self, platform: str) -> str:
        return f"locks/{self.name}.{platform.replace('/', '-')}.txt"


# The CUDA builds (TORCH_VARIANT=cuda: `up --gpu`, GPU jobs) hold PyPI's torch and its NVIDIA wheels,
# resolved under the joint resolution less torch; x86_64 only (where AWS and the team's boxes have GPUs).
CUDA_PLATFORMS = ("linux/amd64",)

LOCK_SETS: tuple[LockSet, ...] = (
    LockSet("serving", (TORCH, SERVING), purpose="the serving image"),
    LockSet(
        "serving-cuda", (TORCH, SERVING), "cuda", platforms=CUDA_PLATFORMS, purpose="the serving image, CUDA torch"
    ),
    LockSet("serving-lean", (SERVING_LEAN,), purpose="the lean serving image: ONNX Runtime, no torch"),
    LockSet("training", (TORCH, TRAINING), purpose="the training image (prod)"),
    LockSet(
        "training-cuda", (TORCH, TRAINING), "cuda", platforms=CUDA_PLATFORMS, purpose="the training image, CUDA torch"
    ),
    LockSet(
        "training-dev",
        (TORCH, TRAINING, NOTEBOOK, DEV_TOOLS),
        purpose="the training dev image and the devcontainer: training plus the notebook and the team's tools",
    ),
    LockSet(
        "training-dev-cuda",
        (TORCH, TRAINING, NOTEBOOK, DEV_TOOLS),
        "cuda",
        platforms=CUDA_PLATFORMS,
        purpose="the training dev image with CUDA torch (`up --gpu`)",
    ),
    LockSet("mlflow", (MLFLOW_SERVER,), purpose="the MLflow tracking server image"),
    LockSet("moto", (MOTO,), purpose="the AWS stand-in image of `deploy run-local`"),
    LockSet("host", (PROJECT,), purpose="devtools on the host (scripts/provision)"),
    LockSet(
        "host-tests",
        (PROJECT_TESTS, DEV_TOOLS, TORCH),
        purpose="the host's test environment (scripts/provision --tests): devtools, its tests, the team's tools",
    ),
)


def joint_inputs() -> tuple[str, ...]:
    """Every input of the locks resolved jointly, once each, in a stable order."""
    seen: dict[str, None] = {}
    for lock_set in LOCK_SETS:
        if lock_set.joint and lock_set.torch == "cpu":
            seen.update(dict.fromkeys(lock_set.inputs))
    return tuple(seen)


def named(name: str) -> LockSet:
    for lock_set in LOCK_SETS:
        if lock_set.name == name:
            return lock_set
    raise KeyError(name)
