"""The methodology page of a report: what the numbers include, where each factor comes from, how
uncertain they are — written from the report's own figures, so that the report stands on its own."""

from __future__ import annotations

from typing import Any

from otel_carbon.report.build import Report
from otel_carbon.report.formats import share


def methodology_sections(report: Report) -> list[dict[str, Any]]:
    """Sections (``title``, ``paragraphs``) of the methodology page for ``report``."""
    scopes, quality, missing, totals = report.scopes, report.quality, report.missing, report.totals
    factors = scopes["market_factors"]
    classification = "; ".join(
        f"{c['supply']} → {c['scope']} ({c['calls']} calls{'' if c['scope'] == c['default_scope'] else ', reclassified'})"
        for c in scopes["classification"]
    ) or "no calls in the period"
    sections = [
        ("What is counted", [
            "One line item per model call counted by otel-carbon (in the application or in its OTLP gateway), "
            "written when the call ended, whether or not its trace was sampled. A call is one row however often "
            "its span was exported (rows are keyed by trace and span id).",
            f"Period {report.period.label}: calls that ended from {report.period.start.isoformat()} (included) to "
            f"{report.period.end.isoformat()} (excluded), UTC. Ledger: {report.ledger}.",
        ]),
        ("Boundary and formula", [
            "Software Carbon Intensity (ISO/IEC 21031:2024): SCI = (E·I + M) per R. E is the energy of the call "
            "inside the boundary, I the location-based grid intensity of the zone where it ran, M the embodied "
            "emissions of the hardware share and time it held, R the functional unit (one request; per 1k tokens "
            "is shown too).",
            f"Boundary of the calls in this period: {', '.join(report.methodology.get('boundaries') or ['n/a'])}. "
            "'comprehensive' = accelerator + host (CPU, DRAM) + idle fleet share + data-centre overhead (PUE); "
            "'accelerator' = the accelerator alone. Energy by layer is reported separately.",
        ]),
        ("Energy: measured and estimated", [
            f"Measured calls (NVML GPU energy counters, RAPL or a CPU power model on this site): "
            f"{share(quality['measured_share_calls'])} of calls, {share(quality['measured_share_carbon'])} of carbon.",
            "Estimated calls (hosted APIs): energy per token from a model catalogue and a fit to open "
            "measurements (ML.ENERGY benchmark, Apache-2.0), host/idle/PUE layers from Google's 2025 measured "
            "split (Elsworth et al., arXiv:2508.15734) and providers' published PUE. Model match of the estimates: "
            + (", ".join(f"{k}: {v}" for k, v in quality["model_match_of_estimates"].items()) or "none")
            + " ('exact' = the catalogue knows the model; 'pattern' = a size class by name; 'default' = a fallback "
            "class: least certain).",
        ]),
        ("Grid intensity", [
            "Location-based intensity per zone, in gCO2e/kWh, from the sources: "
            + (", ".join(f"{k} ({v} calls)" for k, v in quality["intensity_sources"].items()) or "none") + ".",
            f"Calls priced at the static annual fallback because no live value was available: "
            f"{share(quality['fallback_intensity_share_calls'])} of calls, "
            f"{share(quality['fallback_intensity_share_carbon'])} of carbon. The static table: Our World in Data / "
            "Ember (CC BY 4.0) per country, Google region-carbon-info (Apache-2.0) per cloud region.",
        ]),
        ("Scopes (GHG Protocol)", [
            f"Classification used: {classification}. 'local' = inference on hardware this organisation operates "
            "(Scope 2: its purchased electricity); 'cloud' = the same on rented cloud capacity and 'hosted' = a "
            "model API (Scope 3 category 1, purchased goods and services). The classification of each supply is "
            "configurable (OTEL_CARBON_LEDGER_SCOPES) and stored with every row.",
            "Scope 2 location-based = the grid-average operational emissions above. Scope 2 market-based = "
            "Scope 2 energy × the contractual emission factors supplied for this report ("
            + (", ".join(f"{z}: {f:g} gCO2e/kWh" for z, f in factors.items()) or "none supplied")
            + f"); covered share of Scope 2 energy: {share(scopes['scope2']['market_factor_coverage'])}. Zones "
            "without a factor fall back to the location-based figure: "
            + (", ".join(scopes["scope2"]["market_fallback_zones"]) or "none") + ".",
            f"Embodied emissions (hardware manufacture, {totals['embodied_g']:.6g} g) are shown apart from the "
            "operational Scope 2 / Scope 3.1 figures, amortised over the configured lifespan.",
        ]),
        ("Uncertainty", [
            f"Low and high bounds are carried through every line item: carbon {totals['carbon_low_g']:.6g} – "
            f"{totals['carbon_high_g']:.6g} g (central {totals['carbon_g']:.6g} g); energy "
            f"{totals['energy_low_j']:.6g} – {totals['energy_high_j']:.6g} J. They reflect the range of model "
            "sizes and hardware where the provider does not publish them; measured calls have no such range.",
        ]),
        ("What is missing", [
            f"Calls the ledger writer had to drop (queue full, database unavailable past its retries): "
            f"{missing['dropped_calls']}" + (" — the totals are a lower bound." if missing["dropped_calls"] else ".")
            + (f" Rows before {missing['retention_deleted_before']} were deleted by the retention setting."
               if missing["retention_deleted_before"] else ""),
            f"Calls without a known price: {quality['cost_unknown_calls']} (cost is a lower bound when not 0).",
        ]),
    ]
    return [{"title": title, "paragraphs": paragraphs} for title, paragraphs in sections]
