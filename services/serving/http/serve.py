"""The one serve path that /predict and /invocations share (like MLServer's DataPlane.infer, which its
REST and gRPC servers both call): pick who answers, answer not-ready without a model, time and count the
answer for the version that gave it, hand a shadow copy to the challenger, respond.

Each route only turns its request into an `Inference` for the picked model: what that model predicts,
what a shadow challenger scores on the same input, and how the answer becomes the route's response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from serving.model.batching import MicroBatcher
from serving.model.slot import LoadedModel, ModelSlot
from serving.traffic.live import LiveTraffic, Pick

A = TypeVar("A")


class Inference(Protocol[A]):
    """One request's work, in the form its route parsed it into."""

    def predict(self, model: LoadedModel) -> A:
        """The client's answer from `model` (the version picked for this request)."""
        ...

    def predictions(self, answer: A) -> Any | None:
        """What a shadow challenger's predictions are compared with; None: this answer has none (a 4xx)."""
        ...

    def score(self, challenger: LoadedModel) -> Any:
        """The challenger's predictions for the same input (on the shadow thread, off the response path)."""
        ...

    def respond(self, answer: A, model: LoadedModel) -> Response:
        """The route's HTTP response for `answer`, naming the version that gave it."""
        ...


@dataclass(frozen=True)
class ModelRows:
    """Rows typed for the model: numpy rows of a tensor signature are micro-batched with other requests';
    a DataFrame (a column signature) is predicted on its own, since the batcher concatenates rows as
    numpy arrays and would drop the column names. Subclasses say how a route responds."""

    data: Any
    batcher: MicroBatcher

    def predict(self, model: LoadedModel) -> Any:
        import numpy as np

        if isinstance(self.data, np.ndarray):
            return self.batcher.predict(model.predictor, self.data)
        return model.predictor.predict(self.data)

    def predictions(self, answer: Any) -> Any:
        return answer

    def score(self, challenger: LoadedModel) -> Any:
        return challenger.predictor.predict(self.data)


class DataPlane:
    """Serves requests from the champion's slot and the live traffic around it (canary, shadow, figures)."""

    def __init__(self, slot: ModelSlot, live: LiveTraffic) -> None:
        self.slot = slot
        self.live = live

    def not_ready(self) -> JSONResponse:
        reason = self.slot.status.not_ready_reason or "no model loaded"
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)

    async def serve(self, headers: Mapping[str, str], prepare: Callable[[LoadedModel], Inference[Any]]) -> Response:
        """prepare(model) for the version picked for this request, answered; 503 while none is loaded.
        prepare's RequestValidationError is the client's 422, before anything is counted."""
        pick = self.live.pick(headers)  # one pick (one model reference) for the whole request
        if pick is None:
            return self.not_ready()
        # The model runs in a worker thread: the event loop keeps accepting requests meanwhile.
        return await run_in_threadpool(self._answer, pick, prepare)

    def _answer(self, pick: Pick, prepare: Callable[[LoadedModel], Inference[Any]]) -> Response:
        inference = prepare(pick.model)
        answer = self.live.answer(pick, lambda: inference.predict(pick.model))
        if self.live.shadows(pick):  # the answer is read back only for a shadow copy
            predictions = inference.predictions(answer)
            if predictions is not None:
                self.live.shadow_copy(pick, predictions, inference.score)
        return inference.respond(answer, pick.model)
