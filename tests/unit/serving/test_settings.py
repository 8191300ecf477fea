"""serving.settings: a setting the process cannot start with is named, with what it expects."""

from __future__ import annotations

import pytest
from contract.aliases import CHALLENGER, CHAMPION
from serving.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MODEL_CHALLENGER_MODE", "mirror", "expected one of shadow, canary, off"),
        ("MODEL_CANARY_SHARE", "10", "a fraction between 0 and 1"),
        ("MODEL_CANARY_SHARE", "ten", "a fraction between 0 and 1"),
        ("MODEL_SHADOW_MAX_BUSY", "-1", "MODEL_SHADOW_MAX_BUSY='-1': expected a fraction between 0 and 1"),
    ],
)
def test_bad_challenger_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=says):
        Settings.from_env()


def test_serving_follows_the_contracts_aliases_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """What training's --alias and --promote challenger set (by default) is what serving follows."""
    for variable in ("MODEL_ALIAS", "MODEL_CHALLENGER_ALIAS", "MODEL_CHALLENGER_MODE"):
        monkeypatch.delenv(variable, raising=False)
    settings = Settings.from_env()
    assert (settings.model_alias, settings.challenger_alias) == (CHAMPION, CHALLENGER)
    assert settings.follows_challenger
    monkeypatch.setenv("MODEL_CHALLENGER_MODE", " Canary ")
    assert Settings.from_env().challenger_mode == "canary"


def test_the_runtime_is_auto_unless_chosen_and_a_bad_choice_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVING_RUNTIME", raising=False)
    assert Settings.from_env().runtime == "auto"
    monkeypatch.setenv("SERVING_RUNTIME", " ONNX ")
    assert Settings.from_env().runtime == "onnx"
    monkeypatch.setenv("SERVING_RUNTIME", "tensorrt")
    with pytest.raises(SettingsError, match=r"^SERVING_RUNTIME='tensorrt': expected one of auto, pyfunc, onnx$"):
        Settings.from_env()
