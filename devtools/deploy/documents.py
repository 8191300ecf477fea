"""A rendered request document: the parameters of one AWS API call, as `--cli-input-json` takes them."""

from __future__ import annotations

import json
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
