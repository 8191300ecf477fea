"""A rendered request document: the parameters of one AWS API call, as `--cli-input-json` takes them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Document:
    filename: str
    service_model: str  # botocore's service name: "ecs", "application-autoscaling", "elbv2"
    operation: str  # the API operation the parameters are for
    params: dict[str, Any]

    def text(self) -> str:
        return json.dumps(self.params, indent=2) + "\n"


def write(documents: list[Document], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for document in documents:
        path = out / document.filename
        path.write_text(document.text())
        written.append(path)
    return written


def strings(value: Any) -> Iterable[str]:
    """Every string inside a document's parameters (placeholders and ARNs are looked for in them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
