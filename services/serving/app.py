"""The serving app: the registered model behind FastAPI, assembled from its parts.

`serving.http` answers requests (one serve path for /predict and /invocations), `serving.model` holds
and follows the served versions, `serving.traffic` runs the challenger on live traffic. `app` is what
uvicorn serves (`serving.app:app`, built on first access); the dev reloader builds a fresh one per code
change (create_app).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving import metrics
from serving.http.request_metrics import RequestMetrics
from serving.http.routes import routes
from serving.http.serve import DataPlane
from serving.model.batch_window import BatchWindow
from serving.model.batching import MicroBatcher
from serving.model.slot import ModelSlot
from serving.model.store import ModelStore
from serving.model.watcher import AliasWatcher
from serving.settings import Settings
from serving.traffic.comparison_log import ComparisonLogger
from serving.traffic.live import LiveTraffic


def create_app(settings: Settings | None = None, *, watch: bool = True) -> FastAPI:
    """The app for `settings` (default: the environment's). watch=False: nothing follows the registry,
    the slots are filled by whoever calls (tests, the reloader's warm model)."""
    settings = settings or Settings.from_env()
    slot = ModelSlot()
    challenger_slot = ModelSlot()
    challenger_slot.status.not_ready_reason = f"not resolved @{settings.challenger_alias} yet"
    live = LiveTraffic(settings, slot, challenger_slot)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not watch:
            yield
            metrics.log_totals()
            return
        store = ModelStore(settings)
        watchers = [AliasWatcher(store, slot, settings, peer=challenger_slot)]
        if settings.follows_challenger:
            alias = settings.challenger_alias
            watchers.append(AliasWatcher(store, challenger_slot, settings, alias=alias, optional=True, peer=slot))
        logger = ComparisonLogger(settings, live.figures)
        for watcher in watchers:
            watcher.start()
        if settings.follows_challenger:
            logger.start()
        yield
        for watcher in watchers:
            watcher.stop()
        logger.stop()
        # After uvicorn's graceful shutdown: every request it accepted has been answered by now.
        metrics.log_totals()

    app = FastAPI(
        title="mlstack serving",
        version="0.1.0",
        description=f"Serves `models:/{settings.model_name}@{settings.model_alias}` and follows the alias.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestMetrics)

    # Liveness stays here, beside the app it reports on (and where the dev-loop benchmark and the
    # Docker tier's reload test edit its answer).
    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers HTTP."""
        return {"status": "ok"}

    window = BatchWindow.configured(settings.p99_target_ms, settings.batch_wait_ms)
    app.include_router(routes(settings, DataPlane(slot, live), MicroBatcher(window)))
    app.state.slot = slot
    app.state.challenger_slot = challenger_slot
    app.state.live = live
    return app


def __getattr__(name: str) -> FastAPI:
    """`serving.app:app`, built when uvicorn asks for it (PEP 562), not at import: the dev reloader's
    worker imports this module for create_app and builds its one app itself (a second app per reload
    cost ~30 ms, its routes' pydantic models)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = globals()["app"] = create_app()
    return built
