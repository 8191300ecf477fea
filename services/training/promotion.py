"""Which alias a newly registered version takes, per `--promote`: auto (only when it beats the version that
holds the alias, by the recipe's metric), always, never, or challenger (the challenger's alias instead,
for serving to compare on live traffic). The same for every recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from training.config import TrainConfig
from training.tracking import alias_holder, run_metric

if TYPE_CHECKING:
    from mlflow import MlflowClient


def promote(client: MlflowClient, config: TrainConfig, metric: str, version: str, score: float) -> tuple[bool, str]:
    """Tag `version` with its `score` and move the alias per config.promote: (moved, why), the why as the
    summary line says it. auto moves it only when `score` beats the holder's (greater is better)."""
    client.set_model_version_tag(config.model_name, version, metric, f"{score:.6f}")
    if config.promote == "never":
        return False, "--promote never"
    if config.promote == "challenger":
        # The champion stays; serving follows this alias too and compares the two on live traffic.
        client.set_registered_model_alias(config.model_name, config.challenger_alias, version)
        return True, f"--promote challenger: serving compares it with @{config.alias}"
    holder = alias_holder(client, config.model_name, config.alias)
    if config.promote == "always":
        moved, reason = True, "--promote always"
    elif holder is None:
        moved, reason = True, f"no version held {config.alias!r}"
    else:
        best = run_metric(client, holder.run_id, metric)
        if best is None:
            moved, reason = True, f"v{holder.version} has no {metric} to compare"
        elif score > best:
            moved, reason = True, f"beat v{holder.version} at {best:.4f}"
        else:
            moved, reason = False, f"v{holder.version} keeps it at {best:.4f}"
    if moved:
        client.set_registered_model_alias(config.model_name, config.alias, version)
    return moved, reason
