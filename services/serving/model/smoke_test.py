"""What a version must pass before it serves traffic: a signature /predict can type, and a prediction
on its own input example. Failing either, it is not swapped in: the watcher records the one-line reason
as the slot's last_swap_error (GET /model) and the version already served keeps serving."""

from __future__ import annotations

from typing import Any

from contract.signature import NO_INPUT_SCHEMA, TYPABLE, input_schema, untypable_reason

from serving.model.slot import LoadedModel

HOW_TO_TYPE = f"log the model with {TYPABLE}"


class UntypableSignature(RuntimeError):
    """A version whose signature /predict cannot type requests for: never swapped in."""


def refusal(signature: Any) -> str | None:
    """Why /predict cannot type requests for a version with this signature; None when it can.

    The one rule (contract.signature), with serving's one exception: a version logged without a
    signature is still served, as before the rule existed (its rows reach it as an unchecked
    DataFrame). Training never registers one; it refuses NO_INPUT_SCHEMA like any other reason.
    """
    reason = untypable_reason(input_schema(signature))
    return None if reason == NO_INPUT_SCHEMA else reason


def smoke_test(model: LoadedModel) -> None:
    """Raises when `model` may not serve: an untypable signature, no input example, or a failing prediction."""
    reason = refusal(model.predictor.metadata.signature)
    if reason is not None:
        raise UntypableSignature(f"its signature ({reason}) cannot be typed by /predict: {HOW_TO_TYPE}")
    if model.input_example is None:
        raise RuntimeError(f"version {model.version} has no input example to smoke-test")
    model.predictor.predict(model.input_example)
