"""Reading a user's YAML file (budgets, deployments): PyYAML when installed, JSON without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def parse_yaml_or_json(text: str, path: str | Path, *, extra: str, error: type[Exception]) -> Any:
    """The document in ``text`` (read from ``path``): YAML with PyYAML, else JSON (a subset of YAML).

    Raises ``error`` with one line naming ``path`` — and, when PyYAML is missing for a file that is
    not JSON, the ``extra`` that installs it.
    """
    try:
        import yaml  # type: ignore[import-untyped]  # an optional extra
    except ImportError:
        try:
            return json.loads(text)
        except ValueError:
            raise error(
                f"{path}: YAML needs PyYAML: pip install 'otel-carbon[{extra}]' (or write the file as JSON)"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{at}") from None
