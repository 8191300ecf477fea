"""Content hashes of data: a file's bytes, or arrays' content, dtype and shape. The pipeline records them
in the manifest and checks them on load; a recipe hashes its source with them (training.recipes)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_arrays(*arrays: npt.NDArray[Any]) -> str:
    """Hash of the arrays' content, dtype and shape (independent of how they were stored)."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()
