"""``otel-carbon collector ottl``: the emitted transform statements reproduce the enrichment's numbers.

No otelcol-contrib binary runs here; the arithmetic of each emitted ``set``
(plain ``+``/``*`` on float literals and ``Double(attributes[...])``) is
evaluated with the token counts substituted and compared with
``carbon_attributes`` at token counts the fit never probed.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from otel_carbon.cli import main
from otel_carbon.config import CarbonSettings
from otel_carbon.intensity import build_intensity
from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes

MODELS = ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4")
SET = re.compile(r'^set\(attributes\["(?P<key>[^"]+)"\], (?P<value>.+)\) where (?P<where>.+)$')


def _emitted(capsys) -> list[str]:
    assert main(["collector", "ottl", *[arg for m in MODELS for arg in ("--model", m)]]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    groups = config["processors"]["transform/otel_carbon"]["trace_statements"]
    assert [g["context"] for g in groups] == ["span"]
    return groups[0]["statements"]


def _value(expression: str, input_tokens: int, output_tokens: int):
    if expression.startswith('"'):
        return expression[1:-1]
    substituted = (expression.replace('Double(attributes["gen_ai.usage.input_tokens"])', str(input_tokens))
                   .replace('Double(attributes["gen_ai.usage.output_tokens"])', str(output_tokens)))
    assert re.fullmatch(r"[0-9eE.+\-* ]+", substituted), substituted
    return eval(substituted)  # digits, + and * only (checked above)


def test_statements_reproduce_the_enrichment_at_unprobed_token_counts(capsys):
    statements = _emitted(capsys)
    settings = CarbonSettings(intensity_providers=("none",), intensity_cache_file="off")
    intensity = build_intensity(settings, start=False)
    try:
        context = EnrichmentContext(settings=settings, intensity=intensity)
        for spec in MODELS:
            provider, model = spec.split("/")
            mine = [SET.match(s) for s in statements if f'== "{model}"' in s]
            assert all(mine) and mine
            assert mine[-1]["key"] == "sci.carbon"  # last: it guards the others
            assert all('attributes["sci.carbon"] == nil' in m["where"] for m in mine)
            expected = carbon_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                          "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 777,
                                          "gen_ai.usage.output_tokens": 333}, {}, context)
            for match in mine:
                want = expected[match["key"]]
                got = _value(match["value"], 777, 333)
                assert got == (want if isinstance(want, str) else pytest.approx(want, rel=1e-9)), match["key"]
    finally:
        intensity.close()


def test_ottl_needs_a_model(capsys):
    assert main(["collector", "ottl"]) == 2
    assert "--model PROVIDER/MODEL" in capsys.readouterr().err
    assert main(["collector", "ottl", "--model", "gpt-4o-mini"]) == 2


def test_run_needs_an_upstream(capsys):
    assert main(["collector"]) == 2
    assert "--upstream" in capsys.readouterr().err


def test_unknown_model_is_estimated_and_flagged_as_estimate_says(capsys):
    """The one contract for an unknown model: the fallback class, flagged — in estimate and in ottl alike."""
    assert main(["estimate", "--provider", "openai", "--model", "acme-ultra-9000", "--input-tokens", "10",
                 "--output-tokens", "10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["collector", "ottl", "--model", "openai/acme-ultra-9000"]) == 0
    out = capsys.readouterr().out
    comment = next(line for line in out.splitlines() if "openai/acme-ultra-9000" in line)
    assert "NOT IN THE CATALOGUE" in comment and f"model_match {report['model_match']}" in comment
    statements = yaml.safe_load(out)["processors"]["transform/otel_carbon"]["trace_statements"][0]["statements"]
    constants = {m["key"]: m["value"] for m in map(SET.match, statements) if m["value"].startswith('"')}
    assert constants["sci.model.match"] == f'"{report["model_match"]}"'
    assert constants["sci.model.class"] == f'"{report["model_class"]}"'


def test_known_model_comment_names_the_catalogue_entry(capsys):
    assert main(["collector", "ottl", "--model", "openai/gpt-4o-mini"]) == 0
    out = capsys.readouterr().out
    assert "catalogue model gpt-4o-mini" in out and "NOT IN THE CATALOGUE" not in out
    assert 'set(attributes["sci.model.match"], "exact")' in out
