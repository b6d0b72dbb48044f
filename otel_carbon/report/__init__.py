"""Disclosure reports from the ledger: ``otel-carbon report`` (table, CSV, JSON, HTML, Impact Framework
manifest).  See ``docs/report.md``.  The HTML charts need matplotlib (the ``report`` extra)."""

from otel_carbon.report.build import COLUMNS, Report, build_report
from otel_carbon.report.period import Period, PeriodError, parse_period, period_between

__all__ = ["COLUMNS", "Period", "PeriodError", "Report", "build_report", "parse_period", "period_between"]
