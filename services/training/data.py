"""Data pipeline: a recipe's source data -> train/validation `.npz` splits + manifest.json, and the prepared
data read back, checked against its manifest.

The recipe (training/recipes) says where the data comes from; the default, digits, reads
scikit-learn's bundled digits, so nothing is downloaded. The pipeline is skipped when the recipe,
the input hash and PIPELINE_VERSION are unchanged and every output still matches the hash recorded
in the manifest. Prepared data is for one recipe: the manifest names it (a manifest without a name
is the digits', from before recipes), and training refuses another recipe's data. Where the prepared
data lives (a directory, or an s3:// URI) is training.data_location's business.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from training.config import DEFAULT_RECIPE, default_data_location
from training.digests import sha256_file
from training.errors import DataError, one_line

# What the pipeline hands to training is part of the recipes' interface, so it is defined there.
from training.recipes import Prepared as Prepared
from training.recipes import Split as Split
from training.recipes import recipe_named

# Bump when the transformation or split changes: prepared data from another version is redone.
PIPELINE_VERSION = "1"
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2
SPLITS = ("train", "validation")
MANIFEST = "manifest.json"
# What manifests written before recipes existed (the digits', with no dtypes in them) hold; a recipe's
# data has whatever dtypes its source gives, and the manifest records them.
PRE_RECIPE_FEATURE_DTYPE = "float32"
PRE_RECIPE_LABEL_DTYPE = "int64"


def pipeline_command(recipe: str = DEFAULT_RECIPE) -> str:
    """The command that prepares the recipe's data, for error messages."""
    return "python -m training pipeline" + ("" if recipe == DEFAULT_RECIPE else f" --recipe {recipe}")


def _rebuild(recipe: str) -> str:
    return f"run `{pipeline_command(recipe)}` to rebuild it"


def manifest_recipe(manifest: dict[str, Any]) -> str:
    """The recipe prepared data is for; manifests written before recipes existed are the digits'."""
    return str(manifest.get("recipe") or DEFAULT_RECIPE)


@dataclass(frozen=True)
class PipelineResult:
    skipped: bool
    reason: str
    data_dir: Path
    manifest: dict[str, Any]

    def summary(self) -> str:
        counts = ", ".join(f"{name} {info['rows']} rows" for name, info in self.manifest["splits"].items())
        if self.skipped:
            return f"pipeline: up to date in {self.data_dir} ({counts}); skipped, use --force to rerun"
        return f"pipeline: wrote {counts} to {self.data_dir} ({self.reason})"


def run_pipeline(data_dir: Path, *, force: bool = False, recipe: str = DEFAULT_RECIPE) -> PipelineResult:
    """Prepare the recipe's splits in data_dir unless they are already up to date."""
    source = recipe_named(recipe).source()
    x, y = source.x, source.y
    manifest_path = data_dir / MANIFEST
    stale = "forced" if force else _stale_reason(manifest_path, source.description["sha256"], recipe)
    if stale is None:
        return PipelineResult(True, "up to date", data_dir, read_manifest(manifest_path, recipe))

    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, random_state=SPLIT_SEED, stratify=y if source.stratify else None
    )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        splits: dict[str, Any] = {}
        for name, split in zip(SPLITS, (Split(x_train, y_train), Split(x_val, y_val)), strict=True):
            path = data_dir / f"{name}.npz"
            _atomic_write(path, partial(_save_split, split=split))
            splits[name] = {
                "file": path.name,
                "rows": int(split.x.shape[0]),
                "x_shape": list(split.x.shape),
                "y_shape": list(split.y.shape),
                "sha256": sha256_file(path),
            }
        manifest: dict[str, Any] = {
            "pipeline_version": PIPELINE_VERSION,
            "recipe": recipe,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": source.description,
            "split": {"seed": SPLIT_SEED, "validation_fraction": VALIDATION_FRACTION, "stratified": source.stratify},
            "features": {
                "shape": list(x.shape[1:]),
                "dtype": x.dtype.name,
                "names": list(source.feature_names),
                **source.x_info,
            },
            "labels": {"shape": list(y.shape[1:]), "dtype": y.dtype.name, **source.y_info},
            "splits": splits,
        }
        # The manifest goes last: an interrupted run leaves no manifest claiming new files.
        text = json.dumps(manifest, indent=2) + "\n"
        _atomic_write(manifest_path, lambda f: f.write(text.encode()))
    except OSError as exc:
        raise DataError(f"cannot write prepared data to {data_dir}: {exc.strerror or one_line(exc)}") from exc
    return PipelineResult(False, stale, data_dir, manifest)


def load_prepared(data_dir: Path, recipe: str = DEFAULT_RECIPE) -> Prepared:
    """Load and validate the recipe's prepared splits; DataError names the missing or corrupt file, or
    the recipe the data was prepared for when it is another."""
    manifest_path = data_dir / MANIFEST
    command = pipeline_command(recipe)
    if not manifest_path.is_file():
        raise DataError(f"prepared data not found: {manifest_path} is missing (run `{command}`)")
    manifest = read_manifest(manifest_path, recipe)
    prepared_for = manifest_recipe(manifest)
    if prepared_for != recipe:
        # Most likely a --data-dir that names another recipe's data: each has its own by default.
        raise DataError(
            f"prepared data in {data_dir} is for recipe {prepared_for!r}, not {recipe!r} (give --data-dir the "
            f"{recipe} data, by default {default_data_location(recipe)}, which `{command}` prepares)"
        )
    if manifest.get("pipeline_version") != PIPELINE_VERSION:
        raise DataError(
            f"prepared data in {data_dir} is from pipeline version {manifest.get('pipeline_version')!r}, "
            f"expected {PIPELINE_VERSION!r} (run `{command}`)"
        )
    loaded = [_load_split(data_dir, manifest, name, recipe) for name in SPLITS]
    return Prepared(train=loaded[0], validation=loaded[1], manifest=manifest, manifest_path=manifest_path)


def _load_split(data_dir: Path, manifest: dict[str, Any], name: str, recipe: str) -> Split:
    info = manifest["splits"][name]
    path = data_dir / info["file"]
    if not path.is_file():
        raise DataError(f"data file missing: {path} ({_rebuild(recipe)})")
    if sha256_file(path) != info["sha256"]:
        raise DataError(f"data file corrupt: {path} does not match its sha256 in {MANIFEST} ({_rebuild(recipe)})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x"], archive["y"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"data file unreadable: {path} ({one_line(exc)})") from exc
    # Manifests from before recipes name no dtypes other than the digits'.
    x_dtype = (manifest.get("features") or {}).get("dtype", PRE_RECIPE_FEATURE_DTYPE)
    y_dtype = (manifest.get("labels") or {}).get("dtype", PRE_RECIPE_LABEL_DTYPE)
    if list(x.shape) != info["x_shape"] or list(y.shape) != info["y_shape"] or x.dtype.name != x_dtype:
        found = f"x{x.shape} {x.dtype}, y{y.shape}"
        raise DataError(f"data file corrupt: {path} holds {found}, unlike its manifest ({_rebuild(recipe)})")
    return Split(x=x, y=y.astype(y_dtype))


def read_manifest(path: Path, recipe: str = DEFAULT_RECIPE) -> dict[str, Any]:
    """A manifest.json with every split's file, hash and shapes; DataError naming the file otherwise."""
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not all(
            {"file", "sha256", "x_shape", "y_shape"} <= set(manifest["splits"][name]) for name in SPLITS
        ):
            raise ValueError("unexpected structure")
        return manifest
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"manifest unreadable: {path} ({one_line(exc)}; {_rebuild(recipe)})") from exc


def _stale_reason(manifest_path: Path, source_sha256: str, recipe: str) -> str | None:
    """Why the prepared data must be redone, or None when it is up to date."""
    if not manifest_path.is_file():
        return "no manifest yet"
    try:
        manifest = read_manifest(manifest_path, recipe)
    except DataError:
        return "manifest unreadable"
    if manifest_recipe(manifest) != recipe:
        return f"recipe {manifest_recipe(manifest)} -> {recipe}"
    if manifest.get("pipeline_version") != PIPELINE_VERSION:
        return f"pipeline version {manifest.get('pipeline_version')} -> {PIPELINE_VERSION}"
    if manifest.get("source", {}).get("sha256") != source_sha256:
        return "input data changed"
    for name in SPLITS:
        path = manifest_path.parent / manifest["splits"][name]["file"]
        if not path.is_file():
            return f"{path.name} missing"
        if sha256_file(path) != manifest["splits"][name]["sha256"]:
            return f"{path.name} changed"
    return None


def _save_split(f: IO[bytes], split: Split) -> None:
    np.savez(f, x=split.x, y=split.y)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through a temporary file in the same directory, then rename over path."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        # mkstemp creates 0600; the data volume is shared by the prod and dev users.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
