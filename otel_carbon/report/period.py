"""Reporting periods: ``2026-Q4``, ``2026-11``, ``2026``, ``2026-11-05``, or ``--from D --to D``, and the one before.

Dates are UTC calendar dates; a period is ``[start, end)``.  The previous period of a quarter,
month or year is the calendar one before; of a free range, the range of the same length just before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone


class PeriodError(ValueError):
    """A period or date the report cannot read; the message shows the accepted forms."""


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, with a label (``2026-Q4``, ``2026-11-01..2026-11-30``)."""

    start: datetime
    end: datetime
    label: str
    kind: str  # year | quarter | month | day | range

    def previous(self) -> Period:
        """The period just before, of the same kind."""
        if self.kind == "year":
            return parse_period(str(self.start.year - 1))
        if self.kind == "quarter":
            year, quarter = self.start.year, (self.start.month - 1) // 3 + 1
            year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
            return parse_period(f"{year}-Q{quarter}")
        if self.kind == "month":
            first = (self.start - timedelta(days=1)).date()
            return parse_period(f"{first.year}-{first.month:02d}")
        length = self.end - self.start
        return _range(self.start - length, self.start)


_FORMS = "YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD"


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _range(start: datetime, end: datetime) -> Period:
    last = (end - timedelta(days=1)).date()
    label = start.date().isoformat() if last == start.date() else f"{start.date().isoformat()}..{last.isoformat()}"
    return Period(start, end, label, "range")


def parse_date(raw: str, flag: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise PeriodError(f"{flag} {raw!r}: expected a date YYYY-MM-DD") from None


def parse_period(raw: str) -> Period:
    """A named period; :class:`PeriodError` for anything else."""
    text = raw.strip().upper()
    if m := re.fullmatch(r"(\d{4})", text):
        year = int(m[1])
        return Period(_utc(date(year, 1, 1)), _utc(date(year + 1, 1, 1)), text, "year")
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return Period(_utc(start), _utc(end), text, "quarter")
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"--period {raw!r}: month {month} does not exist")
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return Period(_utc(date(year, month, 1)), _utc(end), text, "month")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = parse_date(text, "--period")
        return Period(_utc(day), _utc(day + timedelta(days=1)), text, "day")
    raise PeriodError(f"--period {raw!r}: expected {_FORMS}")


def period_between(start: str, end: str) -> Period:
    """``--from START --to END``: both dates included."""
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if last < first:
        raise PeriodError(f"--to {end} is before --from {start}")
    return _range(_utc(first), _utc(last + timedelta(days=1)))
