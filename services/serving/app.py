"""HTTP surface of the serving container: the registered model behind FastAPI."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import metrics
from serving.batching import MicroBatcher
from serving.challenger import ComparisonLogger, LiveTraffic
from serving.request_schema import PredictRequest, describe_signature, to_model_input
from serving.settings import Settings
from serving.slot import LoadedModel, ModelSlot

if TYPE_CHECKING:
    from numpy.typing import NDArray


UNMATCHED_ROUTE = "unmatched"


def route_template(scope: Scope) -> str:
    """The route's path template (`/predict`), never the raw path: one time series per route, however
    many URLs clients send. FastAPI's router puts the matched route into the request's scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class _Metrics:
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


def _not_ready(slot: ModelSlot) -> JSONResponse:
    return JSONResponse(
        {"status": "not ready", "reason": slot.status.not_ready_reason or "no model loaded"}, status_code=503
    )


def create_app(settings: Settings | None = None, *, watch: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    slot = ModelSlot()
    challenger_slot = ModelSlot()
    challenger_slot.status.not_ready_reason = f"not resolved @{settings.challenger_alias} yet"
    live = LiveTraffic(settings, slot, challenger_slot)
    batcher = MicroBatcher()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not watch:
            yield
            metrics.log_totals()
            return
        from serving.model_store import ModelStore
        from serving.watcher import AliasWatcher

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
    app.add_middleware(_Metrics)
    app.state.slot = slot
    app.state.challenger_slot = challenger_slot
    app.state.live = live

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers HTTP."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "No model loaded yet; the reason says why"}})
    def ready() -> Any:
        """Readiness for the load balancer: a model is loaded."""
        model = slot.current
        if model is None:
            return _not_ready(slot)
        return {"status": "ready", "model": model.name, "version": model.version}

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        """What is being served, and the last swap error if a newer version was refused."""
        model = slot.current
        return {
            "name": settings.model_name,
            "alias": settings.model_alias,
            "version": model.version if model else None,
            "run_id": model.run_id if model else None,
            "loaded_at": datetime.fromtimestamp(model.loaded_at, tz=timezone.utc).isoformat() if model else None,
            "signature": describe_signature(model.pyfunc.metadata.signature) if model else None,
            "not_ready_reason": slot.status.not_ready_reason,
            "last_swap_error": slot.status.last_swap_error,
            "last_swap_error_version": slot.status.last_swap_error_version,
            "challenger": live.challenger_status(),
        }

    @app.get("/comparison")
    def comparison() -> dict[str, Any]:
        """The champion and the challenger on live traffic since this pair of versions began: requests,
        errors and latency per version, and (shadow) how often their answers agree."""
        return live.figures()

    def predict_rows(model: LoadedModel, data: Any) -> Any:
        import numpy as np

        # Tensor rows are micro-batched; a DataFrame (a column signature) is predicted on its own, since
        # the batcher concatenates rows as numpy arrays and would drop the column names.
        if isinstance(data, np.ndarray):
            return batcher.predict(model.pyfunc, data)
        return model.pyfunc.predict(data)

    @app.post("/predict", responses={422: {"description": "The input does not match the model signature"}})
    def predict(body: PredictRequest, request: Request) -> Any:
        """Predict with the served version; the response names the version that answered."""
        pick = live.pick(request.headers)  # one pick (one model reference) for the whole request
        if pick is None:
            return _not_ready(slot)
        model = pick.model
        data = to_model_input(body, model.pyfunc.metadata.signature)
        predictions = live.answer(pick, lambda: predict_rows(model, data))
        live.shadow_copy(pick, predictions, lambda challenger: challenger.pyfunc.predict(data))
        return JSONResponse(
            {"predictions": _jsonable(predictions), "model_version": model.version},
            headers={"X-Model-Version": model.version},
        )

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol (dataframe_split, dataframe_records, instances, inputs; JSON or CSV),
        so existing MLflow clients work unchanged."""
        from starlette.concurrency import run_in_threadpool

        pick = live.pick(request.headers)
        if pick is None:
            return _not_ready(slot)
        model = pick.model
        body = await request.body()
        content_type = request.headers.get("content-type", "application/json")
        rows = _tensor_rows(body, content_type, model)
        if rows is not None:
            predictions = await run_in_threadpool(live.answer, pick, lambda: batcher.predict(model.pyfunc, rows))
            live.shadow_copy(pick, predictions, lambda challenger: challenger.pyfunc.predict(rows))
            return Response(
                json.dumps({"predictions": predictions.tolist()}),
                media_type="application/json",
                headers={"X-Model-Version": model.version},
            )
        response = await run_in_threadpool(live.answer, pick, lambda: _score(model, body, content_type))
        if response.status_code == 200 and live.shadows(pick):  # parse the answer only for a shadow copy
            live.shadow_copy(
                pick,
                _scored_predictions(response.body),
                lambda challenger: _scored_predictions(_score(challenger, body, content_type).body),
            )
        return response

    @app.get("/metrics")
    def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _tensor_rows(body: bytes, content_type: str, model: LoadedModel) -> NDArray[Any] | None:
    """The fast path: `{"inputs"|"instances": [[numbers...], ...]}` for a single 2-D tensor signature,
    as a numpy array of the signature's dtype; None for anything else, which MLflow's own parser
    handles (and explains, when it is malformed)."""
    import numpy as np

    mime, _, params = content_type.partition(";")
    if mime.strip() != "application/json" or params.strip() not in ("", "charset=utf-8", "charset=UTF-8"):
        return None
    schema = model.pyfunc.metadata.get_input_schema()
    if schema is None or not schema.is_tensor_spec() or len(schema.inputs) != 1:
        return None
    spec = schema.inputs[0]
    if spec.shape is None or len(spec.shape) != 2:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or len(data) != 1 or not ({"inputs", "instances"} & data.keys()):
        return None
    try:
        rows = np.asarray(next(iter(data.values())))
    except ValueError:  # ragged rows: numpy 2 refuses them; MLflow's parser explains the 4xx
        return None
    # Numbers only (no strings, booleans or ragged rows), as many columns as the signature says.
    if rows.dtype.kind not in "iuf" or rows.ndim != 2 or len(rows) == 0:
        return None
    if spec.shape[1] > 0 and rows.shape[1] != spec.shape[1]:
        return None
    return rows.astype(spec.type, copy=False)


def _score(model: LoadedModel, body: bytes, content_type: str) -> Response:
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    headers = {"X-Model-Version": model.version}
    try:
        # Untyped in mlflow 3.17 (py.typed, but no annotations): scoring_server.invocations, get_http_status_code.
        result = scoring_server.invocations(  # type: ignore[no-untyped-call]
            body, content_type, model.pyfunc, model.pyfunc.metadata.get_input_schema()
        )
    except MlflowException as error:
        status: int = error.get_http_status_code()  # type: ignore[no-untyped-call]
        # A malformed body is the client's fault whatever MLflow's code says: never answer 5xx for it.
        status = status if 400 <= status < 500 else 400
        return JSONResponse({"error_code": error.error_code, "message": error.message}, status, headers=headers)
    return Response(result.response, status_code=result.status, media_type=result.mimetype, headers=headers)


def _scored_predictions(response_body: bytes | memoryview) -> Any:
    """The predictions of an /invocations answer (MLflow's JSON: {"predictions": ...})."""
    return json.loads(bytes(response_body))["predictions"]


def _jsonable(predictions: Any) -> Any:
    return predictions.tolist() if hasattr(predictions, "tolist") else predictions


app = create_app()
