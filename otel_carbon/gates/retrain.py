"""The retraining guard: is a retraining run worth its carbon?  (RES, see ``docs/methodology.md``.)

    RES = G / C        points of quality gained per kg CO2e
    C   = E · I        E: the run's energy (kWh), I: grid intensity where and when it runs (gCO2e/kWh) → kg

``G`` is the expected gain of the quality metric (e.g. points of forecast error
removed, in percent of the current error) estimated *before* training;
``E`` is the training energy, measured on the previous run by our meter or
estimated.  A run whose RES reaches ``min_score`` is worth running:

* ``retrain`` — RES now ≥ ``min_score`` and no cleaner window before the deadline;
* ``defer``   — RES ≥ ``min_score`` in a cleaner window that starts later but
  ends before ``deadline`` (the job runs then; the window is returned);
* ``skip``    — RES < ``min_score`` now and in the best window: not worth its carbon.

Intensity comes from the cache (live provider or the shipped table, never
blocking); a window needs a forecast for the zone.  The decision is recorded as
a span (``retrain_gate``) carrying its inputs and answer (``sci.res.*``), through
the tracer provider given, else the global one.  Units: J, g CO2e, gCO2e/kWh.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from opentelemetry import trace

from otel_carbon import sci
from otel_carbon import semconv as sc
from otel_carbon.intensity.cache import IntensityCache


@dataclass(frozen=True)
class RetrainDecision:
    """The guard's answer.  ``score`` and ``carbon_g`` are at the chosen start (the window's for ``defer``);
    ``score_now`` is RES if the run started now.  ``window_start`` / ``window_end`` only for ``defer``."""

    decision: str
    score: float
    score_now: float
    threshold: float
    expected_gain: float
    energy_j: float
    carbon_g: float
    intensity_g_per_kwh: float
    zone: str
    intensity_source: str
    reason: str
    window_start: datetime | None = None
    window_end: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract of ``otel-carbon retrain-gate --json``."""
        return {
            "decision": self.decision,
            "score": self.score,
            "score_now": self.score_now,
            "threshold": self.threshold,
            "expected_gain": self.expected_gain,
            "energy_kwh": self.energy_j / sci.JOULES_PER_KWH,
            "carbon_g": self.carbon_g,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "zone": self.zone,
            "intensity_source": self.intensity_source,
            "reason": self.reason,
            "window": None if self.window_start is None or self.window_end is None else {
                "start": self.window_start.isoformat(), "end": self.window_end.isoformat(),
            },
        }


def res_score(expected_gain: float, energy_j: float, intensity_g_per_kwh: float) -> float:
    """RES in points per kg CO2e for ``expected_gain`` points, ``energy_j`` J at ``intensity_g_per_kwh``.

    The carbon is floored at 1 µg (a zero-carbon grid) so the score stays finite.
    """
    carbon_kg = max(sci.operational_g(energy_j, intensity_g_per_kwh), 1e-6) / 1000.0
    return expected_gain / carbon_kg


def decide(
    *,
    expected_gain: float,
    energy_j: float,
    zone: str,
    min_score: float,
    intensity: IntensityCache | None = None,
    deadline: datetime | None = None,
    duration: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    energy_source: str = "given",
    tracer_provider: Any = None,
) -> RetrainDecision:
    """Decide whether to retrain now, later (in a cleaner window before ``deadline``), or not at all.

    ``expected_gain`` >= 0 points; ``energy_j`` > 0 J; ``min_score`` >= 0 points per kg CO2e;
    ``duration`` > 0, the run's expected length (for the window); ``deadline`` after ``now``.
    Raises ``ValueError`` (naming the input) on anything else.  ``intensity`` defaults to the
    shipped static table; ``energy_source`` (``given``, ``spans``, ``measured``…) is recorded on the span.
    """
    _check(expected_gain, energy_j, min_score, duration)
    now = now or datetime.now(timezone.utc)
    if deadline is not None and deadline <= now:
        raise ValueError("deadline must lie in the future")
    cache = intensity if intensity is not None else IntensityCache()
    reading = cache.lookup(zone)
    score_now = res_score(expected_gain, energy_j, reading.g_per_kwh)
    decision = RetrainDecision(
        "retrain" if score_now >= min_score else "skip", score_now, score_now, min_score, expected_gain, energy_j,
        sci.operational_g(energy_j, reading.g_per_kwh), reading.g_per_kwh, reading.zone, reading.source,
        f"{_reason(score_now, min_score)} now",
    )
    if deadline is not None:
        window = cache.best_window(zone, duration, deadline, now=now)
        score_window = res_score(expected_gain, energy_j, window.g_per_kwh)
        cleaner = not window.fallback and window.start > now and window.g_per_kwh < reading.g_per_kwh
        if cleaner and score_window >= min_score:
            decision = RetrainDecision(
                "defer", score_window, score_now, min_score, expected_gain, energy_j,
                sci.operational_g(energy_j, window.g_per_kwh), window.g_per_kwh, window.zone, window.source,
                f"{_reason(score_window, min_score)} in the cleaner window at {window.g_per_kwh:.0f} gCO2e/kWh "
                f"(now {reading.g_per_kwh:.0f})",
                window.start, window.end,
            )
        elif cleaner:
            decision = replace(decision, reason=f"{decision.reason}; {_reason(score_window, min_score)} "
                                                f"in the best window before the deadline")
    _record(decision, energy_source, tracer_provider)
    return decision


def _check(expected_gain: float, energy_j: float, min_score: float, duration: timedelta) -> None:
    if not (math.isfinite(expected_gain) and expected_gain >= 0):
        raise ValueError("expected gain must be a finite number >= 0")
    if not (math.isfinite(energy_j) and energy_j > 0):
        raise ValueError("training energy must be a finite number > 0")
    if not (math.isfinite(min_score) and min_score >= 0):
        raise ValueError("minimum score must be a finite number >= 0")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")


def _reason(score: float, threshold: float) -> str:
    relation = "≥" if score >= threshold else "<"
    return f"RES {score:.3g} {relation} {threshold:g} points per kg CO2e"


def _record(decision: RetrainDecision, energy_source: str, tracer_provider: Any) -> None:
    """The decision as a span (``retrain_gate``) with its inputs and answer."""
    tracer = trace.get_tracer("otel_carbon.gates", tracer_provider=tracer_provider, schema_url=sc.SCHEMA_URL)
    attributes: dict[str, Any] = {
        sc.SCI_RES_DECISION: decision.decision,
        sc.SCI_RES_SCORE: decision.score,
        sc.SCI_RES_THRESHOLD: decision.threshold,
        sc.SCI_RES_EXPECTED_GAIN: decision.expected_gain,
        sc.SCI_RES_ENERGY: decision.energy_j,
        sc.SCI_RES_ENERGY_SOURCE: energy_source,
        sc.SCI_RES_CARBON: decision.carbon_g,
        sc.SCI_RES_INTENSITY: decision.intensity_g_per_kwh,
        sc.SCI_RES_ZONE: decision.zone,
        sc.SCI_INTENSITY_SOURCE: decision.intensity_source,
    }
    if decision.window_start is not None:
        attributes[sc.SCI_RES_WINDOW_START] = decision.window_start.isoformat()
    with tracer.start_as_current_span("retrain_gate", attributes=attributes):
        pass


def energy_from_otlp_json(path: str, span_name: str | None = None) -> float:
    """The energy (J) of the spans in an OTLP/JSON file (the Collector ``file`` exporter's format:
    one ``{"resourceSpans": …}`` object per line, or one object), e.g. the previous training run's.

    Per span: ``sci.energy`` when enriched, else the measured window ``sci.measured.accelerator`` +
    ``sci.measured.host``; spans marked ``sci.counted = false`` are skipped; ``span_name`` keeps only
    spans of that name.  Raises ``ValueError`` (one line) when the file is unreadable or holds no energy.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    try:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        try:
            documents = [json.loads(text)]
        except ValueError as exc:
            raise ValueError(f"{path}: not OTLP/JSON ({exc})") from None
    total, spans = 0.0, 0
    for document in documents:
        for span in _otlp_spans(document):
            if span_name is not None and span.get("name") != span_name:
                continue
            energy = _span_energy(_otlp_attributes(span.get("attributes")))
            if energy is not None:
                total += energy
                spans += 1
    if spans == 0 or not total > 0:
        raise ValueError(f"{path}: no span with energy (sci.energy or sci.measured.*)")
    return total


def _otlp_spans(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [
        span
        for resource in document.get("resourceSpans") or []
        for scope in (resource.get("scopeSpans") or [] if isinstance(resource, dict) else [])
        for span in (scope.get("spans") or [] if isinstance(scope, dict) else [])
        if isinstance(span, dict)
    ]


def _otlp_attributes(entries: Any) -> dict[str, Any]:
    """OTLP/JSON ``[{"key": k, "value": {"doubleValue": v}}]`` as a plain mapping (scalars only)."""
    out: dict[str, Any] = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
            continue
        value = entry["value"]
        for kind in ("doubleValue", "intValue", "boolValue", "stringValue"):
            if kind in value:
                raw = value[kind]
                out[str(entry.get("key"))] = float(raw) if kind == "intValue" else raw  # int64 is a string in JSON
                break
    return out


def _span_energy(attributes: dict[str, Any]) -> float | None:
    if attributes.get(sc.SCI_COUNTED) is False:
        return None
    parts = [attributes.get(sc.SCI_ENERGY)]
    if parts[0] is None:
        parts = [attributes.get(sc.SCI_MEASURED_ACCELERATOR), attributes.get(sc.SCI_MEASURED_HOST)]
    numbers = [float(p) for p in parts if isinstance(p, (int, float)) and not isinstance(p, bool)]
    energy = sum(n for n in numbers if math.isfinite(n) and n >= 0)
    return energy if numbers and energy > 0 else None
