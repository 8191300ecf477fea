"""Prometheus metrics of the serving process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
