"""Where prepared data lives: a directory, or an `s3://bucket/prefix` URI (production: every node of a
multi-node job reads the same objects).

For an s3:// URI the pipeline prepares the data in a local copy and uploads it, the manifest last;
training downloads what its local copy lacks and checks every file against the manifest, as for a
directory. The real boto3 talks to S3 (or to AWS_ENDPOINT_URL, an S3-compatible server).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from training.config import DEFAULT_RECIPE
from training.data import MANIFEST, PipelineResult, read_manifest, run_pipeline
from training.digests import sha256_file
from training.errors import DataError, one_line

S3_SCHEME = "s3://"
CACHE_ENV = "TRAINING_DATA_CACHE"  # where s3:// data is kept locally (default: the temp directory)


def is_s3(location: str | Path) -> bool:
    return str(location).startswith(S3_SCHEME)


def local_dir(location: str) -> Path:
    """Where prepared data at `location` is read from here: the directory itself, or, for an s3://
    URI, a local copy of its objects (downloaded where missing or different from the manifest)."""
    if not is_s3(location):
        return Path(location)
    bucket, prefix = _split_s3(location)
    cache = _cache_dir(location)
    s3 = _s3_client()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        manifest_path = cache / MANIFEST
        _download(s3, bucket, f"{prefix}/{MANIFEST}".lstrip("/"), manifest_path, location)
        manifest = read_manifest(manifest_path)
        for info in manifest["splits"].values():
            path = cache / info["file"]
            if not path.is_file() or sha256_file(path) != info["sha256"]:
                _download(s3, bucket, f"{prefix}/{info['file']}".lstrip("/"), path, location)
    except OSError as exc:
        raise DataError(f"cannot keep a local copy of {location} in {cache}: {exc.strerror or one_line(exc)}") from exc
    return cache


def prepare(location: str, *, force: bool = False, recipe: str = DEFAULT_RECIPE) -> str:
    """The pipeline for a directory or an s3:// URI (prepared in the local copy, then uploaded when
    the upload is not up to date); the summary line."""
    result = run_pipeline(_cache_dir(location) if is_s3(location) else Path(location), force=force, recipe=recipe)
    if not is_s3(location):
        return result.summary()
    publish(result, location)
    return f"{result.summary()}; uploaded to {location}"


def publish(result: PipelineResult, location: str) -> None:
    """Uploads prepared data to an s3:// URI: the splits, then the manifest (a reader never sees a
    manifest naming files that are not there yet)."""
    bucket, prefix = _split_s3(location)
    s3 = _s3_client()
    files = [info["file"] for info in result.manifest["splits"].values()] + [MANIFEST]
    for name in files:
        key = f"{prefix}/{name}".lstrip("/")
        try:
            s3.upload_file(str(result.data_dir / name), bucket, key)
        except Exception as exc:  # botocore's ClientError, EndpointConnectionError, NoCredentialsError
            raise DataError(f"cannot upload prepared data to {location}: {one_line(exc)[:200]}") from exc


def _cache_dir(location: str) -> Path:
    bucket, prefix = _split_s3(location)
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "training-data") / bucket / prefix


def _split_s3(location: str) -> tuple[str, str]:
    bucket, _, prefix = location[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise DataError(f"{location}: expected s3://BUCKET[/PREFIX]")
    return bucket, prefix.strip("/")


def _s3_client() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError as exc:
        raise DataError("s3:// data needs boto3 (pip install boto3)") from exc
    return boto3.client("s3")


def _download(s3: Any, bucket: str, key: str, path: Path, location: str) -> None:
    """One object to `path`, atomically (the ranks of a node may read the same cache)."""
    partial_path = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        s3.download_file(bucket, key, str(partial_path))
        os.replace(partial_path, path)
    except OSError:
        partial_path.unlink(missing_ok=True)
        raise
    except Exception as exc:  # botocore's ClientError (404, 403), EndpointConnectionError, NoCredentialsError
        partial_path.unlink(missing_ok=True)
        raise DataError(
            f"prepared data not found at {location}: s3://{bucket}/{key}: {one_line(exc)[:200]} "
            f"(run `python -m training pipeline --data-dir {location}`)"
        ) from exc
