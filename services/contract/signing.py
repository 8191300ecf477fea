"""Signed model versions: what the promotion path writes and serving checks, spelled once.

The promotion path (`devtools sign`, `devtools promote`, `up --prod`'s seeded champion) signs a version's
artifacts, as MLflow serves them for `models:/<name>/<version>`, plus an identity file naming the model
and version, with the team's private key (OpenSSF model signing, an elliptic-curve key). The signature (a
Sigstore bundle, JSON) is stored as the version's tag SIGNATURE_TAG; serving downloads the same
artifacts, writes the same identity file beside them and verifies both against its trusted public keys.
The identity file binds a signature to its version: copied onto another version, it does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

SIGNATURE_TAG = "mlstack.signature"
SIGNED_BY_TAG = "mlstack.signed_by"  # the signing key's fingerprint (sha256 of its public half, 16 hex)
IDENTITY_FILE = ".mlstack-identity"
# Serving's own marker in its cache (services/serving/model/store.py): never part of what is signed.
NOT_SIGNED = (".complete",)


def identity_text(model: str, version: str) -> str:
    return f"model: {model}\nversion: {version}\n"


def write_identity(directory: Path, model: str, version: str) -> None:
    (directory / IDENTITY_FILE).write_text(identity_text(model, version), encoding="utf-8")


_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----(.+?)-----END PUBLIC KEY-----", re.DOTALL)


def public_key_blocks(text: str) -> list[str]:
    """The PEM public keys in `text`, whole blocks, in order (a trusted-keys file holds one or more)."""
    return [match.group(0) for match in _PEM.finditer(text)]


def fingerprint(pem: str) -> str:
    """A public key's name in tags, logs and /model: sha256 of its DER form (the PEM's body), 16 hex digits.
    ValueError when `pem` holds no public key."""
    match = _PEM.search(pem)
    if match is None:
        raise ValueError("no PEM public key (-----BEGIN PUBLIC KEY-----)")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except ValueError:
        raise ValueError("a PEM public key whose body is not base64") from None
    return hashlib.sha256(der).hexdigest()[:16]
