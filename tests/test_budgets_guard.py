"""The budget guard answers from a background refresh of a real ledger, never blocks, and fails open."""

from __future__ import annotations

import logging
import time

import yaml
from ledger_support import accountant, count_calls
from test_collector_prometheus import wait_for

from otel_carbon.budgets.guard import BudgetGuard
from otel_carbon.ledger import LedgerSink

BUDGET = {"owner": "o", "period": "quarter", "limits": {"carbon": "1 t"}}


def test_guard_says_which_budget_is_over(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sink = LedgerSink(url)
    count_calls(accountant((sink,)), 20, end_time_ns=time.time_ns() - 10**9, features=("search",))
    assert sink.flush(20)
    sink.close()
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump({"budgets": [
        {**BUDGET, "name": "search", "selector": {"feature": "search"}, "limits": {"carbon": "0.001 g"}},
        {**BUDGET, "name": "other", "selector": {"feature": "other"}},
    ]}))
    guard = BudgetGuard(path, ledger=url, refresh_s=0.2)
    try:
        wait_for(lambda: guard.status("search") is not None, 20, "the first refresh")
        assert guard.over_budget("search") and guard.over_budget()
        assert not guard.over_budget("other") and not guard.over_budget("not-in-the-file")
        status = guard.status("search")
        assert status is not None and status.limits[0].spent is not None and status.limits[0].spent > 0.001
    finally:
        guard.close()


def test_guard_fails_open_and_logs_once_when_the_source_is_down(tmp_path, caplog):
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump({"budgets": [{**BUDGET, "name": "search-down"}]}))
    with caplog.at_level(logging.WARNING, logger="otel_carbon.budgets.guard"):
        guard = BudgetGuard(path, prometheus="http://127.0.0.1:9", refresh_s=0.05)
        try:
            assert guard.over_budget("search-down") is False  # before, during and after failed refreshes
            wait_for(lambda: caplog.records, 20, "the failure to be logged")
            time.sleep(0.3)  # several more failed refreshes
            assert guard.over_budget("search-down") is False and guard.status("search-down") is None
        finally:
            guard.close()
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
