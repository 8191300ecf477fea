"""docker/mlflow/mlflow-store with this machine's MLflow (the image's version, one lock) on real SQLite
stores: an older store (written by MLflow 3.10, tests/docker/fixtures) is migrated after a copy beside
it, a failed migration puts it back, a newer one is refused untouched, a backup restores."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import shutil
import sqlite3
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from testing.cli_harness import REPO
from testing.training_helpers import require

require("mlflow", "alembic", "sqlalchemy")

FIXTURE = REPO / "tests/docker/fixtures/mlflow-3.10-store.tar.gz"
OLD_REVISION = "1b5f0d9ad7c1"  # MLflow 3.10's head


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("mlflow_store", str(REPO / "docker/mlflow/mlflow-store"))
    spec = importlib.util.spec_from_loader("mlflow_store", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mlflow_store"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


store = load()


@pytest.fixture
def old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mlflow"
    root.mkdir()
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(root, filter="data")
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", f"sqlite:///{root}/mlflow.db")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(root / "artifacts"))
    return root


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql).fetchall())


def test_an_older_store_is_copied_then_migrated_and_keeps_everything(old_store: Path) -> None:
    db = old_store / "mlflow.db"
    before = digest(db)
    said = store.upgrade(f"sqlite:///{db}")
    (backup,) = old_store.glob(f"mlflow.db.{OLD_REVISION}.*.backup")
    assert str(backup) in said and f"from schema revision {OLD_REVISION}" in said
    assert rows(backup, "select version_num from alembic_version") == [(OLD_REVISION,)]
    assert digest(db) != before
    assert store.schema(f"sqlite:///{db}").state == "current"
    assert rows(db, "select key, value, step from metrics order by step") == [
        ("accuracy", 0.5, 0),
        ("accuracy", 0.75, 1),
    ]
    assert rows(db, "select alias, version from registered_model_aliases") == [("champion", 1)]
    assert store.upgrade(f"sqlite:///{db}") is None  # current now: nothing to do, no second copy
    assert len(list(old_store.glob("*.backup"))) == 1


def test_a_migration_that_fails_halfway_puts_the_store_back(old_store: Path) -> None:
    db = old_store / "mlflow.db"
    before = digest(db)

    def half(uri: str) -> None:
        with sqlite3.connect(db) as connection:
            connection.execute("create table half_migrated (x)")
        raise store.StoreError("`mlflow db upgrade` failed: boom", store.FAILED)

    with pytest.raises(store.StoreError, match="boom"):
        store.upgrade(f"sqlite:///{db}", migrate=half)
    assert rows(db, "select name from sqlite_master where name = 'half_migrated'") == []
    assert rows(db, "select version_num from alembic_version") == [(OLD_REVISION,)]
    assert digest(db) == before or rows(db, "select count(*) from runs") == [(1,)]


def test_a_store_from_a_newer_mlflow_is_refused_untouched(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = old_store / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("update alembic_version set version_num = 'ffffffffffff'")
    before = sorted(path.name for path in old_store.iterdir()), digest(db)
    assert store.main(["serve"]) == store.REFUSED
    assert (sorted(path.name for path in old_store.iterdir()), digest(db)) == before
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("mlflow-store: the store is at schema revision ffffffffffff") and "not touched" in line


def test_backup_then_restore_into_an_empty_store_gives_it_back(old_store: Path, tmp_path: Path) -> None:
    store.upgrade(f"sqlite:///{old_store / 'mlflow.db'}")
    archive = tmp_path / "backups/one.tar.gz"
    assert "saved the store" in store.backup(archive)
    with tarfile.open(archive) as opened:
        assert {"MANIFEST.json", "mlflow.db", "artifacts/1"} <= set(opened.getnames())
    assert store.main(["restore", str(archive)]) == store.REFUSED  # runs there: --replace, or nothing
    for path in old_store.iterdir():
        path.unlink() if path.is_file() else shutil.rmtree(path)
    assert "restored the store" in store.restore(archive, replace=False)
    assert rows(old_store / "mlflow.db", "select alias, version from registered_model_aliases") == [("champion", 1)]
    assert (next(old_store.glob("artifacts/1/*/artifacts/notes/hello.txt"))).read_text().startswith("hello from")


def test_authentication_needs_both_secrets_and_starts_nothing_open(tmp_path: Path) -> None:
    env = {"MLFLOW_AUTH": "basic", "MLFLOW_AUTH_ADMIN_PASSWORD": "pw"}
    with pytest.raises(store.StoreError) as refused:
        store.auth_args(env, tmp_path)
    assert refused.value.code == store.REFUSED
    assert "needs MLFLOW_FLASK_SERVER_SECRET_KEY" in str(refused.value)
    assert store.auth_args({}, tmp_path) == [] and store.auth_args({"MLFLOW_AUTH": "off"}, tmp_path) == []
    with pytest.raises(store.StoreError) as unknown:
        store.auth_args({"MLFLOW_AUTH": "oauth"}, tmp_path)
    assert unknown.value.code == store.USAGE
    secrets = {"MLFLOW_AUTH_ADMIN_PASSWORD": "pw", "MLFLOW_FLASK_SERVER_SECRET_KEY": "k"}
    with pytest.raises(store.StoreError, match="MLFLOW_AUTH_CACHE_TTL_S='1m': expected whole seconds"):
        store.auth_args({"MLFLOW_AUTH": "basic", **secrets, "MLFLOW_AUTH_CACHE_TTL_S": "1m"}, tmp_path)


def test_authentication_writes_a_closed_config_without_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("s3cret\n")
    env = {
        "MLFLOW_AUTH": "basic",
        "MLFLOW_AUTH_ADMIN_PASSWORD_FILE": str(secret),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "k",
        "MLFLOW_AUTH_DATABASE_URI": "postgresql://u:p%40ss@db/mlflow",
    }
    store.secrets_from_files(env)
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == "s3cret"
    assert store.auth_args(env, tmp_path) == ["--app-name", "basic-auth"]
    config = Path(env["MLFLOW_AUTH_CONFIG_PATH"]).read_text()
    assert "default_permission = NO_PERMISSIONS" in config
    assert "auth_cache_ttl_seconds = 60" in config  # a PBKDF2 check per request otherwise (0.5 s here)
    assert "database_uri = postgresql://u:p%%40ss@db/mlflow" in config  # configparser's escaped %
    assert "s3cret" not in config
    import configparser

    parsed = configparser.ConfigParser()
    parsed.read(env["MLFLOW_AUTH_CONFIG_PATH"])
    assert parsed["mlflow"]["database_uri"] == "postgresql://u:p%40ss@db/mlflow"
