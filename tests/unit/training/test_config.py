"""training.config: standard library only (and the contract, which is too), and the defaults serving and
docker-compose.yml repeat stay equal."""

from __future__ import annotations

import re
import sys

import pytest
from training.config import DEFAULT_ALIAS, DEFAULT_MODEL_NAME, SeedConfig, TrainConfig

from testing.training_helpers import REPO, fresh_python

# The compose files that may spell a default for serving's $MODEL_NAME / $MODEL_ALIAS.
COMPOSE_FILES = sorted(REPO.glob("docker-compose*.yml"))


def _imported_by(module: str) -> list[str]:
    """Top-level modules, other than the training package, that importing `module` loads in a fresh interpreter."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        "print('\\n'.join(sorted({name.partition('.')[0] for name in set(sys.modules) - before})))\n"
    )
    return [name for name in fresh_python(code).split() if name != "training"]


def test_config_imports_only_the_standard_library() -> None:
    imported = _imported_by("training.config")

    assert not {"numpy", "torch", "mlflow", "transformers", "sklearn"} & set(imported)
    # The contract is standard library only too (tests/unit/contract).
    assert [name for name in imported if name not in sys.stdlib_module_names] == ["contract"]


def test_train_and_seed_share_the_defaults() -> None:
    train = TrainConfig(data_dir=REPO, tracking_uri="")
    seed = SeedConfig(data_dir=REPO, tracking_uri="")

    assert (seed.experiment, seed.model_name, seed.alias, seed.device) == (
        train.experiment,
        train.model_name,
        train.alias,
        train.device,
    )
    assert (train.experiment, train.model_name, train.alias) == ("demo", "digits-classifier", "champion")


def test_serving_defaults_to_the_model_and_alias_training_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL_NAME", "MODEL_ALIAS"):
        monkeypatch.delenv(name, raising=False)
    from serving.settings import Settings  # services/ is on sys.path (pyproject: pythonpath)

    settings = Settings.from_env()

    assert (settings.model_name, settings.model_alias) == (DEFAULT_MODEL_NAME, DEFAULT_ALIAS)


@pytest.mark.parametrize(("variable", "default"), [("MODEL_NAME", DEFAULT_MODEL_NAME), ("MODEL_ALIAS", DEFAULT_ALIAS)])
def test_compose_defaults_to_the_model_and_alias_training_registers(variable: str, default: str) -> None:
    assert COMPOSE_FILES, f"no docker-compose*.yml in {REPO}"
    # `${MODEL_NAME:-digits-classifier}`: the value Compose uses when the variable is unset or empty.
    spelled = {
        f"{path.name}: {value}"
        for path in COMPOSE_FILES
        for value in re.findall(rf"\$\{{{variable}:?-([^}}]*)\}}", path.read_text())
    }

    assert {entry for entry in spelled if not entry.endswith(f": {default}")} == set()


def test_a_configuration_s_command_parses_back_to_it() -> None:
    """TrainConfig.command is what a run records and `devtools repro` replays: every field the CLI sets
    comes back, none from a default."""
    from pathlib import Path

    from training.cli.parser import build_parser
    from training.config import TrainConfig

    config = TrainConfig(
        data_dir=Path("/data/diabetes"), tracking_uri="http://mlflow:5000", recipe="diabetes", epochs=3,
        batch_size=8, lr=1.5e-4, seed=11, device="cpu", experiment="e", model_name="m", alias="a",
        promote="challenger", challenger_alias="c",
    )  # fmt: skip
    args = build_parser().parse_args(config.command())
    parsed = {name: getattr(args, name) for name in ("recipe", "epochs", "batch_size", "lr", "seed", "device")}
    parsed |= {name: getattr(args, name) for name in ("experiment", "model_name", "alias", "promote")}
    assert parsed == {
        "recipe": "diabetes", "epochs": 3, "batch_size": 8, "lr": 1.5e-4, "seed": 11, "device": "cpu",
        "experiment": "e", "model_name": "m", "alias": "a", "promote": "challenger",
    }  # fmt: skip
    assert (args.challenger_alias, args.data_dir) == ("c", "/data/diabetes")
