"""Every HTTP request counted and timed per route (serving_requests_total, serving_request_seconds)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import metrics

UNMATCHED_ROUTE = "unmatched"


def route_template(scope: Scope) -> str:
    """The route's path template (`/predict`), never the raw path: one time series per route, however
    many URLs clients send. FastAPI's router puts the matched route into the request's scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestMetrics:
    """Pure ASGI middleware (no per-request task like BaseHTTPMiddleware): count and time requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        metrics.IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            metrics.IN_PROGRESS.dec()
            endpoint = route_template(scope)
            metrics.REQUESTS.labels(endpoint, str(status["code"])).inc()
            metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - start)
