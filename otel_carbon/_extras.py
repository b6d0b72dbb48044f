"""The error an optional feature raises when its extra is not installed.

A module of an optional feature imports its own libraries under
``try/except ModuleNotFoundError`` and re-raises :func:`missing_extra`'s
error, so that a user without the extra reads which ``pip install`` fixes it
instead of a bare ``ModuleNotFoundError`` (``.ci/wheel_smoke`` imports every
module of the installed wheel with the base dependencies only and accepts
exactly this error).
"""

from __future__ import annotations


class MissingExtraError(ImportError):
    """An optional dependency is absent; ``extra`` names the ``otel-carbon[...]`` extra that installs it."""

    def __init__(self, message: str, *, extra: str, name: str | None = None) -> None:
        super().__init__(message, name=name)
        self.extra = extra


def missing_extra(extra: str, exc: ModuleNotFoundError, feature: str) -> MissingExtraError:
    """The error for ``feature`` lacking the module ``exc`` names: ``pip install 'otel-carbon[EXTRA]'``."""
    return MissingExtraError(
        f"{feature} needs the '{exc.name}' module of the '{extra}' extra: "
        f"pip install 'otel-carbon[{extra}]' (from a checkout: pip install '.[{extra}]')",
        extra=extra,
        name=exc.name,
    )
