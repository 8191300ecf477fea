"""The HTTP API (liveness aside, which the app answers itself): readiness, what is served
(/model), the live comparison (/comparison), the two prediction routes (/predict, /invocations: both
through the one serve path) and Prometheus (/metrics)."""

from __future__ import annotations

from typing import Any

from contract.status import ModelStatus, SignatureDescription
from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.http.invocations import invocation
from serving.http.predict import PredictRequest, PredictRows, to_model_input
from serving.http.serve import DataPlane
from serving.model.batching import MicroBatcher
from serving.model.signature import mode as signature_mode
from serving.settings import Settings
from serving.traffic.comparison import iso_utc


def describe_signature(signature: Any) -> SignatureDescription | None:
    if signature is None or signature.inputs is None:
        return None
    return {"inputs": signature.inputs.to_dict(), "outputs": signature.outputs.to_dict() if signature.outputs else None}


def routes(settings: Settings, plane: DataPlane, batcher: MicroBatcher) -> APIRouter:
    router = APIRouter()
    slot, live = plane.slot, plane.live

    @router.get("/ready", responses={503: {"description": "No model loaded yet; the reason says why"}})
    def ready() -> Any:
        """Readiness for the load balancer: a model is loaded."""
        model = slot.current
        if model is None:
            return plane.not_ready()
        return {"status": "ready", "model": model.name, "version": model.version}

    # The answers are built as the contract's types (mypy checks their keys) and returned as plain dicts:
    # pydantic, which FastAPI would hand a TypedDict return type to, refuses typing.TypedDict before
    # Python 3.12.
    @router.get("/model")
    def model_info() -> dict[str, Any]:
        """What is being served, and the last swap error if a newer version was refused."""
        model = slot.current
        status: ModelStatus = {
            "name": settings.model_name,
            "alias": settings.model_alias,
            "version": model.version if model else None,
            "run_id": model.run_id if model else None,
            "loaded_at": iso_utc(model.loaded_at) if model else None,
            "signature": describe_signature(model.predictor.metadata.signature) if model else None,
            "provenance": dict(model.provenance) if model else None,
            "signed": {
                "mode": signature_mode(settings.signature_required, bool(settings.signing_public_keys)),
                "signed_by": model.signed_by if model else None,
            },
            "runtime": model.runtime if model else None,
            "not_ready_reason": slot.status.not_ready_reason,
            "last_swap_error": slot.status.last_swap_error,
            "last_swap_error_version": slot.status.last_swap_error_version,
            "challenger": live.challenger_status(),
        }
        return dict(status)

    @router.get("/comparison")
    def comparison() -> dict[str, Any]:
        """The champion and the challenger on live traffic since this pair of versions began: requests,
        errors and latency per version, and (shadow) how often their answers agree."""
        return dict(live.figures())

    @router.post("/predict", responses={422: {"description": "The input does not match the model signature"}})
    async def predict(body: PredictRequest, request: Request) -> Any:
        """Predict with the served version; the response names the version that answered."""
        return await plane.serve(
            request.headers,
            lambda model: PredictRows(to_model_input(body, model.predictor.metadata.signature), batcher),
        )

    @router.post("/invocations")
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol (dataframe_split, dataframe_records, instances, inputs; JSON or CSV),
        so existing MLflow clients work unchanged."""
        body = await request.body()
        content_type = request.headers.get("content-type", "application/json")
        return await plane.serve(request.headers, lambda model: invocation(body, content_type, model, batcher))

    @router.get("/metrics")
    def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
