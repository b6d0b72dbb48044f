"""Carbon as the third input of the real ``litellm.Router``: a custom routing strategy.

    router = litellm.Router(model_list=[...])
    CarbonRoutingStrategy(router, intensity=cache, constraints=Constraints.of(max_latency_ms=2000)).install()

Each deployment of a model group is described in its ``model_info`` (the
fields of :mod:`otel_carbon.routing.deployment`): ``region``
(``PROVIDER:REGION``) or ``zone``, ``p95_ms``, ``quality``, and optionally
``provider``.  Without ``region``/``zone``, ``litellm_params.vertex_location``
(→ ``gcp:``) or ``aws_region_name`` (→ ``aws:``) is used.  Prices come from
``litellm_params`` ``input_cost_per_token``/``output_cost_per_token``, else the
catalogue.  A request's tokens are estimated as characters / 4 for input and
``max_tokens`` (else ``default_output_tokens``) for output; per-request limits
go in ``metadata={"carbon": {"max_latency_ms": …, "allowed_regions": [...]}}``.
Deployments LiteLLM has cooled down are skipped while others remain;
successful calls' latencies feed each deployment's observed p95 (a
``litellm.callbacks`` entry added by :meth:`CarbonRoutingStrategy.install`).
Each decision is recorded on the current span and in ``sci.routing.*`` metrics.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from otel_carbon._extras import missing_extra

try:
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.router import CustomRoutingStrategyBase
except ModuleNotFoundError as exc:  # pragma: no cover - exercised where litellm is absent
    raise missing_extra("routing", exc, "carbon-aware routing for litellm.Router") from exc

from otel_carbon import semconv as sc
from otel_carbon._log import log_once
from otel_carbon.config import CarbonSettings
from otel_carbon.estimate.catalogue import Catalogue
from otel_carbon.estimate.tokens import text_chars, tokens
from otel_carbon.intensity.reading import IntensityLookup
from otel_carbon.routing.deployment import Deployment, deployment_from_mapping
from otel_carbon.routing.record import Recorder, default_recorder
from otel_carbon.routing.router import CarbonRouter, Constraints, NoDeploymentError

_logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_TOKENS = 256
_MODEL_INFO_KEYS = ("region", "zone", "p95_ms", "quality", "provider")


def deployment_of(entry: Mapping[str, Any]) -> Deployment:
    """Our description of one ``model_list`` entry; raises :class:`DeploymentError`."""
    params: Mapping[str, Any] = entry.get("litellm_params") or {}
    info: Mapping[str, Any] = entry.get("model_info") or {}
    prefix, sep, model = str(params.get("model", "")).partition("/")
    if not sep:
        prefix, model = "openai", prefix
    described: dict[str, Any] = {k: info[k] for k in _MODEL_INFO_KEYS if info.get(k) is not None}
    described.setdefault("provider", sc.LITELLM_PROVIDERS.get(prefix, prefix))
    if "region" not in described and "zone" not in described:
        if params.get("vertex_location"):
            described["region"] = f"gcp:{params['vertex_location']}"
        elif params.get("aws_region_name"):
            described["region"] = f"aws:{params['aws_region_name']}"
    for ours, theirs in (("input_price_per_mtok", "input_cost_per_token"), ("output_price_per_mtok", "output_cost_per_token")):
        per_token = params.get(theirs, info.get(theirs))
        if per_token is not None:
            described[ours] = float(per_token) * 1e6
    name = str(info.get("id") or entry.get("model_name") or model)
    return deployment_from_mapping({"name": name, "model": model, **described})


def estimate_tokens(
    messages: Sequence[Mapping[str, Any]] | None, input: Any, request_kwargs: Mapping[str, Any] | None, default_output: int
) -> tuple[int, int]:
    """(input, output) tokens of a request: its text's characters at ``CHARS_PER_TOKEN``, and
    ``max_tokens`` or the default."""
    chars = text_chars(messages) + text_chars(input)
    kwargs = request_kwargs or {}
    output = kwargs.get("max_completion_tokens") or kwargs.get("max_tokens") or default_output
    return max(1, tokens(chars)), int(output)


class CarbonRoutingStrategy(CustomRoutingStrategyBase):  # type: ignore[misc]
    """A LiteLLM custom routing strategy that picks the lowest-carbon deployment of the group.

    ``intensity`` is the live cache (``build_intensity``) or any lookup;
    ``constraints`` apply to every request (per-request ones from metadata
    narrow them).  Never breaks the call on our own failure: it logs once and
    returns the first deployment that meets the residency limits.
    """

    def __init__(
        self,
        router: litellm.Router,
        *,
        intensity: IntensityLookup | None = None,
        constraints: Constraints | None = None,
        settings: CarbonSettings | None = None,
        catalogue: Catalogue | None = None,
        default_output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        recorder: Recorder | None = None,
    ) -> None:
        self.router = router
        self.constraints = constraints or Constraints()
        self._default_output = default_output_tokens
        self._recorder = recorder or default_recorder()
        self._carbon = CarbonRouter(intensity=intensity, settings=settings, catalogue=catalogue)
        # Per model group: LiteLLM's entries (the same objects until the model_list changes) and their descriptions.
        self._described: dict[str, tuple[list[Mapping[str, Any]], list[Deployment]]] = {}

    def install(self, *, observe_latency: bool = True) -> CarbonRoutingStrategy:
        """Make this the router's strategy (``Router.set_custom_routing_strategy``); returns self.

        ``observe_latency`` adds a LiteLLM callback (``litellm.callbacks``) that
        feeds each successful call's latency into its deployment's p95.
        """
        self.router.set_custom_routing_strategy(self)
        if observe_latency:
            _OBSERVER.strategies.add(self)
            if _OBSERVER not in litellm.callbacks:
                litellm.callbacks.append(_OBSERVER)
        return self

    def latency_ms(self, deployment_id: str) -> float | None:
        """The p95 (ms) routing uses for a deployment: observed from 20 calls on, else configured."""
        entry = self.router.get_deployment(model_id=deployment_id)
        if entry is None:
            return None
        return self._carbon.latency_ms(deployment_of(entry.model_dump(exclude_none=True)))

    def observe_latency(self, deployment_id: str, latency_ms: float) -> None:
        """Feed an observed latency (ms) of a deployment into its p95."""
        self._carbon.observe_latency(deployment_id, latency_ms)

    # LiteLLM's base declares None; the router uses the model_list entry returned.
    async def async_get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict | None = None,
    ) -> dict[str, Any]:
        return self.get_available_deployment(model, messages, input, specific_deployment, request_kwargs)

    def get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict | None = None,
    ) -> dict[str, Any]:
        """The ``model_list`` entry to call; raises ``NoDeploymentError`` when none meets the limits."""
        entries = self._entries(model, bool(specific_deployment))
        if len(entries) == 1 and specific_deployment:
            return dict(entries[0])
        constraints = self._constraints(request_kwargs)
        try:
            described = self._describe(model, entries)
            counts = estimate_tokens(messages, input, request_kwargs, self._default_output)
            decision = self._carbon.choose(*counts, constraints, deployments=self._available(described))
        except NoDeploymentError:
            raise
        except Exception as exc:
            if constraints.allowed_regions:  # residency cannot be shown: never guess
                raise
            log_once(_logger, f"routing.litellm.{model}", "otel-carbon: cannot route %s by carbon: %s", model, exc)
            return dict(entries[0])
        self._recorder.decision(decision)
        return dict(entries[[d.name for d in described].index(decision.chosen.name)])

    def _entries(self, model: str, specific: bool) -> list[Mapping[str, Any]]:
        entries: list[Mapping[str, Any]] = list(self.router.get_model_list(model_name=model) or [])
        if not entries or specific:
            found = self.router.get_deployment(model_id=model)
            if found is not None:
                return [found.model_dump(exclude_none=True)]
        if not entries:
            raise ValueError(f"otel-carbon routing: no deployment for model {model!r}")
        return entries

    def _describe(self, model: str, entries: list[Mapping[str, Any]]) -> list[Deployment]:
        """:func:`deployment_of` each entry, once per model group while its entries stay the same.

        ``set_model_list`` / ``upsert_deployment`` replace entries, so a changed group is described anew
        (the comparison is by identity first, so an unchanged group costs one pass over its entries).
        """
        cached = self._described.get(model)
        if cached is not None and cached[0] == entries:
            return cached[1]
        described = [deployment_of(entry) for entry in entries]
        self._described[model] = (entries, described)
        return described

    def _constraints(self, request_kwargs: Mapping[str, Any] | None) -> Constraints:
        metadata = (request_kwargs or {}).get("metadata") or {}
        extra = metadata.get("carbon") if isinstance(metadata, Mapping) else None
        if not isinstance(extra, Mapping):
            return self.constraints
        base = self.constraints
        return Constraints.of(
            max_latency_ms=extra.get("max_latency_ms", base.max_latency_ms),
            max_cost_usd=extra.get("max_cost_usd", base.max_cost_usd),
            min_quality=extra.get("min_quality", base.min_quality),
            allowed_regions=extra.get("allowed_regions", base.allowed_regions),
        )

    def _available(self, described: list[Deployment]) -> list[Deployment]:
        """Drop deployments LiteLLM has cooled down, unless that would leave none."""
        try:
            from litellm.router_utils.cooldown_handlers import get_cooldown_deployments

            cooling = set(get_cooldown_deployments(litellm_router_instance=self.router, parent_otel_span=None))
        except Exception:
            log_once(_logger, "routing.litellm.cooldown", "otel-carbon: cannot read LiteLLM cooldowns", exc_info=True)
            return described
        warm = [d for d in described if d.name not in cooling]
        return warm or described



class _LatencyObserver(CustomLogger):  # type: ignore[misc]
    """Feeds successful calls' latencies (ms) to every installed strategy whose router has that deployment.

    One instance for the process: LiteLLM keeps one callback of a class.
    """

    def __init__(self) -> None:
        super().__init__()
        self.strategies: weakref.WeakSet[CarbonRoutingStrategy] = weakref.WeakSet()

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        try:
            model_info = (kwargs.get("litellm_params") or {}).get("model_info") or {}
            deployment_id = model_info.get("id")
            if deployment_id is None:
                return
            latency_ms = (end_time - start_time).total_seconds() * 1000.0
            for strategy in list(self.strategies):
                if strategy.router.get_deployment(model_id=str(deployment_id)) is not None:
                    strategy.observe_latency(str(deployment_id), latency_ms)
        except Exception:
            log_once(_logger, "routing.litellm.latency", "otel-carbon: cannot read a LiteLLM latency", exc_info=True)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.log_success_event(kwargs, response_obj, start_time, end_time)


_OBSERVER = _LatencyObserver()
