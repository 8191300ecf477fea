"""HTTP load against serving from the host, shared by the dev (test_serving) and prod (test_prod_serving)
serving tests: every outcome recorded with when it started and ended and which version answered."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

ROWS = [[float((i * 7 + j) % 17) for j in range(64)] for i in range(5)]


def post(url: str, body: Any, content_type: str = "application/json", timeout: float = 30) -> tuple[int, Any, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), error.headers


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the request was sent
    ended: float  # ... and when its answer (or error) came back
    status: int  # 0: no HTTP answer at all
    version: str | None  # the model version that answered (X-Model-Version)
    problem: str | None  # None for a good answer


class LoadClient:
    """POSTs ROWS to `url` continuously from a few threads and records every outcome. /predict answers
    carry the version in the body and the X-Model-Version header, which must agree; /invocations (MLflow's
    protocol) only in the header."""

    def __init__(self, url: str, threads: int = 4, rows: Any = None) -> None:
        self.url = url
        self.rows = ROWS if rows is None else rows  # the digits model's tensor rows unless told
        self.threads = threads
        self.results: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _one(self) -> Outcome:
        started = time.monotonic()
        try:
            status, body, headers = post(self.url, {"inputs": self.rows}, timeout=10)
        except Exception as error:  # connection errors count as failed requests
            return Outcome(started, time.monotonic(), 0, None, repr(error))
        header = headers.get("X-Model-Version") if headers is not None else None
        version = body.get("model_version", header) if isinstance(body, dict) else header
        problem = None if status == 200 else str(body)[:200]
        if status == 200 and header != version:
            # Header and body come from the one model reference a request takes: never two versions.
            problem = f"X-Model-Version {header!r} but model_version {version!r}"
        return Outcome(started, time.monotonic(), status, version, problem)

    def _loop(self) -> None:
        while not self._stop.is_set():
            outcome = self._one()
            with self._lock:
                self.results.append(outcome)

    def __enter__(self) -> LoadClient:
        self._workers = [threading.Thread(target=self._loop, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=15)

    def failures(self) -> list[Outcome]:
        return [result for result in self.results if result.status != 200 or result.problem is not None]

    def stale_after(self, old: str, new: str) -> list[Outcome]:
        """Answers from `old` to requests sent after a client had its first answer from `new`: a swap that
        is one decision for the container has none (with two uvicorn workers, hundreds followed)."""
        first_new = min(r.ended for r in self.results if r.version == new)
        return [r for r in self.results if r.version == old and r.started > first_new]
