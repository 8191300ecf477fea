"""serving.http.routes: readiness, GET /model and GET /comparison, answered in the contract's shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contract.status import ChallengerStatus, Comparison, ModelStatus, SideFigures
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.model.slot import ModelSlot
from serving.model.store import AliasTarget
from serving.model.watcher import AliasWatcher
from serving.settings import Settings

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _keys(shape: Any) -> set[str]:
    return set(shape.__required_keys__ | shape.__optional_keys__)


def test_ready_and_model_info(serve_model: Callable[..., TestClient], row_sum_model: Any) -> None:
    client = serve_model(row_sum_model)
    assert client.get("/ready").json() == {"status": "ready", "model": "demo", "version": "3"}
    info = client.get("/model").json()
    assert info["version"] == "3" and info["run_id"] == "run-3" and info["alias"] == "champion"
    assert info["loaded_at"] and info["last_swap_error"] is None
    assert info["signature"]["inputs"] == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]


def test_model_shows_a_column_signature_by_name(serve_model: Callable[..., TestClient], sklearn_model: Any) -> None:
    signature = serve_model(sklearn_model).get("/model").json()["signature"]
    assert [column["name"] for column in signature["inputs"]] == COLUMNS


def test_model_and_comparison_answer_exactly_the_contracts_keys(
    serve_model: Callable[..., TestClient], row_sum_model: Any
) -> None:
    """devtools reads these answers by contract.status: a key serving adds, drops or renames fails here."""
    client = serve_model(row_sum_model)
    client.post("/predict", json={"inputs": [[1.0, 2.0, 3.0, 4.0]]})
    info, figures = client.get("/model").json(), client.get("/comparison").json()

    assert set(info) == _keys(ModelStatus) and set(info["challenger"]) == _keys(ChallengerStatus)
    assert set(figures) == _keys(Comparison)
    assert set(figures["champion"]) == _keys(SideFigures) - {"routed", "state_reason"}  # the challenger's only
    assert set(figures["challenger"]) == _keys(SideFigures)
    assert figures["mode"] == info["challenger"]["mode"] == "shadow"


def test_model_shows_the_refusal_of_an_untypable_version(
    make_settings: Callable[..., Settings], sklearn_model: Any, untypable_model: Any, untypable_refusal: str
) -> None:
    from serving.model.slot import LoadedModel

    class Store:
        """The registry as the watcher sees it: version 1 the sklearn model, then version 2 the untypable one."""

        version = "1"

        def resolve_alias(self, alias: str | None = None) -> AliasTarget:
            return AliasTarget(self.version, f"run-{self.version}", "models:/m")

        def load(self, target: AliasTarget) -> LoadedModel:
            model = {"1": sklearn_model, "2": untypable_model}[target.version]
            return LoadedModel("demo", target.version, "champion", target.run_id, model, model.input_example)

    app = create_app(make_settings(), watch=False)
    slot: ModelSlot = app.state.slot
    store = Store()
    watcher = AliasWatcher(store, slot, make_settings())  # type: ignore[arg-type]
    watcher.poll_once()
    store.version = "2"
    watcher.poll_once()
    client = TestClient(app)

    info = client.get("/model").json()

    assert (info["version"], info["last_swap_error_version"]) == ("1", "2")
    assert info["last_swap_error"] == f"version 2 not swapped in: {untypable_refusal}"
    assert client.post("/predict", json={"inputs": [dict.fromkeys(COLUMNS, 0.0)]}).json()["model_version"] == "1"
