"""/invocations: MLflow's scoring protocol (dataframe_split, dataframe_records, instances, inputs; JSON or
CSV), so existing MLflow clients work unchanged.

The common case, `{"inputs"|"instances": [[numbers...], ...]}` for a single 2-D tensor signature, takes
a fast path: the rows become a numpy array of the signature's dtype and share the micro-batcher with
/predict. Anything else goes through MLflow's own parser, which also explains a malformed body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse, Response

from serving.http.serve import Inference, ModelRows
from serving.model.batching import MicroBatcher
from serving.model.slot import LoadedModel

if TYPE_CHECKING:
    from numpy.typing import NDArray


class TensorInvocation(ModelRows):
    """The fast path's answer, in MLflow's JSON: {"predictions": [...]}."""

    def respond(self, answer: Any, model: LoadedModel) -> Response:
        return Response(
            json.dumps({"predictions": answer.tolist()}),
            media_type="application/json",
            headers={"X-Model-Version": model.version},
        )


@dataclass(frozen=True)
class ScoredInvocation:
    """A body MLflow's scoring server parses and predicts; its answer is MLflow's response."""

    body: bytes
    content_type: str

    def predict(self, model: LoadedModel) -> Response:
        return _score(model, self.body, self.content_type)

    def predictions(self, answer: Response) -> Any | None:
        return _scored_predictions(answer.body) if answer.status_code == 200 else None

    def score(self, challenger: LoadedModel) -> Any:
        return _scored_predictions(_score(challenger, self.body, self.content_type).body)

    def respond(self, answer: Response, model: LoadedModel) -> Response:
        return answer


def invocation(body: bytes, content_type: str, model: LoadedModel, batcher: MicroBatcher) -> Inference[Any]:
    """How `model` answers this /invocations body: the tensor fast path when it applies, else MLflow's parser."""
    rows = _tensor_rows(body, content_type, model)
    if rows is not None:
        return TensorInvocation(rows, batcher)
    return ScoredInvocation(body, content_type)


def _tensor_rows(body: bytes, content_type: str, model: LoadedModel) -> NDArray[Any] | None:
    """The fast path's rows as a numpy array of the signature's dtype; None for anything else, which MLflow's
    own parser handles (and explains, when it is malformed)."""
    import numpy as np

    mime, _, params = content_type.partition(";")
    if mime.strip() != "application/json" or params.strip() not in ("", "charset=utf-8", "charset=UTF-8"):
        return None
    schema = model.predictor.metadata.get_input_schema()
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
            body, content_type, model.predictor, model.predictor.metadata.get_input_schema()
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
