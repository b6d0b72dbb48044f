"""OTTL ``transform`` processor statements for otelcol-contrib: carbon with static factors, no extra hop.

For each ``provider/model`` asked for, the factors come from the same
:func:`otel_carbon.processors.enrich.carbon_attributes` the gateway runs,
probed at a few token counts with the static intensity table (no live
provider) and fitted as ``value = base + a·input_tokens + b·output_tokens``.
The fit is checked at two further token pairs and the worst relative error is
written into the YAML as a comment: where the estimate is not affine in
tokens (e.g. cached or reasoning tokens, which the statements do not see) the
gateway remains the exact path.  A model the catalogue does not know is estimated
by its fallback class, as everywhere: the comment says so and the statements set
``sci.model.match`` (``pattern`` | ``default``) and ``sci.model.class``.  Statements match on the request model and
either provider key, skip spans that already carry ``sci.carbon`` and set
``sci.carbon`` last, so a span is enriched once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes

#: Attributes fitted per token; sci.carbon is last on purpose (it guards the others).
FITTED = (sc.SCI_ENERGY, sc.SCI_OPERATIONAL, sc.SCI_EMBODIED, sc.GEN_AI_USAGE_COST, sc.SCI_CARBON)
#: Attributes that do not depend on tokens.
CONSTANT = (sc.SCI_ENERGY_METHOD, sc.SCI_BOUNDARY, sc.SCI_INTENSITY, sc.SCI_INTENSITY_ZONE, sc.SCI_INTENSITY_SOURCE,
            sc.SCI_FUNCTIONAL_UNIT, sc.SCI_MODEL_MATCH, sc.SCI_MODEL_CLASS)
_PROBE = 1000  # tokens per probe point
_CHECKS = ((1000, 1000), (3000, 500))


@dataclass(frozen=True)
class Affine:
    """``base + per_input·input_tokens + per_output·output_tokens`` (units of the attribute)."""

    base: float
    per_input: float
    per_output: float

    def at(self, input_tokens: float, output_tokens: float) -> float:
        return self.base + self.per_input * input_tokens + self.per_output * output_tokens


@dataclass(frozen=True)
class StaticFactors:
    provider: str
    model: str
    fitted: Mapping[str, Affine]
    constant: Mapping[str, Any]
    max_relative_error: float  #: worst error of the fit at the check points


def _probe(provider: str, model: str, input_tokens: int, output_tokens: int, context: EnrichmentContext) -> dict:
    attributes = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: model,
                  sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens, sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens}
    return carbon_attributes(attributes, {}, context)


def static_factors(provider: str, model: str, context: EnrichmentContext) -> StaticFactors:
    """Fit the enrichment's output for ``provider``/``model`` as affine in input and output tokens."""
    # Three probes fix the plane (a call with no tokens at all is not counted, so no probe at 0, 0).
    by_input = _probe(provider, model, _PROBE, 0, context)
    by_input_twice = _probe(provider, model, 2 * _PROBE, 0, context)
    by_output = _probe(provider, model, 0, _PROBE, context)
    fitted = {}
    for key in FITTED:
        if key in by_input:
            per_input = (by_input_twice[key] - by_input[key]) / _PROBE
            base = float(by_input[key]) - per_input * _PROBE
            fitted[key] = Affine(base, per_input, (by_output[key] - base) / _PROBE)
    worst = 0.0
    for input_tokens, output_tokens in _CHECKS:
        actual = _probe(provider, model, input_tokens, output_tokens, context)
        for key, line in fitted.items():
            if actual[key]:
                worst = max(worst, abs(line.at(input_tokens, output_tokens) - actual[key]) / abs(actual[key]))
    constant = {key: by_input[key] for key in CONSTANT if key in by_input}
    return StaticFactors(provider, model, fitted, constant, worst)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attr(key: str) -> str:
    return f'attributes["{key}"]'


def statements(factors: StaticFactors) -> list[str]:
    """The OTTL span statements for one model."""
    model, provider = _literal(factors.model), _literal(factors.provider)
    where = (
        f"{_attr(sc.GEN_AI_REQUEST_MODEL)} == {model} and "
        f"({_attr(sc.GEN_AI_PROVIDER_NAME)} == {provider} or {_attr(sc.GEN_AI_SYSTEM)} == {provider}) and "
        f"{_attr(sc.GEN_AI_USAGE_INPUT_TOKENS)} != nil and {_attr(sc.GEN_AI_USAGE_OUTPUT_TOKENS)} != nil and "
        f"{_attr(sc.SCI_CARBON)} == nil"
    )
    tokens_in = f"Double({_attr(sc.GEN_AI_USAGE_INPUT_TOKENS)})"
    tokens_out = f"Double({_attr(sc.GEN_AI_USAGE_OUTPUT_TOKENS)})"
    out = [f"set({_attr(key)}, {_literal(value)}) where {where}" for key, value in factors.constant.items()]
    for key, line in factors.fitted.items():  # FITTED order: sci.carbon last
        expression = f"{line.base!r} + {line.per_input!r} * {tokens_in} + {line.per_output!r} * {tokens_out}"
        out.append(f"set({_attr(key)}, {expression}) where {where}")
    return out


def _model_note(factors: StaticFactors) -> str:
    """How the catalogue knows the model: as ``otel-carbon estimate`` says it (``model_match``)."""
    match = factors.constant.get(sc.SCI_MODEL_MATCH, "default")
    model_class = factors.constant.get(sc.SCI_MODEL_CLASS, "?")
    if match == "exact":
        return f"catalogue model {model_class}"
    return f"NOT IN THE CATALOGUE: estimated by the fallback class {model_class} (model_match {match})"


def transform_processor_yaml(all_factors: Sequence[StaticFactors]) -> str:
    """A ``processors.transform/otel_carbon`` block for an otelcol-contrib configuration."""
    lines = [
        "# otel-carbon static factors (static intensity table, no live provider); add",
        "# transform/otel_carbon to the traces pipeline's processors.",
        "processors:",
        "  transform/otel_carbon:",
        "    error_mode: ignore",
        "    trace_statements:",
        "      - context: span",
        "        statements:",
    ]
    for factors in all_factors:
        lines.append(f"          # {factors.provider}/{factors.model}: {_model_note(factors)}; affine fit, worst "
                     f"relative error {factors.max_relative_error:.2%} at the check points")
        lines.extend("          - '" + statement.replace("'", "''") + "'" for statement in statements(factors))
    return "\n".join(lines) + "\n"
