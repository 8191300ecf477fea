"""training.data: the pipeline per recipe (splits, manifest, skip when up to date) and the prepared files
read back and validated; prepared data is one recipe's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from testing.training_helpers import require

require("numpy", "sklearn")

import numpy as np  # noqa: E402
from training.config import default_data_location  # noqa: E402
from training.data import (  # noqa: E402
    MANIFEST,
    PIPELINE_VERSION,
    load_prepared,
    run_pipeline,
)
from training.digests import sha256_file  # noqa: E402
from training.errors import EXIT_DATA, DataError  # noqa: E402


def test_pipeline_writes_splits_and_manifest(tmp_path: Path) -> None:
    result = run_pipeline(tmp_path)

    assert not result.skipped and result.reason == "no manifest yet"
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest == result.manifest
    assert manifest["pipeline_version"] == PIPELINE_VERSION
    assert len(manifest["source"]["sha256"]) == 64
    splits = manifest["splits"]
    assert splits["train"]["rows"] + splits["validation"]["rows"] == manifest["source"]["rows"] == 1797
    assert splits["validation"]["rows"] == 360
    assert manifest["features"]["shape"] == [64]
    for info in splits.values():
        path = tmp_path / info["file"]
        assert sha256_file(path) == info["sha256"]
        assert info["x_shape"] == [info["rows"], 64]
        assert info["y_shape"] == [info["rows"]]
    data = load_prepared(tmp_path)
    assert data.train.x.dtype == np.float32 and data.train.x.shape == (1437, 64)
    assert set(np.unique(data.validation.y)) == set(range(10))
    assert 0 <= data.train.x.min() and data.train.x.max() <= 16


def test_second_run_is_skipped_and_force_reruns(tmp_path: Path) -> None:
    run_pipeline(tmp_path)
    manifest_before = (tmp_path / MANIFEST).read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    again = run_pipeline(tmp_path)

    assert again.skipped
    assert "skipped" in again.summary()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes
    forced = run_pipeline(tmp_path, force=True)
    assert not forced.skipped and forced.reason == "forced"
    before, after = json.loads(manifest_before)["splits"], forced.manifest["splits"]
    assert {k: v["rows"] for k, v in after.items()} == {k: v["rows"] for k, v in before.items()}


def test_split_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run_pipeline(first)
    run_pipeline(second)
    a, b = load_prepared(first), load_prepared(second)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.validation.y, b.validation.y)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: (d / "train.npz").unlink(), "train.npz missing"),
        (lambda d: (d / "validation.npz").write_bytes(b"garbage"), "validation.npz changed"),
        (lambda d: (d / MANIFEST).write_text("{not json"), "manifest unreadable"),
        (lambda d: (d / MANIFEST).unlink(), "no manifest yet"),
    ],
)
def test_damaged_outputs_are_rebuilt(data_copy: Path, damage: Callable[[Path], object], reason: str) -> None:
    damage(data_copy)

    result = run_pipeline(data_copy)

    assert not result.skipped
    assert result.reason == reason
    load_prepared(data_copy)


def test_input_or_version_change_reruns(data_copy: Path) -> None:
    manifest = json.loads((data_copy / MANIFEST).read_text())
    manifest["source"]["sha256"] = "0" * 64
    (data_copy / MANIFEST).write_text(json.dumps(manifest))
    assert run_pipeline(data_copy).reason == "input data changed"

    manifest = json.loads((data_copy / MANIFEST).read_text())
    manifest["pipeline_version"] = "0"
    (data_copy / MANIFEST).write_text(json.dumps(manifest))
    assert run_pipeline(data_copy).reason == f"pipeline version 0 -> {PIPELINE_VERSION}"


def test_load_without_prepared_data_names_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path / MANIFEST}.*python -m training pipeline"):
        load_prepared(tmp_path)


def test_load_missing_file_names_it(data_copy: Path) -> None:
    (data_copy / "validation.npz").unlink()
    with pytest.raises(DataError, match=rf"data file missing: {data_copy / 'validation.npz'}"):
        load_prepared(data_copy)


def test_load_corrupt_file_names_it(data_copy: Path) -> None:
    with (data_copy / "train.npz").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(DataError, match=rf"data file corrupt: {data_copy / 'train.npz'} does not match its sha256"):
        load_prepared(data_copy)


def test_load_unreadable_file_with_matching_hash_names_it(data_copy: Path) -> None:
    # A file that matches the manifest yet is not an npz archive (e.g. a manifest edited by hand).
    path = data_copy / "train.npz"
    path.write_bytes(b"not a zip archive")
    manifest = json.loads((data_copy / MANIFEST).read_text())
    manifest["splits"]["train"]["sha256"] = sha256_file(path)
    (data_copy / MANIFEST).write_text(json.dumps(manifest))

    with pytest.raises(DataError, match=rf"data file unreadable: {path}"):
        load_prepared(data_copy)


def test_load_corrupt_manifest_names_it(data_copy: Path) -> None:
    (data_copy / MANIFEST).write_text("[]")
    with pytest.raises(DataError, match=rf"manifest unreadable: {data_copy / MANIFEST}"):
        load_prepared(data_copy)


def test_unwritable_data_dir_is_a_data_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match=rf"cannot write prepared data to {blocker / 'data'}"):
        run_pipeline(blocker / "data")


def test_digits_manifest_names_its_recipe_and_pixels(prepared_dir: Path) -> None:
    manifest = json.loads((prepared_dir / MANIFEST).read_text())
    assert manifest["recipe"] == "digits" and manifest["split"]["stratified"] is True
    names = manifest["features"]["names"]
    assert len(names) == 64 and names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert (manifest["features"]["range"], manifest["labels"]["num_classes"]) == ([0, 16], 10)


def test_diabetes_is_prepared_with_named_float_columns(diabetes_dir: Path) -> None:
    manifest = json.loads((diabetes_dir / MANIFEST).read_text())
    assert manifest["recipe"] == "diabetes"
    assert manifest["features"]["names"] == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert (manifest["features"]["dtype"], manifest["labels"]["dtype"]) == ("float64", "float64")
    assert manifest["split"]["stratified"] is False
    assert {name: info["rows"] for name, info in manifest["splits"].items()} == {"train": 353, "validation": 89}
    data = load_prepared(diabetes_dir, "diabetes")
    assert data.train.x.shape == (353, 10) and str(data.train.y.dtype) == "float64"
    again = run_pipeline(diabetes_dir, recipe="diabetes")
    assert again.skipped and "up to date" in again.summary()


def test_data_prepared_before_recipes_is_the_digits_and_up_to_date(data_copy: Path) -> None:
    manifest = json.loads((data_copy / MANIFEST).read_text())
    del manifest["recipe"]
    del manifest["features"]["names"]
    del manifest["features"]["dtype"]
    del manifest["labels"]["dtype"]
    (data_copy / MANIFEST).write_text(json.dumps(manifest))

    assert run_pipeline(data_copy).skipped  # an existing stack's /data is not redone
    data = load_prepared(data_copy)
    assert data.train.x.shape == (1437, 64) and (data.train.x.dtype, data.train.y.dtype) == (np.float32, np.int64)


def test_another_recipes_data_is_refused_in_one_line_naming_the_fix(prepared_dir: Path) -> None:
    with pytest.raises(DataError) as raised:
        load_prepared(prepared_dir, "diabetes")
    assert str(raised.value) == (
        f"prepared data in {prepared_dir} is for recipe 'digits', not 'diabetes' (give --data-dir the diabetes "
        f"data, by default {default_data_location('diabetes')}, which `python -m training pipeline --recipe "
        "diabetes` prepares)"
    )
    assert raised.value.exit_code == EXIT_DATA


def test_preparing_another_recipe_in_the_same_dir_replaces_it(data_copy: Path) -> None:
    result = run_pipeline(data_copy, recipe="diabetes")
    assert not result.skipped and result.reason == "recipe digits -> diabetes"


def test_missing_diabetes_data_names_the_command_that_prepares_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\(run `python -m training pipeline --recipe diabetes`\)"):
        load_prepared(tmp_path, "diabetes")
