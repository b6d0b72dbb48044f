"""``otel-carbon report``: every figure a sum over the ledger's line items, in every format."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from ledger_support import DAY_NS, accountant, count_calls

from otel_carbon.cli import main
from otel_carbon.ledger import LedgerSink, open_ledger
from otel_carbon.ledger.url import parse_ledger_url
from otel_carbon.report import COLUMNS, parse_period, period_between

REPO = Path(__file__).resolve().parent.parent
NOV = int(datetime(2026, 11, 3, 12, tzinfo=timezone.utc).timestamp()) * 10**9
OCT = int(datetime(2026, 10, 20, 12, tzinfo=timezone.utc).timestamp()) * 10**9


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory) -> tuple[str, dict]:
    """A ledger with hosted and local calls in November 2026 (over 3 days) and hosted calls in October."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'ledger.db'}"
    sink = LedgerSink(url)
    acc = accountant((sink,), zone="FR")
    nov = []
    for day in range(3):
        nov += count_calls(acc, 12, end_time_ns=NOV + day * DAY_NS)
        nov += count_calls(acc, 4, provider="transformers", model="Qwen/Qwen2.5-0.5B-Instruct",
                           end_time_ns=NOV + day * DAY_NS + 1000)
    octo = count_calls(acc, 10, end_time_ns=OCT)
    sink.close()
    return url, {"nov": nov, "oct": octo}


def report(capsys, *args: str) -> str:
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def test_json_totals_rows_and_previous_period(ledger_url, capsys):
    url, carbons = ledger_url
    doc = json.loads(report(capsys, "--ledger", url, "--period", "2026-11", "--by", "feature", "--format", "json"))
    totals = doc["totals"]
    assert totals["calls"] == 48
    assert math.isclose(totals["carbon_g"], sum(carbons["nov"]), rel_tol=1e-9)
    assert {"calls", "energy_j", "carbon_g", "cost_usd"} <= set(totals)
    assert math.isclose(sum(r["carbon_g"] for r in doc["rows"]), totals["carbon_g"], rel_tol=1e-9)
    assert {r["feature"] for r in doc["rows"]} == {"summarise", "search"}
    assert doc["previous_period"]["label"] == "2026-10" and doc["previous"]["calls"] == 10
    expected = (sum(carbons["nov"]) - sum(carbons["oct"])) / sum(carbons["oct"]) * 100
    assert math.isclose(doc["change_percent"]["carbon_g"], expected, rel_tol=1e-9)
    assert [d["day"] for d in doc["over_time"]] == ["2026-11-03", "2026-11-04", "2026-11-05"]
    scopes = doc["scopes"]
    assert scopes["scope2"]["calls"] == 12 and scopes["scope3_cat1"]["calls"] == 36
    assert math.isclose(scopes["scope2"]["location_based_g"] + scopes["scope3_cat1"]["operational_g"]
                        + scopes["embodied_g"], totals["carbon_g"], rel_tol=1e-9)
    assert doc["data_quality"]["intensity_sources"] and doc["missing"]["dropped_calls"] == 0
    titles = [s["title"] for s in doc["methodology"]["sections"]]
    assert "Uncertainty" in titles and "Scopes (GHG Protocol)" in titles


def test_market_based_scope2_uses_the_contractual_factors(ledger_url, capsys):
    url, _ = ledger_url
    doc = json.loads(report(capsys, "--ledger", url, "--period", "2026-11", "--format", "json",
                            "--market-factor", "FR=0"))
    assert doc["scopes"]["scope2"]["market_based_g"] == 0.0
    assert doc["scopes"]["scope2"]["market_factor_coverage"] == 1.0
    doc = json.loads(report(capsys, "--ledger", url, "--period", "2026-11", "--format", "json"))
    scope2 = doc["scopes"]["scope2"]
    assert scope2["market_based_g"] == scope2["location_based_g"] and scope2["market_fallback_zones"] == ["FR"]


def test_csv_has_the_documented_columns_and_adds_up(ledger_url, capsys):
    url, carbons = ledger_url
    text = report(capsys, "--ledger", url, "--from", "2026-11-01", "--to", "2026-11-30", "--by", "feature,scope",
                  "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["period", "feature", "scope", *COLUMNS]
    assert len(rows) == 4 and {r["period"] for r in rows} == {"2026-11-01..2026-11-30"}
    assert math.isclose(sum(float(r["carbon_g"]) for r in rows), sum(carbons["nov"]), rel_tol=1e-9)
    assert sum(int(r["calls"]) for r in rows) == 48


def test_table_format_names_the_scopes(ledger_url, capsys):
    url, _ = ledger_url
    text = report(capsys, "--ledger", url, "--period", "2026-Q4", "--by", "model")
    assert "Scope 2" in text and "Scope 3 cat. 1" in text and "gpt-4o-mini" in text and "vs 2026-Q3" in text


def test_periods():
    assert parse_period("2026-Q4").start == datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026-01").previous().label == "2025-12"
    free = period_between("2026-11-10", "2026-11-19")
    assert free.previous().label == "2026-10-31..2026-11-09"


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-Q5"], "YYYY-Qn"),
    (["--from", "2026-11-02"], "--period or both --from and --to"),
    (["--period", "2026-11", "--market-factor", "FR"], "ZONE=gCO2e/kWh"),
    (["--period", "2026-11", "--by", "a'b"], "group key"),
])
def test_bad_arguments_exit_2_with_one_line(ledger_url, capsys, args, message):
    url, _ = ledger_url
    assert main(["report", "--ledger", url, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_and_corrupt_ledgers_are_errors_never_totals(tmp_path, ledger_url, capsys):
    assert main(["report", "--ledger", f"sqlite:///{tmp_path / 'nope.db'}", "--period", "2026"]) == 2
    assert "no ledger file" in capsys.readouterr().err
    url, _ = ledger_url
    data = bytearray(Path(parse_ledger_url(url).target).read_bytes())
    pages = len(data) // 4096
    overwritten = [data[:k * 4096] + bytes((i * 37) % 256 for i in range(4096)) + data[(k + 1) * 4096:]
                   for k in (1, 2, pages // 2, pages - 1)]
    for n, image in enumerate([*overwritten, data[: len(data) // 2]]):  # torn pages, then a truncated copy
        damaged = tmp_path / f"damaged{n}.db"
        damaged.write_bytes(bytes(image))
        assert main(["report", "--ledger", f"sqlite:///{damaged}", "--period", "2026-11", "--format", "json"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "damaged" in captured.err or "not a readable" in captured.err, captured.err


def test_dropped_calls_are_reported_as_missing(tmp_path, capsys):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'gaps.db'}"
    with open_ledger(url):
        pass
    holder = sqlite3.connect(parse_ledger_url(url).target, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    sink = LedgerSink(url, queue_size=5, batch_size=5, timeout_s=0.1, retry_max_s=0.2)
    count_calls(accountant((sink,)), 40, end_time_ns=NOV)
    holder.execute("ROLLBACK")
    holder.close()
    assert sink.flush(20)
    sink.close()
    doc = json.loads(report(capsys, "--ledger", url, "--period", "2026-11", "--format", "json"))
    assert doc["missing"]["dropped_calls"] == sink.stats.dropped > 0
    assert doc["totals"]["calls"] + doc["missing"]["dropped_calls"] == 40
    assert "lower bound" in json.dumps(doc["methodology"])


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_report_renders_in_headless_chromium(ledger_url, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the report extra (matplotlib) is not installed")
    url, _ = ledger_url
    page = tmp_path / "report.html"
    assert main(["report", "--ledger", url, "--period", "2026-11", "--by", "feature,scope", "--format", "html",
                 "--market-factor", "FR=10", "--output", str(page)]) == 0
    html = page.read_text()
    assert html.count("<svg") == 3  # inline charts
    assert "<script" not in html and "<link" not in html  # self-contained: nothing fetched
    assert not re.search(r"""url\(\s*["']?(?!#)""", html)  # only the charts' own clip paths
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert "Methodology" in html and "Scope 2 — market-based" in html
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt install chromium; .ci/run does)")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,2600",
                    "--hide-scrollbars", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    pdf = tmp_path / "report.pdf"  # printable
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.read_bytes().count(b"/Type /Page") >= 2


def if_run() -> list[str] | None:
    local = REPO / ".if" / "node_modules" / ".bin" / "if-run"
    if local.exists() and shutil.which("node"):
        return [str(local)]
    found = shutil.which("if-run")
    return [found] if found else None


def test_impact_framework_recomputes_our_sci(ledger_url, tmp_path, capsys):
    command = if_run()
    if command is None:
        pytest.skip("the Impact Framework CLI is not installed (npm install --prefix .if @grnsft/if; .ci/run does)")
    yaml = pytest.importorskip("yaml")
    url, carbons = ledger_url
    manifest = tmp_path / "manifest.yml"
    assert main(["report", "--ledger", url, "--period", "2026-11", "--by", "feature", "--format", "if-manifest",
                 "--output", str(manifest)]) == 0
    out = tmp_path / "computed"  # if-run writes computed.yaml
    result = subprocess.run([*command, "--manifest", str(manifest), "--output", str(out), "--no-output"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    computed = yaml.safe_load((tmp_path / "computed.yaml").read_text())
    assert computed["execution"]["status"] == "success"
    with open_ledger(url) as ledger:
        ours = {(r.group["feature"], r.group["day"]): r for r in ledger.totals(
            start=datetime(2026, 11, 1, tzinfo=timezone.utc), end=datetime(2026, 12, 1, tzinfo=timezone.utc),
            by=("feature", "day"))}
    seen = 0
    for name, child in computed["tree"]["children"].items():
        for output in child["outputs"]:
            row = ours[(name, output["timestamp"][:10])]
            assert math.isclose(output["sci"], row.carbon_g / row.calls, rel_tol=1e-9)
            seen += 1
    assert seen == len(ours) == 6
    aggregated = computed["tree"]["aggregated"]
    assert aggregated["requests"] == 48
    assert math.isclose(aggregated["carbon"], sum(carbons["nov"]), rel_tol=1e-9)
