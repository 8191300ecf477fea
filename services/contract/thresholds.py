"""What a challenger must show on live traffic before `devtools promote` moves the champion's alias to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """The promotion limits; the defaults are `devtools promote`'s."""

    # Requests the challenger answered (canary) or scored (shadow): fewer prove nothing.
    min_requests: int = 200
    # Shadow mode: the share of compared rows on which both versions agree.
    min_agreement: float = 0.95
    # The challenger's errors over its requests.
    max_error_rate: float = 0.01
    # The challenger's p99 latency over the champion's.
    max_p99_ratio: float = 1.5
