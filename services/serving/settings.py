"""Serving configuration, from the environment (12-factor: the same image runs in dev, CI and ECS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from contract.accelerated import RUNTIME_CHOICES, RuntimeChoice
from contract.aliases import CHALLENGER, CHAMPION
from contract.signing import public_key_blocks
from contract.status import MODES, ChallengerMode

Choice = TypeVar("Choice", bound=str)


class SettingsError(ValueError):
    """A serving setting the process cannot start with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_alias: str
    tracking_uri: str
    # How often the alias is polled. MLflow webhooks cannot reach a private container by default,
    # so polling is the source of truth.
    poll_interval_s: float
    cache_dir: Path
    # Backoff for a version that failed to load or to pass the smoke test: doubles up to the cap.
    retry_initial_s: float
    retry_max_s: float
    # The challenger: a second alias of the same model, followed like the champion's. Empty: none.
    challenger_alias: str = CHALLENGER
    # shadow: the champion answers every request, the challenger scores a copy off the response path;
    # canary: the challenger answers canary_share of the requests; off: the challenger is not loaded.
    challenger_mode: ChallengerMode = "shadow"
    canary_share: float = 0.1
    # A client that sends this header always gets the same version in canary mode (sticky routing).
    canary_key_header: str = "X-Canary-Key"
    # Requests waiting to be shadow-scored; a full queue drops the copy (counted), never the request.
    shadow_queue_size: int = 256
    # The most of the time the shadow thread spends scoring (it rests in between): what a challenger may
    # take from the champion's CPU under load. 1: no limit.
    shadow_max_busy: float = 0.25
    # Canary: this many challenger failures in a row drop it from routing until a new version comes.
    challenger_max_failures: int = 5
    # Regression outputs agree when |champion - challenger| <= tolerance * max(1, |champion|).
    agreement_tolerance: float = 0.05
    # How often the comparison is logged as metrics on the challenger's MLflow run.
    comparison_log_interval_s: float = 30.0
    # Signed versions (serving/model/signature.py): the trusted public keys (PEM blocks), and whether a
    # version without a good signature is refused (production) or served with /model saying so.
    signing_public_keys: tuple[str, ...] = ()
    signature_required: bool = False
    # The micro-batcher's latency target (None: serving/model/batch_window.py's default) and a pinned
    # window (None: adaptive).
    p99_target_ms: float | None = None
    batch_wait_ms: float | None = None
    # What answers for a version (serving/model/runtime.py): auto, pyfunc, or onnx (the lean image).
    runtime: RuntimeChoice = "auto"

    @property
    def follows_challenger(self) -> bool:
        return bool(self.challenger_alias) and self.challenger_mode != "off"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            model_name=env.get("MODEL_NAME", "digits-classifier"),
            model_alias=env.get("MODEL_ALIAS", CHAMPION),
            tracking_uri=env.get("MLFLOW_TRACKING_URI", "http://mlflow:5000"),
            poll_interval_s=float(env.get("MODEL_POLL_INTERVAL_S", "2")),
            cache_dir=Path(env.get("MODEL_CACHE_DIR", "/tmp/model-cache")),
            retry_initial_s=float(env.get("MODEL_RETRY_INITIAL_S", "2")),
            retry_max_s=float(env.get("MODEL_RETRY_MAX_S", "60")),
            challenger_alias=env.get("MODEL_CHALLENGER_ALIAS", CHALLENGER).strip(),
            challenger_mode=_mode(env.get("MODEL_CHALLENGER_MODE", "shadow")),
            canary_share=_share(env.get("MODEL_CANARY_SHARE", "0.1"), "MODEL_CANARY_SHARE"),
            canary_key_header=env.get("MODEL_CANARY_KEY_HEADER", "X-Canary-Key"),
            shadow_queue_size=int(env.get("MODEL_SHADOW_QUEUE", "256")),
            shadow_max_busy=_share(env.get("MODEL_SHADOW_MAX_BUSY", "0.25"), "MODEL_SHADOW_MAX_BUSY"),
            challenger_max_failures=int(env.get("MODEL_CHALLENGER_MAX_FAILURES", "5")),
            agreement_tolerance=float(env.get("MODEL_AGREEMENT_TOLERANCE", "0.05")),
            comparison_log_interval_s=float(env.get("MODEL_COMPARISON_LOG_S", "30")),
            signing_public_keys=_public_keys(env),
            signature_required=_flag(env.get("MODEL_SIGNATURE_REQUIRED", "0"), "MODEL_SIGNATURE_REQUIRED"),
            p99_target_ms=_milliseconds(env.get("SERVING_P99_TARGET_MS", ""), "SERVING_P99_TARGET_MS"),
            batch_wait_ms=_milliseconds(env.get("SERVING_BATCH_WAIT_MS", ""), "SERVING_BATCH_WAIT_MS", zero=True),
            runtime=_runtime(env.get("SERVING_RUNTIME", "auto")),
        )


def _runtime(text: str) -> RuntimeChoice:
    return _one_of(text, RUNTIME_CHOICES, "SERVING_RUNTIME")


def _public_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """MODEL_SIGNING_PUBLIC_KEYS (PEM text), or the file MODEL_SIGNING_PUBLIC_KEYS_FILE names."""
    text, variable = env.get("MODEL_SIGNING_PUBLIC_KEYS", ""), "MODEL_SIGNING_PUBLIC_KEYS"
    path = env.get("MODEL_SIGNING_PUBLIC_KEYS_FILE", "")
    if not text.strip() and path:
        variable = "MODEL_SIGNING_PUBLIC_KEYS_FILE"
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SettingsError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
    try:
        keys = tuple(public_keys(text))
    except ValueError as exc:
        raise SettingsError(f"{variable}: {exc}") from None
    if not keys and _flag(env.get("MODEL_SIGNATURE_REQUIRED", "0"), "MODEL_SIGNATURE_REQUIRED"):
        raise SettingsError(
            "MODEL_SIGNATURE_REQUIRED=1 but no public key is given (MODEL_SIGNING_PUBLIC_KEYS or its _FILE): "
            "nothing could ever be served"
        )
    return keys


def public_keys(text: str) -> list[str]:
    """The PEM public keys in `text`, in order; ValueError for text that holds none or a broken one."""
    from cryptography.hazmat.primitives import serialization

    blocks = public_key_blocks(text)
    if text.strip() and not blocks:
        raise ValueError("no PEM public key (-----BEGIN PUBLIC KEY-----) in it")
    for block in blocks:
        try:
            serialization.load_pem_public_key(block.encode())
        except ValueError as exc:
            raise ValueError(f"a public key that does not load ({' '.join(str(exc).split())[:120]})") from None
    return blocks


def _milliseconds(text: str, variable: str, *, zero: bool = False) -> float | None:
    """A duration in ms; None when unset. Positive, or also 0 where `zero` (a window of no wait)."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not zero) or value != value or value == float("inf"):
        floor = "0 or more" if zero else "more than 0"
        raise SettingsError(f"{variable}={text!r}: expected milliseconds, {floor}")
    return value


def _flag(text: str, variable: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise SettingsError(f"{variable}={text!r}: expected 1 or 0")


def _mode(text: str) -> ChallengerMode:
    return _one_of(text, MODES, "MODEL_CHALLENGER_MODE")


def _one_of(text: str, choices: tuple[Choice, ...], variable: str) -> Choice:
    for choice in choices:
        if text.strip().lower() == choice:
            return choice
    raise SettingsError(f"{variable}={text!r}: expected one of {', '.join(choices)}")


def _share(text: str, variable: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise SettingsError(f"{variable}={text!r}: expected a fraction between 0 and 1 (0.1 = 10%)")
    return share
