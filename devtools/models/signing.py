"""The promotion key, and signing a model version with it (contract.signing says what is signed).

The key is an elliptic-curve (P-256) private key in PEM: DEVTOOLS_SIGNING_KEY names it, by default
.devtools/signing/promotion-key.pem (made by `devtools sign --new-key`, or by `up --prod` on first use as
the local stand-in for the team's key). It never enters a container: serving gets the public half(s), the
trusted keys file (.devtools/secrets/model-signing-public-keys.pem, a Compose secret), and training none.
Signing and its format are OpenSSF model signing's (`model_signing`); this module only gathers the bytes.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

from contract.signing import (
    NOT_SIGNED,
    SIGNATURE_TAG,
    SIGNED_BY_TAG,
    fingerprint,
    public_key_blocks,
    write_identity,
)

from devtools.errors import DevtoolsError, ExitCode
from devtools.models.mlflow_api import MlflowApi

KEY_ENV = "DEVTOOLS_SIGNING_KEY"
KEY_FILE = Path(".devtools/signing/promotion-key.pem")
TRUSTED_FILE = Path(".devtools/secrets/model-signing-public-keys.pem")


def key_path(root: Path) -> Path:
    return Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else root / KEY_FILE


def trusted_path(root: Path) -> Path:
    return root / TRUSTED_FILE


def public_pem(private_key: Path) -> str:
    """The key's public half, PEM; SIGNING when the file is not a private key we can use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(private_key.read_bytes(), password=None)
    except FileNotFoundError:
        raise DevtoolsError(
            f"no promotion key at {private_key}: make one with `devtools sign --new-key`, or set {KEY_ENV} "
            "to the team's key",
            ExitCode.SIGNING,
        ) from None
    except (ValueError, TypeError, OSError) as exc:
        raise DevtoolsError(f"{private_key}: not a usable private key ({_one_line(exc)})", ExitCode.SIGNING) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DevtoolsError(f"{private_key}: an elliptic-curve private key is needed (P-256)", ExitCode.SIGNING)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def trusted(root: Path) -> list[str]:
    path = trusted_path(root)
    return public_key_blocks(path.read_text()) if path.exists() else []


def _write_trusted(root: Path, blocks: list[str]) -> None:
    path = trusted_path(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text("".join(block.strip() + "\n" for block in blocks))
    path.chmod(0o644)  # read by serving's user through the secret's bind mount; the folder is 0700


def new_key(root: Path) -> tuple[str, str | None]:
    """A new promotion key at key_path(root), its public half added to the trusted keys (the old one stays
    trusted until retired: versions signed with either are served during the overlap). The old private key
    is kept beside it, named by its fingerprint. (new fingerprint, old fingerprint or None)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = key_path(root)
    old = None
    if path.exists():
        old = fingerprint(public_pem(path))
        path.rename(path.with_name(f"promotion-key.{old}.pem"))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    public = public_pem(path)
    blocks = trusted(root)
    if fingerprint(public) not in {fingerprint(block) for block in blocks}:
        _write_trusted(root, [*blocks, public])
    return fingerprint(public), old


def retire_key(root: Path, key_fingerprint: str) -> None:
    """No longer trusted: serving refuses versions signed with it once it restarts with the new list."""
    blocks = trusted(root)
    kept = [block for block in blocks if fingerprint(block) != key_fingerprint]
    if len(kept) == len(blocks):
        names = ", ".join(fingerprint(block) for block in blocks) or "none"
        raise DevtoolsError(f"no trusted key {key_fingerprint} (trusted: {names})", ExitCode.USAGE)
    if not kept:
        raise DevtoolsError("that is the last trusted key: add the new one first (`sign --new-key`)", ExitCode.USAGE)
    _write_trusted(root, kept)


def ensure_key(root: Path) -> str | None:
    """The local stand-in for the team's key, made on first use (`up --prod`); its fingerprint when made."""
    path = key_path(root)
    if path.exists():
        public = public_pem(path)
        if fingerprint(public) not in {fingerprint(block) for block in trusted(root)}:
            _write_trusted(root, [*trusted(root), public])
        return None
    return new_key(root)[0]


def sign_version(api: MlflowApi, model: str, version: str, private_key: Path) -> str:
    """Sign the version's artifacts, as MLflow serves them, with the key; store the signature as the
    version's tag. The key's fingerprint."""
    from model_signing import hashing, signing

    public = public_pem(private_key)  # a missing or unusable key fails before anything is downloaded
    record = api.model_version(model, version)
    source = str(record.get("source", ""))
    with tempfile.TemporaryDirectory(prefix="devtools-sign-") as work:
        directory = Path(work) / f"{model}-v{version}"
        directory.mkdir()
        files = api.download_tree(api.artifact_root(source), directory)
        if not files:
            raise DevtoolsError(f"version {version} of {model!r} has no artifacts at {source}", ExitCode.SIGNING)
        write_identity(directory, model, version)
        bundle = Path(work) / "model.sig"
        config = signing.Config().use_elliptic_key_signer(private_key=private_key)  # type: ignore[no-untyped-call]
        config.set_hashing_config(hashing.Config().set_ignored_paths(paths=NOT_SIGNED))  # type: ignore[no-untyped-call]
        try:
            config.sign(directory, bundle)
        except Exception as exc:  # model_signing's and cryptography's own errors
            raise DevtoolsError(f"signing version {version} failed: {_one_line(exc)}", ExitCode.SIGNING) from None
        signature = bundle.read_text()
    key = fingerprint(public)
    api.set_version_tag(model, version, SIGNATURE_TAG, signature)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    api.set_version_tag(model, version, SIGNED_BY_TAG, f"{key} {stamp}")
    return key


def is_signed(api: MlflowApi, model: str, version: str) -> bool:
    tags = {str(tag.get("key")): tag.get("value") for tag in api.model_version(model, version).get("tags", [])}
    return bool(tags.get(SIGNATURE_TAG))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
