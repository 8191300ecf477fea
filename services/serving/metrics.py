"""Prometheus metrics of the serving process."""

from __future__ import annotations

import json
import logging

from prometheus_client import Counter, Gauge, Histogram

STOPPED = "serving stopped:"

IN_PROGRESS = Gauge("serving_requests_in_progress", "Requests being handled (graceful shutdown waits for these)")

REQUESTS = Counter("serving_requests_total", "HTTP requests", ["endpoint", "status"])
LATENCY = Histogram(
    "serving_request_seconds",
    "Request latency",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MODEL_VERSION = Gauge("serving_model_version", "Registered model version being served", ["model", "alias"])
SWAPS = Counter("serving_model_swaps_total", "Successful model swaps")
SWAP_FAILURES = Counter("serving_model_swap_failures_total", "Versions that failed to load or smoke-test")
SIGNATURE_REFUSALS = Counter(
    "serving_model_signature_refusals_total", "Load attempts refused: a version unsigned, untrusted or altered"
)

# The champion and the challenger (serving/traffic): role is champion|challenger; path is answered (the
# client got this answer) or shadow (scored off the response path); outcome is ok|error.
PREDICTIONS = Counter(
    "serving_predictions_total", "Predictions per role and version", ["role", "version", "path", "outcome"]
)
PREDICT_SECONDS = Histogram(
    "serving_predict_seconds",
    "Time in the model per prediction, per role and path",
    ["role", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SHADOW_DROPPED = Counter("serving_shadow_dropped_total", "Shadow copies dropped because the shadow queue was full")
SHADOW_COMPARED = Counter("serving_shadow_compared_total", "Rows answered by both versions and compared", ["kind"])
SHADOW_AGREED = Counter(
    "serving_shadow_agreed_total", "Compared rows the versions agree on (same top class, or within tolerance)", ["kind"]
)
CHALLENGER_ROUTED = Gauge("serving_challenger_routed", "1 while a challenger takes canary traffic, else 0")


def totals() -> dict[str, dict[str, int]]:
    """serving_requests_total as {route template: {status: count}}."""
    counted: dict[str, dict[str, int]] = {}
    for metric in REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                by_status = counted.setdefault(sample.labels["endpoint"], {})
                by_status[sample.labels["status"]] = int(sample.value)
    return counted


def log_totals() -> None:
    """One line at shutdown: what this server answered over its life, and what was still in progress
    (0 after a graceful stop). The last word of a process whose /metrics is gone with it."""
    in_progress = int(sum(sample.value for metric in IN_PROGRESS.collect() for sample in metric.samples))
    logging.getLogger("serving").info(
        "%s %s", STOPPED, json.dumps({"requests": totals(), "in_progress": in_progress}, sort_keys=True)
    )
