"""The JSON serving answers at GET /model and GET /comparison, as types: serving builds its answers as
these (so the type checker holds it to the keys) and devtools reads them (`devtools model`, `devtools
promote`). JSON has no dates or enums: times are ISO 8601 strings, modes and kinds plain strings.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

from contract.accelerated import RuntimeStatus

# How serving uses the challenger (MODEL_CHALLENGER_MODE): shadow scores a copy of each request off the
# response path; canary answers a share of the requests with it; off does not load it.
ChallengerMode = Literal["shadow", "canary", "off"]
MODES: tuple[ChallengerMode, ...] = get_args(ChallengerMode)

# How shadow answers were compared: the same top class (scores per class, labels) or within a
# tolerance (regression). None until a pair of answers was compared.
ComparisonKind = Literal["classification", "regression"]


class SignatureDescription(TypedDict):
    """The served version's MLflow signature in MLmodel's JSON form (`Schema.to_dict()`)."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]] | None


class ChallengerStatus(TypedDict):
    """GET /model's `challenger`: the second alias serving follows, and whether it takes traffic."""

    alias: str
    mode: ChallengerMode
    canary_share: float | None  # canary mode only
    version: str | None  # None: no version loaded (state_reason says why)
    run_id: str | None
    loaded_at: str | None
    routed: bool  # canary mode and taking its share of the requests
    state_reason: str | None  # why it is not loaded or not routed; None when it is
    last_swap_error: str | None
    last_swap_error_version: str | None


class SignedStatus(TypedDict):
    """GET /model's `signed`: required (unsigned or altered versions are refused), verifying (checked when
    signed, a bad signature refused), off (no trusted key: not verifying); the key that verified it."""

    mode: str
    signed_by: str | None


class ModelStatus(TypedDict):
    """GET /model: the champion serving answers with, why none is ready, the last refused swap."""

    name: str
    alias: str
    version: str | None  # None until a version is loaded (not_ready_reason says why)
    run_id: str | None
    loaded_at: str | None
    signature: SignatureDescription | None
    # What made the version, from its tags (contract.provenance.VERSION_TAGS); {} for a version
    # registered before runs recorded it.
    provenance: dict[str, str] | None
    signed: SignedStatus
    runtime: RuntimeStatus | None  # what answers (ONNX Runtime or the pyfunc) and why; None: no version
    not_ready_reason: str | None
    last_swap_error: str | None  # a newer version that was not swapped in, and why
    last_swap_error_version: str | None
    challenger: ChallengerStatus | None  # None: no challenger followed (mode off, or no alias)


class _SideFigures(TypedDict):
    alias: str
    version: str | None
    run_id: str | None
    requests: int  # answered (champion, canary) or scored (shadow)
    errors: int
    p50_ms: float | None  # None before the first request
    p99_ms: float | None


class SideFigures(_SideFigures, total=False):
    """One version's figures in GET /comparison; `routed` and `state_reason` are the challenger's only."""

    routed: bool
    state_reason: str | None


class Comparison(TypedDict):
    """GET /comparison: the champion and the challenger on live traffic since this pair of versions began."""

    model: str
    mode: ChallengerMode  # off when no challenger is followed
    canary_share: float
    since: str | None  # when this pair of versions began to be compared
    champion: SideFigures
    challenger: SideFigures
    compared: int  # shadow rows both versions answered
    agreed: int
    agreement: float | None  # agreed / compared; None before a row was compared
    kind: ComparisonKind | None
    shadow_dropped: int  # shadow copies dropped because the queue was full
    shadow_queued: int  # shadow copies waiting or being scored
