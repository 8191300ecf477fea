"""contract.aliases: the two alias names, distinct and valid as MLflow aliases."""

from __future__ import annotations

import re

from contract.aliases import CHALLENGER, CHAMPION


def test_the_alias_names() -> None:
    assert (CHAMPION, CHALLENGER) == ("champion", "challenger")


def test_the_aliases_are_distinct_valid_mlflow_aliases() -> None:
    # MLflow: word characters and dashes; 'latest' and 'v<N>' are reserved (training's --alias checks the same).
    assert CHAMPION != CHALLENGER
    for alias in (CHAMPION, CHALLENGER):
        assert re.fullmatch(r"[\w\-]{1,255}", alias) and alias != "latest" and not re.fullmatch(r"[vV]\d+", alias)
