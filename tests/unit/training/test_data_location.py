"""training.data_location: prepared data under an s3:// URI, through the real boto3 and moto's S3 server:
refused in one line while missing, uploaded by the pipeline (manifest last), read back into a fresh local
copy that is the same data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from training.__main__ import main

from testing.training_helpers import require


def test_prepared_data_round_trips_through_s3(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require("moto", "boto3", "numpy", "sklearn")
    import boto3
    from training.data import load_prepared
    from training.data_location import is_s3, local_dir
    from training.errors import EXIT_DATA

    from testing import moto_server

    with moto_server.running({}) as server:
        for key, value in {
            "AWS_ENDPOINT_URL": server.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TRAINING_DATA_CACHE": str(tmp_path / "cache"),
        }.items():
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="team-data")
        uri = "s3://team-data/digits/v1"
        assert is_s3(uri) and not is_s3(prepared_dir)

        assert main(["train", "--data-dir", uri, "--epochs", "1", "--tracking-uri", "http://127.0.0.1:9"]) == EXIT_DATA
        [missing] = capsys.readouterr().err.strip().splitlines()
        assert missing.startswith(
            "python -m training train: error: prepared data not found at s3://team-data/digits/v1: "
            "s3://team-data/digits/v1/manifest.json: "
        ) and missing.endswith(f"(run `python -m training pipeline --data-dir {uri}`)")

        assert main(["pipeline", "--data-dir", uri]) == 0
        assert capsys.readouterr().out.strip().endswith(f"uploaded to {uri}")
        keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="team-data")["Contents"])
        assert keys == ["digits/v1/manifest.json", "digits/v1/train.npz", "digits/v1/validation.npz"]

        shutil.rmtree(tmp_path / "cache")  # what another node has before its first job: nothing
        copy = local_dir(uri)
        assert load_prepared(copy).digest == load_prepared(prepared_dir).digest
