"""``pytest --carbon``: the carbon of the GenAI calls each test makes, and a CI gate on it (wiring).

Registered through the ``pytest11`` entry point and inactive unless asked:
importing this module costs nothing but the option definitions.

* ``--carbon`` instruments every installed SDK otel-carbon knows (our
  instrumentations, found by entry point) into an in-memory pipeline,
  ``TracerProvider → CarbonSpanProcessor → memory`` (no exporter), collects the
  counted calls of each test (setup, call and teardown) from the enriched
  spans, and prints a summary at the end.
* ``--carbon-json PATH`` writes the per-test and per-call records
  (:mod:`otel_carbon.gates.records`); implies ``--carbon``.
* ``--carbon-baseline PATH`` (a run file or a folder of them) with
  ``--carbon-max-increase PCT`` (default 5) compares per functional unit
  (:mod:`otel_carbon.gates.diff`) and fails the run when one regresses,
  naming the tests and the causes; implies ``--carbon``.

Settings come from ``OTEL_CARBON_*`` (``OTEL_CARBON_PROVIDER_ZONES``…).  Grid
intensity is the shipped annual table, never a live provider: a gate must give
the same figures on a rerun of the same code.  Where no energy meter is installed
yet, the process meter (NVML, RAPL / CPU model) is installed for the session, built at
the first local-inference call (a suite of remote API calls never builds it), so local
inference is measured; the previous one is restored at the end.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path
from typing import Any

from otel_carbon._extras import missing_extra

try:
    import pytest
except ModuleNotFoundError as exc:  # pytest loads this plugin, so only an import by hand gets here
    raise missing_extra("gates", exc, "the pytest --carbon plugin") from exc

from otel_carbon.gates.records import GateInputError, TestRecord, call_record, load_runs, write_run

_PLUGIN_NAME = "otel-carbon-recorder"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("carbon", "otel-carbon: carbon of the GenAI calls tests make")
    group.addoption("--carbon", action="store_true", help="trace the GenAI calls of each test and print their carbon")
    group.addoption("--carbon-json", metavar="PATH", help="write per-test and per-call carbon records (JSON) to PATH")
    group.addoption("--carbon-baseline", metavar="PATH",
                    help="fail when carbon per test or per call regresses against this run file (or folder)")
    group.addoption("--carbon-max-increase", metavar="PCT", type=float, default=5.0,
                    help="allowed increase over --carbon-baseline, percent (default 5)")


def pytest_configure(config: pytest.Config) -> None:
    opt = config.option
    if not (opt.carbon or opt.carbon_json or opt.carbon_baseline):
        return
    if not (math.isfinite(opt.carbon_max_increase) and opt.carbon_max_increase >= 0):
        raise pytest.UsageError("--carbon-max-increase must be a number >= 0")
    if opt.carbon_json and not Path(opt.carbon_json).resolve().parent.is_dir():
        raise pytest.UsageError(f"--carbon-json: no such folder for {opt.carbon_json}")
    baseline = None
    if opt.carbon_baseline:
        try:
            baseline = load_runs(opt.carbon_baseline)
        except GateInputError as exc:
            raise pytest.UsageError(f"--carbon-baseline: {exc}") from None
    config.pluginmanager.register(_CarbonRecorder(config, baseline), _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if isinstance(recorder, _CarbonRecorder):
        recorder.close()
        config.pluginmanager.unregister(recorder, _PLUGIN_NAME)


class _CarbonRecorder:
    """The active plugin: the in-memory pipeline, the records, and the verdict."""

    def __init__(self, config: pytest.Config, baseline: list[TestRecord] | None) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from otel_carbon.config import CarbonSettings, ConfigError
        from otel_carbon.distro import carbon_span_processor

        try:
            settings = CarbonSettings.from_env()
        except ConfigError as exc:
            raise pytest.UsageError(f"otel-carbon: {exc}") from None
        self._config = config
        self._baseline = baseline
        self._exporter = InMemorySpanExporter()
        self._meter_provider = MeterProvider()
        self._tracer_provider = TracerProvider()
        self._tracer_provider.add_span_processor(
            carbon_span_processor(SimpleSpanProcessor(self._exporter), settings, self._meter_provider)
        )
        self._instrumentors = _instrument(self._tracer_provider)
        self._restore_meter = _install_meter(settings)
        self.records: list[TestRecord] = []
        self._outcomes: dict[str, str] = {}
        self.report: Any = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        self._exporter.clear()
        yield
        spans = self._exporter.get_finished_spans()
        self._exporter.clear()
        calls = [c for c in (call_record(s.attributes or {}) for s in spans) if c is not None]
        self.records.append(TestRecord(item.nodeid, self._outcomes.pop(item.nodeid, "passed"), calls))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self._outcomes[report.nodeid] = "failed"
        elif report.skipped and self._outcomes.get(report.nodeid) != "failed":
            self._outcomes[report.nodeid] = "skipped"

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from otel_carbon.gates.diff import compare

        path = self._config.option.carbon_json
        if path:
            write_run(path, self.records)
        if self._baseline is not None:
            self.report = compare(self._baseline, self.records,
                                  max_increase_pct=self._config.option.carbon_max_increase)
            if self.report.regressions and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from otel_carbon.gates.summary import render_summary

        terminalreporter.write_sep("=", "otel-carbon")
        terminalreporter.write_line(render_summary(self.records))
        if self._config.option.carbon_json:
            terminalreporter.write_line(f"carbon records written to {self._config.option.carbon_json}")
        if self.report is None:
            return
        regressions = self.report.regressions
        limit = self.report.max_increase_pct
        if not regressions:
            terminalreporter.write_line(f"carbon gate passed: no unit above +{limit:g}% of the baseline")
            return
        terminalreporter.write_sep("=", f"CARBON REGRESSION ({len(regressions)} above +{limit:g}%)", red=True)
        for unit in regressions:
            terminalreporter.write_line(unit.headline(), red=True)

    def close(self) -> None:
        """Uninstrument, stop the pipeline, and put back the energy meter found at start."""
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()
        self._tracer_provider.shutdown()
        self._meter_provider.shutdown()
        self._restore_meter()


def _instrument(tracer_provider: Any) -> list[Any]:
    """Instrument, into ``tracer_provider``, every SDK otel-carbon knows that is installed and not yet instrumented."""
    from opentelemetry.instrumentation.dependencies import DependencyConflictError

    from otel_carbon.distro import sdk_instrumentor_names, sdk_instrumentors

    done = []
    for instrumentor in sdk_instrumentors(*sdk_instrumentor_names()):
        if instrumentor.is_instrumented_by_opentelemetry:
            continue  # the application instrumented it already: its spans go to its own pipeline
        try:
            instrumentor.instrument(tracer_provider=tracer_provider, raise_exception_on_conflict=True)
        except DependencyConflictError:
            continue  # that SDK is not installed
        done.append(instrumentor)
    return done


def _install_meter(settings: Any) -> Any:
    """Install the process energy meter, built at the first local-inference call, unless one is
    installed; return the function that puts the previous one back (closing the one built here)."""
    from otel_carbon.energy import NullMeter, default_meter, set_default_meter
    from otel_carbon.energy.install import install_meter_on_first_use

    previous = default_meter()
    if not isinstance(previous, NullMeter):
        return lambda: None
    install_meter_on_first_use(settings)

    def restore() -> None:
        built = default_meter()  # the real meter once a local call built it, else the deferred one
        set_default_meter(previous)
        close = getattr(built, "close", None)
        if close is not None:
            close()

    return restore
