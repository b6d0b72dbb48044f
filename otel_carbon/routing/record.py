"""Every routing and shifting decision says what it saved: span attributes and metrics.

Attributes go on the span current at the decision (a LiteLLM request's span,
the caller's own); a non-recording span costs nothing.  Metrics use the
OpenTelemetry metrics API (the global meter provider unless one is given):
``sci.routing.saved`` (g CO2e against the cost-only choice),
``sci.routing.decisions`` and ``sci.shift.saved`` (g CO2e against starting now).
Recording never raises into the caller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from otel_carbon import semconv as sc
from otel_carbon._log import log_once

if TYPE_CHECKING:  # pragma: no cover
    from otel_carbon.routing.router import Decision
    from otel_carbon.routing.shift import Plan

_logger = logging.getLogger(__name__)


class Recorder:
    """Writes decisions to spans and metrics; one per meter provider (``None``: the global one)."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = metrics.get_meter("otel_carbon.routing", meter_provider=meter_provider, schema_url=sc.SCHEMA_URL)
        self._saved = meter.create_counter(
            sc.METRIC_ROUTING_SAVED, unit="g", description="Carbon saved by routing against the cost-only choice"
        )
        self._decisions = meter.create_counter(
            sc.METRIC_ROUTING_DECISIONS, unit="{decision}", description="Carbon-aware routing decisions"
        )
        self._shift_saved = meter.create_counter(
            sc.METRIC_SHIFT_SAVED, unit="g", description="Carbon saved by deferring work against starting now"
        )

    def decision(self, decision: Decision) -> None:
        """Put ``decision`` on the current span and count it."""
        try:
            span = trace.get_current_span()
            chosen, baseline = decision.chosen, decision.cost_choice
            attributes: dict[str, Any] = {
                sc.SCI_ROUTING_CHOSEN: chosen.name,
                sc.SCI_ROUTING_ZONE: chosen.deployment.zone,
                sc.SCI_ROUTING_CANDIDATES: [c.name for c in decision.candidates],
                sc.SCI_ROUTING_CARBON: chosen.carbon_g,
                sc.SCI_ROUTING_COST_CHOICE: baseline.name,
                sc.SCI_ROUTING_COST_CHOICE_CARBON: baseline.carbon_g,
                sc.SCI_ROUTING_SAVED: decision.saved_g,
                sc.SCI_ROUTING_INTENSITY_FALLBACK: decision.intensity_fallback,
            }
            if decision.excluded:
                attributes[sc.SCI_ROUTING_EXCLUDED] = [f"{e.name}:{e.constraint}" for e in decision.excluded]
            if decision.cost_delta_usd is not None:
                attributes[sc.SCI_ROUTING_COST_DELTA] = decision.cost_delta_usd
            span.set_attributes(attributes)
            dimensions = {sc.DIM_ZONE: chosen.deployment.zone, sc.DIM_MODEL: chosen.deployment.model}
            self._saved.add(decision.saved_g, dimensions)
            self._decisions.add(1, dimensions)
        except Exception:
            log_once(_logger, "routing.record", "otel-carbon: recording a routing decision failed", exc_info=True)

    def shift(self, plan: Plan, saved_g: float | None = None) -> None:
        """Put a shifting ``plan`` on the current span; count ``saved_g`` (g, >= 0) when known."""
        try:
            span = trace.get_current_span()
            attributes: dict[str, Any] = {
                sc.SCI_SHIFT_ZONE: plan.zone,
                sc.SCI_SHIFT_DELAY: plan.delay_s,
                sc.SCI_SHIFT_EXPECTED_INTENSITY: plan.expected_g_per_kwh,
                sc.SCI_SHIFT_FALLBACK: plan.fallback,
            }
            if plan.now_g_per_kwh is not None:
                attributes[sc.SCI_SHIFT_NOW_INTENSITY] = plan.now_g_per_kwh
            span.set_attributes(attributes)
            if saved_g is not None:
                self._shift_saved.add(saved_g, {sc.DIM_ZONE: plan.zone})
        except Exception:
            log_once(_logger, "routing.record_shift", "otel-carbon: recording a shift failed", exc_info=True)


_default: Recorder | None = None


def default_recorder() -> Recorder:
    """The process-wide recorder on the global meter provider (created on first use)."""
    global _default
    if _default is None:
        _default = Recorder()
    return _default
