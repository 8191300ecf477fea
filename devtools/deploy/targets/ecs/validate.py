"""Offline validation of rendered documents against botocore's bundled AWS service models.

botocore is imported here only (it takes ~100 ms and is an optional dependency), through
importlib so the CLI module graph and mypy need neither botocore nor its stubs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from devtools.deploy.targets.ecs.documents import Document
from devtools.errors import DevtoolsError, ExitCode

_MAX_ERRORS_SHOWN = 3


def botocore_version() -> str:
    return str(_botocore("botocore").__version__)


def errors(documents: Iterable[Document]) -> list[str]:
    """Every problem botocore's ParamValidator finds, plus enum and maximum checks it leaves to AWS."""
    session = _botocore("botocore.session").get_session()
    validator = _botocore("botocore.validate").ParamValidator()
    models: dict[str, Any] = {}
    problems: list[str] = []
    for document in documents:
        if document.service_model not in models:
            models[document.service_model] = session.get_service_model(document.service_model)
        shape = models[document.service_model].operation_model(document.operation).input_shape
        where = f"{document.filename} ({document.service_model} {document.operation})"
        report = validator.validate(document.params, shape)
        if report.has_errors():
            problems += [f"{where}: {line}" for line in report.generate_report().splitlines()]
        problems += [f"{where}: {line}" for line in _beyond_param_validator(document.params, shape, "")]
    return problems


def check(documents: Iterable[Document]) -> None:
    problems = errors(documents)
    if problems:
        shown = "; ".join(problems[:_MAX_ERRORS_SHOWN])
        more = f" (and {len(problems) - _MAX_ERRORS_SHOWN} more)" if len(problems) > _MAX_ERRORS_SHOWN else ""
        raise DevtoolsError(f"rendered documents fail AWS parameter validation: {shown}{more}", ExitCode.FAILURE)


def _botocore(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DevtoolsError(
            "botocore is needed to validate ECS documents offline: pip install 'botocore>=1.44,<2'", ExitCode.FAILURE
        ) from None


def _beyond_param_validator(value: Any, shape: Any, path: str) -> list[str]:
    """ParamValidator checks types, required members and minimums; AWS would also reject values
    outside an enum or above a maximum."""
    found: list[str] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:
                found += _beyond_param_validator(member, shape.members[name], f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            found += _beyond_param_validator(item, shape.member, f"{path}[{index}]")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            found.append(f"{path} has {len(value)} items, at most {shape.metadata['max']} allowed")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += _beyond_param_validator(item, shape.value, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            found.append(f"{path} is '{value}', must be one of: {', '.join(enum)}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            found.append(f"{path} is {len(value)} characters long, at most {shape.metadata['max']} allowed")
    elif kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        if "max" in shape.metadata and value > shape.metadata["max"]:
            found.append(f"{path} is {value}, at most {shape.metadata['max']} allowed")
    return found
