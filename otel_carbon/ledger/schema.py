"""The ledger's versioned schema: one row per counted call, migrations applied in order at open.

Column kinds are portable (``text``, ``int`` = 64-bit integer, ``real`` = double, ``json`` =
JSON object of the configured dimensions); each backend maps them to its own types.  Units:
J, g CO2e, gCO2e/kWh, USD; times in ns since the Unix epoch (UTC).  Flags are 0/1 integers.

A migration is appended, never edited: a ledger records the version it is at in
``carbon_meta`` and :func:`pending` lists what an older one still needs.  A ledger at a
version above :data:`CURRENT_VERSION` was written by a newer otel-carbon and is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CALLS_TABLE = "carbon_calls"
GAPS_TABLE = "carbon_gaps"
META_TABLE = "carbon_meta"
VERSION_KEY = "schema_version"
RETAINED_FROM_KEY = "retained_from_ns"

#: The line item: (column, kind).  The primary key is (trace_id, span_id): a call is one row however
#: often it is submitted (retried exports, a second gateway, a restarted writer).
CALL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "text"),  # 32 hex digits
    ("span_id", "text"),  # 16 hex digits ("u" + 32 hex for a call without span id)
    ("end_time_ns", "int"),
    ("service", "text"),
    ("provider", "text"),
    ("model", "text"),
    ("operation", "text"),
    ("zone", "text"),
    ("dimensions", "json"),  # configured dimensions (OTEL_CARBON_DIMENSIONS) found on the call
    ("supply", "text"),  # local | cloud | hosted: who runs the hardware
    ("scope", "text"),  # scope2 | scope3.1 (GHG Protocol), from supply and the scope map
    ("boundary", "text"),
    ("energy_method", "text"),  # measured | estimated
    ("model_match", "text"),  # exact | pattern | default (estimates only)
    ("model_class", "text"),
    ("input_tokens", "int"),
    ("output_tokens", "int"),
    ("energy_j", "real"),
    ("energy_low_j", "real"),
    ("energy_high_j", "real"),
    ("energy_accelerator_j", "real"),
    ("energy_host_j", "real"),
    ("energy_idle_j", "real"),
    ("energy_overhead_j", "real"),
    ("intensity", "real"),  # gCO2e/kWh, location-based
    ("intensity_source", "text"),
    ("intensity_fallback", "int"),
    ("intensity_observed_at", "text"),
    ("operational_g", "real"),
    ("embodied_g", "real"),
    ("carbon_g", "real"),
    ("carbon_low_g", "real"),
    ("carbon_high_g", "real"),
    ("cost_usd", "real"),  # NULL: no known price
    ("functional_unit", "text"),
    ("score", "real"),
    ("recorded_by", "text"),  # app | gateway
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in CALL_COLUMNS)

GAP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("recorded_ns", "int"),
    ("first_ns", "int"),  # end time of the first call dropped
    ("last_ns", "int"),
    ("dropped", "int"),
    ("reason", "text"),  # queue_full | write_failed | shutdown
    ("recorded_by", "text"),
)


@dataclass(frozen=True)
class Migration:
    """Statements that take a ledger from ``version - 1`` to ``version``; ``types`` maps a kind to SQL."""

    version: int
    description: str
    statements: Callable[[dict[str, str]], list[str]]


def _columns(columns: tuple[tuple[str, str], ...], types: dict[str, str]) -> str:
    return ", ".join(f"{name} {types[kind]}" for name, kind in columns)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "line items of counted calls",
        lambda t: [
            f"CREATE TABLE {CALLS_TABLE} ({_columns(CALL_COLUMNS, t)}, PRIMARY KEY (trace_id, span_id))",
            f"CREATE INDEX {CALLS_TABLE}_end_time ON {CALLS_TABLE} (end_time_ns)",
        ],
    ),
    Migration(
        2,
        "gaps: calls the writer had to drop, so that a report can say what is missing",
        lambda t: [f"CREATE TABLE {GAPS_TABLE} ({_columns(GAP_COLUMNS, t)})"],
    ),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def pending(version: int) -> list[Migration]:
    """Migrations a ledger at ``version`` (0: empty database) needs, in order."""
    return [m for m in MIGRATIONS if m.version > version]
