"""Verifying a model version's signature before it is loaded (contract.signing says what is signed).

Loading an MLflow model unpickles it, which runs code: a version is loaded only after its artifacts and
the identity file verify against one of the trusted public keys (MODEL_SIGNING_PUBLIC_KEYS: one or more
PEM blocks, several during a key rotation). With MODEL_SIGNATURE_REQUIRED=1 (production) a version
without a good signature is refused; otherwise it is verified when keys are given and served anyway,
with the outcome in /model. The verification itself is OpenSSF model signing's, not ours.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contract.signing import IDENTITY_FILE, NOT_SIGNED, SIGNATURE_TAG, fingerprint, write_identity


class SignatureRefused(Exception):
    """The version's signature is missing, made by an untrusted key, or over other bytes: not loaded."""


@dataclass(frozen=True)
class TrustedKey:
    fingerprint: str
    path: Path  # model_signing reads keys from files


def mode(required: bool, has_keys: bool) -> str:
    """required | verifying | off: what /model says about signatures."""
    if required:
        return "required"
    return "verifying" if has_keys else "off"


class Verifier:
    def __init__(self, pems: list[str], required: bool) -> None:
        self.required = required
        self._dir = Path(tempfile.mkdtemp(prefix="trusted-keys-"))
        self.keys: list[TrustedKey] = []
        for index, pem in enumerate(pems):
            path = self._dir / f"key-{index}.pem"
            path.write_text(pem)
            self.keys.append(TrustedKey(fingerprint(pem), path))

    @property
    def mode(self) -> str:
        return mode(self.required, bool(self.keys))

    def check(self, directory: Path, model: str, version: str, bundle: str | None) -> str | None:
        """The fingerprint of the key the version verifies with; None when not verifying (no keys, not
        required). SignatureRefused with the reason when it does not verify and a signature is required,
        or when one is present but wrong (a tampered version is never served, even where not required)."""
        if not self.keys:
            if self.required:
                raise SignatureRefused("no trusted public key configured (MODEL_SIGNING_PUBLIC_KEYS)")
            return None
        if not bundle:
            if self.required:
                raise SignatureRefused(f"version {version} is not signed (no {SIGNATURE_TAG} tag): refused")
            return None
        from model_signing import hashing, verifying

        write_identity(directory, model, version)
        signature = Path(tempfile.mkdtemp(prefix="signature-")) / "model.sig"
        signature.write_text(bundle)
        untrusted: list[str] = []
        try:
            for key in self.keys:
                config = verifying.Config().use_elliptic_key_verifier(public_key=key.path)  # type: ignore[no-untyped-call]
                config.set_hashing_config(hashing.Config().set_ignored_paths(paths=NOT_SIGNED))  # type: ignore[no-untyped-call]
                try:
                    config.verify(directory, signature)
                    return key.fingerprint
                except Exception as exc:  # model_signing raises ValueError and cryptography's own errors
                    text = " ".join(str(exc).split())
                    if text.startswith("Signature mismatch"):
                        # The key's signature is genuine, the bytes are not the ones it covered.
                        raise SignatureRefused(
                            f"version {version}: {_mismatch(text)} (key {key.fingerprint})"
                        ) from None
                    untrusted.append(key.fingerprint)
        finally:
            signature.unlink(missing_ok=True)
            signature.parent.rmdir()
        raise SignatureRefused(
            f"version {version}'s signature was not made by a trusted key (trusted: {', '.join(untrusted)})"
        )


def _mismatch(text: str) -> str:
    """model_signing's manifest difference, as what changed (file names, not digests)."""
    changed = re.findall(r"Hash mismatch for \\?'([^'\\]+)\\?'", text)
    if changed == [IDENTITY_FILE]:
        return "the signature was made for another version or model, not this one"
    parts = []
    if changed:
        parts.append(f"changed after signing: {', '.join(name for name in changed if name != IDENTITY_FILE)}")
    for label, pattern in (
        ("added", r"Extra files found in model '[^']*': ([^\]\"]+)"),
        ("removed", r"Missing files in model '[^']*': ([^\]\"]+)"),
    ):
        found = re.search(pattern, text)
        if found:
            parts.append(f"files {label} after signing: {found.group(1).strip()}")
    return "; ".join(parts) or "the artifacts differ from what was signed"
