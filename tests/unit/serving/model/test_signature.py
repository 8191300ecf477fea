"""Signature verification before a load (serving/model/signature.py), with real keys and OpenSSF model
signing: what is refused, and the one line that says why. The signer is devtools' (the promotion path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract.signing import SIGNATURE_TAG, public_key_blocks
from serving.model.signature import SignatureRefused, Verifier
from serving.settings import Settings, SettingsError

from devtools.models import signing
from testing.model_versions import LocalModelVersion


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "artifacts"
    (directory / "data").mkdir(parents=True)
    (directory / "MLmodel").write_text("flavors: {}\n")
    (directory / "data" / "model.pth").write_bytes(b"\x00weights" * 100)
    return directory


def signed(root: Path, model_dir: Path, version: str = "3") -> str:
    api = LocalModelVersion(model_dir)
    signing.sign_version(api, "digits", version, signing.key_path(root))  # type: ignore[arg-type]
    return str(api.tags[SIGNATURE_TAG])


def served_copy(model_dir: Path, tmp_path: Path) -> Path:
    """The version as serving's cache holds it: the same files and its own marker."""
    import shutil

    copy = tmp_path / "cache" / "3"
    shutil.copytree(model_dir, copy)
    (copy / ".complete").touch()
    return copy


def test_a_signed_version_verifies_and_names_its_key(tmp_path: Path, model_dir: Path) -> None:
    key, _ = signing.new_key(tmp_path)
    bundle = signed(tmp_path, model_dir)
    assert (
        Verifier(signing.trusted(tmp_path), True).check(served_copy(model_dir, tmp_path), "digits", "3", bundle) == key
    )


def test_refusals_say_why_in_one_line(tmp_path: Path, model_dir: Path) -> None:
    signing.new_key(tmp_path)
    bundle = signed(tmp_path, model_dir)
    copy = served_copy(model_dir, tmp_path)
    verifier = Verifier(signing.trusted(tmp_path), True)
    with pytest.raises(SignatureRefused, match=r"version 3 is not signed \(no mlstack.signature tag\)"):
        verifier.check(copy, "digits", "3", None)
    with pytest.raises(SignatureRefused, match="made for another version or model"):
        verifier.check(copy, "digits", "4", bundle)  # the signature copied onto another version
    (copy / "data" / "model.pth").write_bytes(b"changed")
    with pytest.raises(SignatureRefused, match=r"changed after signing: data/model\.pth"):
        verifier.check(copy, "digits", "3", bundle)
    other = tmp_path / "other"
    signing.new_key(other)
    with pytest.raises(SignatureRefused, match="not made by a trusted key"):
        Verifier(signing.trusted(other), True).check(served_copy(model_dir, tmp_path / "x"), "digits", "3", bundle)


def test_not_required_an_unsigned_version_is_served_but_a_bad_signature_never(tmp_path: Path, model_dir: Path) -> None:
    signing.new_key(tmp_path)
    bundle = signed(tmp_path, model_dir)
    copy = served_copy(model_dir, tmp_path)
    assert Verifier([], False).check(copy, "digits", "3", bundle) is None  # no key: not verifying
    lenient = Verifier(signing.trusted(tmp_path), False)
    assert lenient.check(copy, "digits", "3", None) is None
    with pytest.raises(SignatureRefused):
        lenient.check(copy, "digits", "4", bundle)


def test_a_rotation_overlap_serves_versions_signed_with_either_key(tmp_path: Path, model_dir: Path) -> None:
    old, _ = signing.new_key(tmp_path)
    by_old = signed(tmp_path, model_dir)
    new, previous = signing.new_key(tmp_path)
    assert previous == old and len(signing.trusted(tmp_path)) == 2
    by_new = signed(tmp_path, model_dir)
    verifier = Verifier(signing.trusted(tmp_path), True)
    copy = served_copy(model_dir, tmp_path)
    assert verifier.check(copy, "digits", "3", by_old) == old
    assert verifier.check(copy, "digits", "3", by_new) == new
    signing.retire_key(tmp_path, old)
    with pytest.raises(SignatureRefused, match="not made by a trusted key"):
        Verifier(signing.trusted(tmp_path), True).check(copy, "digits", "3", by_old)


def test_settings_refuse_a_signature_requirement_nothing_could_meet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_SIGNATURE_REQUIRED", "1")
    with pytest.raises(SettingsError, match="MODEL_SIGNATURE_REQUIRED=1 but no public key"):
        Settings.from_env()
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEYS", "not a key")
    with pytest.raises(SettingsError, match="MODEL_SIGNING_PUBLIC_KEYS: no PEM public key"):
        Settings.from_env()
    monkeypatch.delenv("MODEL_SIGNING_PUBLIC_KEYS")
    signing.new_key(tmp_path)
    keys = signing.trusted_path(tmp_path)
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEYS_FILE", str(keys))
    settings = Settings.from_env()
    assert settings.signature_required and list(settings.signing_public_keys) == public_key_blocks(keys.read_text())
