"""An instrumentor that patches its SDK when the application imports it, not before.

``opentelemetry-instrument`` instruments every installed library at start-up.
Importing an SDK there costs the application its import time even if it
never uses it (vLLM with torch: ~9 s; transformers: ~2 s), so each of our
instrumentors only registers a post-import hook: the patch is applied when
(and if) the application imports the SDK's module, or at once when it
already has.  Uninstrumenting disarms a hook that has not fired and undoes a
patch that has.
"""

from __future__ import annotations

import logging
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import Tracer, get_tracer

from otel_carbon import __version__
from otel_carbon._log import log_once
from otel_carbon.semconv import SCHEMA_URL

_logger = logging.getLogger(__name__)


class DeferredInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Subclasses name the module that triggers patching and implement ``_patch`` / ``_unpatch``."""

    #: The module whose import triggers :meth:`_patch` (the one the patch wraps functions of).
    _module: str

    def _patch(self, tracer: Tracer, **kwargs: Any) -> None:
        """Wrap the SDK's functions (the module is imported)."""
        raise NotImplementedError

    def _unpatch(self) -> None:
        """Restore what :meth:`_patch` wrapped."""
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        tracer = get_tracer(type(self).__module__, __version__, tracer_provider=kwargs.get("tracer_provider"),
                            schema_url=SCHEMA_URL)
        self._armed, self._patched = True, False

        def on_import(_module: Any) -> None:
            if not self._armed or self._patched:
                return
            try:
                self._patch(tracer, **kwargs)
                self._patched = True
            except Exception:  # never break the application's import; undo what was wrapped
                log_once(_logger, f"patch:{self._module}", "otel-carbon could not instrument %s", self._module,
                         exc_info=True)
                self._unpatch_quietly()

        wrapt.register_post_import_hook(on_import, self._module)

    def _unpatch_quietly(self) -> None:
        try:
            self._unpatch()  # OpenTelemetry's ``unwrap`` skips what is not wrapped
        except Exception:
            log_once(_logger, f"unpatch:{self._module}", "otel-carbon could not undo %s", self._module, exc_info=True)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._armed = False
        if self._patched:
            self._unpatch()
            self._patched = False
