"""Carbon enrichment as a trace processor for the rotel collector (``pip install 'otel-carbon[rotel]'``).

rotel's agent embeds Python and calls ``process_spans(resource_spans)`` of the
file named by ``--otlp-with-trace-processor`` for each ``ResourceSpans`` it
receives; its ``rotel_sdk`` objects are mutable views of the OTLP messages.
This module converts each GenAI span's attributes to a plain dict, calls the
same :func:`otel_carbon.processors.enrich.carbon_attributes` as the span
processor and the gateway, and appends what it returns.  Spans that are not
GenAI, or already carry ``sci.carbon``, are left as they are.  Settings come
from the ``OTEL_CARBON_*`` environment of the agent.  A span that cannot be
enriched is passed on as it came (logged once): the pipeline never stops here.

    rotel start --exporter otlp --otlp-exporter-endpoint http://backend:4317 \\
        --otlp-with-trace-processor "$(python -m otel_carbon.collector.rotel_processor)"

(``PYTHONPATH`` must let the agent's interpreter import ``otel_carbon``:
:func:`agent_pythonpath` builds one for this interpreter's environment, and
:func:`agent_binary` finds the agent the ``rotel`` wheel ships.)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from otel_carbon._log import log_once
from otel_carbon.processors.enrich import EnrichmentContext, carbon_attributes
from otel_carbon.semconv import GENAI_MARKER_KEYS

_logger = logging.getLogger(__name__)
_context: EnrichmentContext | None = None
_context_lock = threading.Lock()


def _enrichment_context() -> EnrichmentContext:
    """One context per agent process, built on first use from ``OTEL_CARBON_*``."""
    global _context
    with _context_lock:
        if _context is None:
            from otel_carbon.config import CarbonSettings
            from otel_carbon.intensity import build_intensity

            settings = CarbonSettings.from_env()
            _context = EnrichmentContext(settings=settings, intensity=build_intensity(settings))
        return _context


def agent_binary() -> Path:
    """The ``rotel-agent`` executable of the installed ``rotel`` wheel; ``RuntimeError`` saying why when it is
    not installed or does not start on this host (e.g. it links a ``libpython3.11.so`` that is absent)."""
    import subprocess  # here, not at the top: the agent's embedded interpreter loads this module too

    try:
        import rotel
    except ModuleNotFoundError:
        raise RuntimeError("the rotel collector is not installed (pip install 'otel-carbon[rotel]')") from None
    agent = Path(rotel.__file__).parent / "rotel-agent"
    if not agent.exists():
        raise RuntimeError(f"the rotel wheel has no agent binary at {agent}")
    probe = subprocess.run([str(agent), "version"], capture_output=True, text=True, timeout=30,
                           check=False)
    if probe.returncode != 0:
        raise RuntimeError(f"the rotel agent does not start here: {probe.stderr.strip()[:200]}")
    return agent


def agent_pythonpath(directory: Path) -> str:
    """A ``PYTHONPATH`` under which the agent's embedded interpreter imports this environment's packages.

    ``PYTHONPATH`` entries do not process ``.pth`` files, and an editable install of
    otel-carbon is one; a ``sitecustomize`` (written to ``directory``) adding this
    environment's site-packages as site dirs does.
    """
    site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    (directory / "sitecustomize.py").write_text(
        "import site\n" + "".join(f"site.addsitedir({d!r})\n" for d in site_dirs))
    return os.pathsep.join([str(directory), *site_dirs])


def _python(value: Any) -> Any:
    """The plain value of a rotel ``AnyValue`` (arrays as tuples, key-value lists as dicts)."""
    inner: Any = getattr(value, "value", None)
    if hasattr(inner, "values"):
        items = list(inner.values)
        if items and hasattr(items[0], "key"):
            return {kv.key: _python(kv.value) for kv in items}
        return tuple(_python(v) for v in items)
    return inner


def _attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: _python(kv.value) for kv in key_values}


def process_spans(resource_spans: Any) -> None:
    """rotel's trace-processor entry point: enrich the GenAI spans of one ``ResourceSpans`` in place."""
    from rotel_sdk.open_telemetry.common.v1 import AnyValue, KeyValue  # present inside the rotel agent only

    resource: dict[str, Any] | None = None
    for scope_spans in resource_spans.scope_spans:
        for span in scope_spans.spans:
            try:
                key_values = span.attributes
                if GENAI_MARKER_KEYS.isdisjoint(kv.key for kv in key_values):
                    continue
                if resource is None:
                    owner = resource_spans.resource
                    resource = _attributes(owner.attributes) if owner is not None else {}
                carbon = carbon_attributes(_attributes(key_values), resource, _enrichment_context())
                for key, value in carbon.items():
                    key_values.append(KeyValue(key, AnyValue(value)))
            except Exception:
                log_once(_logger, "collector.rotel", "otel-carbon rotel processor could not enrich a span", exc_info=True)


if __name__ == "__main__":  # print this file's path, for --otlp-with-trace-processor
    print(__file__)
