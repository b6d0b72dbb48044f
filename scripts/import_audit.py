"""Import every module of an installed package; report each import the installation cannot satisfy.

    python scripts/import_audit.py [PACKAGE]    # PACKAGE defaults to otel_carbon; exit 1 on a problem

``.ci/wheel_smoke`` runs it with the interpreter of a fresh venv that holds the built
wheel and the base dependencies only.  A module passes when it imports, or when it
raises :class:`otel_carbon._extras.MissingExtraError` (an optional feature whose
extra is not installed: the error names the extra).  Anything else — a bare
``ModuleNotFoundError`` above all — is a package the module imports that
``pyproject.toml`` does not declare where the module needs it.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from otel_carbon._extras import MissingExtraError


@dataclass
class AuditResult:
    """Modules that imported, those that named their missing extra, and the failures (``module: error``)."""

    imported: list[str] = field(default_factory=list)
    optional: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def module_names(package: str) -> list[str]:
    """Every module of ``package`` found on disk (``__main__`` modules excluded: importing them runs them)."""
    root = importlib.import_module(package)
    names = [package]
    for base in root.__path__:
        for path in sorted(Path(base).rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if "__pycache__" in parts or parts[-1] == "__main__":
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                names.append(".".join((package, *parts)))
    return names


def audit(package: str) -> AuditResult:
    """Import each module of ``package`` in this interpreter and sort the outcomes."""
    result = AuditResult()
    for name in module_names(package):
        try:
            importlib.import_module(name)
        except MissingExtraError as exc:
            result.optional[name] = exc.extra
        except BaseException as exc:  # noqa: BLE001 - every failure is a finding, SystemExit included
            result.problems.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            result.imported.append(name)
    return result


def main(argv: list[str]) -> int:
    package = argv[1] if len(argv) > 1 else "otel_carbon"
    result = audit(package)
    origin = Path(importlib.import_module(package).__file__ or "?").parent
    print(f"import audit of {package} ({origin}): {len(result.imported)} modules imported, "
          f"{len(result.optional)} need an extra ({', '.join(sorted(set(result.optional.values()))) or 'none'})")
    for problem in result.problems:
        print(f"  UNDECLARED OR BROKEN IMPORT {problem}", file=sys.stderr)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
