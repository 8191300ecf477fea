"""The champion/challenger comparison serving answers at /comparison, judged for `devtools promote`:
whether there is anything to promote, each threshold's verdict, and the figures as a table. Pure: the
comparison comes in as serving's JSON, nothing here asks anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.aliases import CHALLENGER, CHAMPION
from contract.status import Comparison, SideFigures
from contract.thresholds import Thresholds

__all__ = ["Check", "Pair", "Thresholds", "checks", "failures", "refusal", "table", "verdicts"]


@dataclass(frozen=True)
class Check:
    name: str  # requests, error_rate, p99_ratio, agreement
    passed: bool | None  # None: not applicable (the note says why)
    value: float | None
    limit: float
    shown: str  # the figure against the limit, e.g. "150 < 200" or "n/a (canary)"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "value": self.value, "limit": self.limit}


@dataclass(frozen=True)
class Pair:
    """The registered model, its two aliases and their versions as serving compared them."""

    model: str
    champion_alias: str
    challenger_alias: str
    champion: str | None
    challenger: str | None

    @classmethod
    def of(cls, comparison: Comparison) -> Pair:
        champion, challenger = _champion(comparison), _challenger(comparison)
        return cls(
            model=str(comparison.get("model")),
            champion_alias=str(champion.get("alias") or CHAMPION),
            challenger_alias=str(challenger.get("alias") or CHALLENGER),
            champion=None if champion.get("version") is None else str(champion["version"]),
            challenger=None if challenger.get("version") is None else str(challenger["version"]),
        )


def refusal(comparison: Comparison) -> str | None:
    """Why there is nothing to judge, --force or not: no challenger loaded, or no request scored by it."""
    model, challenger = comparison.get("model"), _challenger(comparison)
    alias = challenger.get("alias") or CHALLENGER
    if challenger.get("version") is None:
        reason = challenger.get("state_reason") or "serving loaded no version of it"
        return (
            f"no challenger to promote: {model}@{alias} is not loaded in serving ({reason}); train one with "
            "`devtools train -- --promote challenger`"
        )
    if not _count(challenger.get("requests")):
        return (
            f"not promoted: the challenger ({model}@{alias}, version {challenger['version']}) has scored no "
            f"requests yet ({comparison.get('mode')} mode); send traffic to serving and run it again"
        )
    return None


def checks(comparison: Comparison, limits: Thresholds) -> list[Check]:
    """Each threshold's verdict on the challenger, in the order they are shown."""
    champion, challenger = _champion(comparison), _challenger(comparison)
    requests, errors = _count(challenger.get("requests")), _count(challenger.get("errors"))
    rate = errors / requests if requests else 0.0
    return [
        Check(
            "requests",
            requests >= limits.min_requests,
            requests,
            limits.min_requests,
            f"{requests} {'>=' if requests >= limits.min_requests else '<'} {limits.min_requests}",
        ),
        Check(
            "error_rate",
            rate <= limits.max_error_rate,
            rate,
            limits.max_error_rate,
            f"{_percent(rate)} {'<=' if rate <= limits.max_error_rate else '>'} {_percent(limits.max_error_rate)} "
            f"({errors} of {requests})",
        ),
        _p99_check(champion.get("p99_ms"), challenger.get("p99_ms"), limits.max_p99_ratio),
        _agreement_check(comparison, limits.min_agreement),
    ]


def failures(results: list[Check]) -> list[Check]:
    return [check for check in results if check.passed is False]


def _p99_check(champion: Any, challenger: Any, limit: float) -> Check:
    if champion is None or challenger is None:
        missing = "the champion's" if champion is None else "the challenger's"
        return Check("p99_ratio", None, None, limit, f"n/a ({missing} p99 is not known yet)")
    champion_ms, challenger_ms = float(champion), float(challenger)
    if champion_ms <= 0:
        return Check("p99_ratio", challenger_ms <= 0, None, limit, f"{challenger_ms:.1f} ms vs the champion's 0 ms")
    ratio = challenger_ms / champion_ms
    passed = ratio <= limit
    return Check(
        "p99_ratio",
        passed,
        ratio,
        limit,
        f"{ratio:.2f} {'<=' if passed else '>'} {limit:.2f} ({challenger_ms:.1f} ms vs the champion's "
        f"{champion_ms:.1f} ms)",
    )


def _agreement_check(comparison: Comparison, limit: float) -> Check:
    compared = _count(comparison.get("compared"))
    if comparison.get("mode") == "canary":
        return Check("agreement", None, None, limit, "n/a (canary)")
    if not compared:
        return Check("agreement", None, None, limit, "n/a (no answers compared yet)")
    agreement = _agreement(comparison, compared)
    passed = agreement >= limit
    return Check(
        "agreement",
        passed,
        agreement,
        limit,
        f"{_percent(agreement)} {'>=' if passed else '<'} {_percent(limit)} ({compared} compared)",
    )


def table(comparison: Comparison) -> list[str]:
    """The comparison for a person: a header line, a row per version, the agreement line."""
    mode, challenger = comparison.get("mode"), _challenger(comparison)
    how = {
        "shadow": "shadow mode (the challenger scores a copy of each request)",
        "canary": f"canary mode (the challenger answers {float(comparison.get('canary_share') or 0) * 100:g}% "
        "of the requests)",
    }.get(str(mode), f"{mode} mode")
    since = comparison.get("since")
    lines = [f"{comparison.get('model')}: {how}" + (f", compared since {since}" if since else "")]
    rows = [["", "version", "requests", "errors", "error rate", "p50 ms", "p99 ms"]]
    for role, side in ((CHAMPION, _champion(comparison)), (CHALLENGER, _challenger(comparison))):
        requests, errors = _count(side.get("requests")), _count(side.get("errors"))
        rows.append(
            [
                f"@{side.get('alias') or role}",
                str(side.get("version") or "-"),
                str(requests),
                str(errors),
                _percent(errors / requests) if requests else "-",
                _ms(side.get("p50_ms")),
                _ms(side.get("p99_ms")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    if mode == "canary" and challenger.get("routed") is False:
        lines.append(f"  the challenger is out of canary routing: {challenger.get('state_reason') or 'failures'}")
    compared = _count(comparison.get("compared"))
    if mode == "canary":
        agreement = "n/a (canary)"
    elif compared:
        agreed = _count(comparison.get("agreed"))
        agreement = f"{_percent(_agreement(comparison, compared))} ({agreed} of {compared} compared agreed)"
    else:
        agreement = "n/a (no answers compared yet)"
    kind = f" ({comparison['kind']})" if comparison.get("kind") else ""
    lines.append(f"  agreement{kind}: {agreement}; shadow copies dropped: {_count(comparison.get('shadow_dropped'))}")
    return lines


def verdicts(results: list[Check]) -> list[str]:
    """A line per threshold: pass, fail or skip, the figure and the limit."""
    width = max(len(check.label) for check in results)
    word = {True: "pass", False: "fail", None: "skip"}
    return [f"  {word[check.passed]}  {check.label.ljust(width)}  {check.shown}" for check in results]


# An older serving may leave a side out, or answer null: judged as no figures.
def _champion(comparison: Comparison) -> SideFigures:
    side = comparison.get("champion")
    return side if isinstance(side, dict) else _NO_FIGURES


def _challenger(comparison: Comparison) -> SideFigures:
    side = comparison.get("challenger")
    return side if isinstance(side, dict) else _NO_FIGURES


_NO_FIGURES: SideFigures = {
    "alias": "",
    "version": None,
    "run_id": None,
    "requests": 0,
    "errors": 0,
    "p50_ms": None,
    "p99_ms": None,
}


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _agreement(comparison: Comparison, compared: int) -> float:
    given = comparison.get("agreement")
    return float(given) if isinstance(given, int | float) else _count(comparison.get("agreed")) / compared


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _ms(value: Any) -> str:
    return f"{float(value):.1f}" if isinstance(value, int | float) else "-"
