"""The types of `python -m training`'s arguments: each checks one value and says what was wrong with it,
in the one line argparse prints (its `__name__` names the type in argparse's own messages)."""

from __future__ import annotations

import argparse
import re

from contract.gpus import ALL_GPUS, TORCHRUN_ALL

from training.devices import parse_nproc
from training.errors import UsageError
from training.recipes import known_recipe


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def seed_value(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:  # numpy's seed range
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def alias(text: str) -> str:
    # MLflow's rules: word characters and dashes; 'latest' and 'v<N>' are reserved.
    if not re.fullmatch(r"[\w\-]{1,255}", text) or text.lower() == "latest" or re.fullmatch(r"[vV]\d+", text):
        raise argparse.ArgumentTypeError(f"invalid alias {text!r} (letters, digits, _ and -; not 'latest' or 'v<N>')")
    return text


def name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def nproc(text: str) -> int | str:
    try:
        return parse_nproc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"must be a positive number or '{ALL_GPUS}' (or torchrun's '{TORCHRUN_ALL}'), got {text}"
        ) from exc


def recipe(text: str) -> str:
    # The registry's names only: the recipe's module (and what it imports) loads when a command runs.
    try:
        known_recipe(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


positive_int.__name__ = "positive integer"
positive_float.__name__ = "positive number"
seed_value.__name__ = "seed"
