"""The training tests' fixtures (testing/training_fixtures.py)."""

from testing.training_fixtures import (  # noqa: F401  (pytest fixtures, used by name)
    _mlflow_as_the_command_configures_it,
    cli,
    client,
    data_copy,
    diabetes_dir,
    digits_config,
    digits_trained,
    mlflow_server,
    prepared_dir,
)
