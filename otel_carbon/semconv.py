"""Every attribute and metric name otel-carbon reads or writes, in one place.

The OpenTelemetry GenAI conventions are still in development and have renamed
attributes more than once; peer instrumentations emit different generations of
them.  Readers therefore take a *tuple* of candidate names, newest first
(see :func:`first_present`).  Our own carbon names (``sci.*``) have no upstream
convention yet; ``docs/semantic-conventions.md`` documents each one.

Units: energy in joules (J), carbon in grams CO2-equivalent (g CO2e), grid
intensity in gCO2e/kWh, cost in USD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

# --- Schema ------------------------------------------------------------------

#: The semantic-conventions version our telemetry follows, passed as ``schema_url`` to every
#: tracer and meter of ours (the instrumentation scope says which names its spans use).
#: 1.41.0 is the last release of the OpenTelemetry conventions that carries the GenAI ones
#: (they have since moved to their own repository, ``semantic-conventions-genai``): the
#: ``gen_ai.*`` names below that we write (``gen_ai.provider.name``,
#: ``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.reasoning.output_tokens``) are
#: the names of that release; ``server.*`` and ``error.type`` are stable.
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"

# --- GenAI conventions: request / response --------------------------------

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # deprecated name of provider
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# --- GenAI conventions: token usage -------------------------------------

GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"  # old name
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"  # old name
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"  # USD; the name OpenLIT and LiteLLM emit

# Candidate names per fact, newest first.  OpenLLMetry writes
# ``gen_ai.usage.cache_read_input_tokens`` / ``..._creation_input_tokens``;
# older OpenLIT writes ``gen_ai.usage.reasoning_tokens``.
PROVIDER_KEYS: Final = (GEN_AI_PROVIDER_NAME, GEN_AI_SYSTEM)
MODEL_KEYS: Final = (GEN_AI_RESPONSE_MODEL, GEN_AI_REQUEST_MODEL)
INPUT_TOKEN_KEYS: Final = (GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_PROMPT_TOKENS)
OUTPUT_TOKEN_KEYS: Final = (GEN_AI_USAGE_OUTPUT_TOKENS, GEN_AI_USAGE_COMPLETION_TOKENS)
CACHE_READ_KEYS: Final = (
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    "gen_ai.usage.cache_read_input_tokens",
)
CACHE_WRITE_KEYS: Final = (
    GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.usage.cache_creation_input_tokens",
)
REASONING_KEYS: Final = (
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.completion_tokens_details.reasoning_tokens",
)
#: A span is a GenAI span when it carries any of these (a set: one C-level
#: ``isdisjoint`` pass over a span's keys is the cheapest test for plain spans).
GENAI_MARKER_KEYS: Final = frozenset(PROVIDER_KEYS + MODEL_KEYS + (GEN_AI_OPERATION_NAME,))

# --- GenAI conventions: provider names ------------------------------------

# Every value we write to ``gen_ai.provider.name``; instrumentations name these
# constants, never the strings (tests/test_provider_names.py checks).
# Well-known values of the OpenTelemetry GenAI registry (``GenAiProviderNameValues``):
PROVIDER_OPENAI: Final = "openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_AZURE_AI_INFERENCE: Final = "azure.ai.inference"
PROVIDER_AZURE_AI_OPENAI: Final = "azure.ai.openai"
PROVIDER_COHERE: Final = "cohere"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_IBM_WATSONX_AI: Final = "ibm.watsonx.ai"
PROVIDER_MISTRAL_AI: Final = "mistral_ai"
PROVIDER_PERPLEXITY: Final = "perplexity"
PROVIDER_X_AI: Final = "x_ai"
# Ours, where the registry has no value: hosted APIs and aggregators...
PROVIDER_AWS_SAGEMAKER: Final = "aws.sagemaker"
PROVIDER_OCI_GENERATIVE_AI: Final = "oci.generative_ai"
PROVIDER_OPENROUTER: Final = "openrouter"
PROVIDER_TOGETHER: Final = "together"
PROVIDER_LITELLM: Final = "litellm"  # a LiteLLM call whose upstream provider cannot be told
# ...and local inference engines.
PROVIDER_LLAMA_CPP: Final = "llama_cpp"
PROVIDER_LMSTUDIO: Final = "lmstudio"
PROVIDER_OLLAMA: Final = "ollama"
PROVIDER_TRANSFORMERS: Final = "transformers"
PROVIDER_VLLM: Final = "vllm"

# Providers that run in this process or on this machine (local inference):
# their energy is this site's, at this site's zone and PUE, with no API price.
LOCAL_PROVIDERS: Final = frozenset(
    {PROVIDER_TRANSFORMERS, PROVIDER_VLLM, PROVIDER_LLAMA_CPP, PROVIDER_OLLAMA, PROVIDER_LMSTUDIO}
)

#: LiteLLM's provider names (the ``provider/`` prefix of its model strings) → ``gen_ai.provider.name``; a provider
#: not listed keeps LiteLLM's name.  Read by the LiteLLM instrumentation and the LiteLLM routing strategy.
LITELLM_PROVIDERS: Final[Mapping[str, str]] = {
    "openai": PROVIDER_OPENAI,
    "text-completion-openai": PROVIDER_OPENAI,
    "azure": PROVIDER_AZURE_AI_OPENAI,
    "azure_text": PROVIDER_AZURE_AI_OPENAI,
    "azure_ai": PROVIDER_AZURE_AI_INFERENCE,
    "anthropic": PROVIDER_ANTHROPIC,
    "bedrock": PROVIDER_AWS_BEDROCK,
    "bedrock_converse": PROVIDER_AWS_BEDROCK,
    "vertex_ai": PROVIDER_GCP_VERTEX_AI,
    "vertex_ai_beta": PROVIDER_GCP_VERTEX_AI,
    "gemini": PROVIDER_GCP_GEMINI,
    "mistral": PROVIDER_MISTRAL_AI,
    "codestral": PROVIDER_MISTRAL_AI,
    "text-completion-codestral": PROVIDER_MISTRAL_AI,
    "cohere": PROVIDER_COHERE,
    "cohere_chat": PROVIDER_COHERE,
    "ollama": PROVIDER_OLLAMA,
    "ollama_chat": PROVIDER_OLLAMA,
    "hosted_vllm": PROVIDER_VLLM,
    "groq": PROVIDER_GROQ,
    "deepseek": PROVIDER_DEEPSEEK,
    "xai": PROVIDER_X_AI,
    "together_ai": PROVIDER_TOGETHER,
    "perplexity": PROVIDER_PERPLEXITY,
    "openrouter": PROVIDER_OPENROUTER,
    "watsonx": PROVIDER_IBM_WATSONX_AI,
}

# Operations that never burn inference energy on their own.
NON_INFERENCE_OPERATIONS: Final = frozenset(
    {"execute_tool", "invoke_agent", "invoke_workflow", "create_agent", "fetch_response"}
)

# --- Resource attributes -------------------------------------------------

CLOUD_PROVIDER: Final = "cloud.provider"
CLOUD_REGION: Final = "cloud.region"
SERVICE_NAME: Final = "service.name"

# --- Our carbon attributes (sci.*) ---------------------------------------

SCI_ENERGY: Final = "sci.energy"  # J, total inside the boundary (mid)
SCI_ENERGY_LOW: Final = "sci.energy.low"  # J
SCI_ENERGY_HIGH: Final = "sci.energy.high"  # J
SCI_ENERGY_ACCELERATOR: Final = "sci.energy.accelerator"  # J
SCI_ENERGY_HOST: Final = "sci.energy.host"  # J
SCI_ENERGY_IDLE: Final = "sci.energy.idle"  # J
SCI_ENERGY_OVERHEAD: Final = "sci.energy.overhead"  # J, the PUE share
SCI_ENERGY_METHOD: Final = "sci.energy.method"  # measured | estimated
SCI_BOUNDARY: Final = "sci.boundary"  # accelerator | comprehensive
SCI_INTENSITY: Final = "sci.intensity"  # gCO2e/kWh
SCI_INTENSITY_ZONE: Final = "sci.intensity.zone"
SCI_INTENSITY_SOURCE: Final = "sci.intensity.source"
SCI_INTENSITY_OBSERVED_AT: Final = "sci.intensity.observed_at"  # RFC 3339 UTC
SCI_INTENSITY_FALLBACK: Final = "sci.intensity.fallback"  # bool
SCI_OPERATIONAL: Final = "sci.operational"  # g CO2e
SCI_EMBODIED: Final = "sci.embodied"  # g CO2e
SCI_CARBON: Final = "sci.carbon"  # g CO2e, operational + embodied (mid)
SCI_CARBON_LOW: Final = "sci.carbon.low"
SCI_CARBON_HIGH: Final = "sci.carbon.high"
SCI_FUNCTIONAL_UNIT: Final = "sci.functional_unit"  # request | 1k_tokens
SCI_SCORE: Final = "sci.score"  # g CO2e per functional unit
SCI_MODEL_MATCH: Final = "sci.model.match"  # exact | pattern | default
SCI_MODEL_CLASS: Final = "sci.model.class"  # catalogue entry or fallback class
SCI_PROXIED: Final = "sci.proxied"  # bool: a loopback/private endpoint relaying a hosted model

# Accounting (docs/methodology.md, "What is counted").  Exactly one span per model call
# carries sci.counted=true; every other GenAI span of that call, and every span whose carbon
# could not be computed, carries sci.counted=false, a sci.carbon.status, and no sci.carbon.
SCI_COUNTED: Final = "sci.counted"  # bool
SCI_CARBON_STATUS: Final = "sci.carbon.status"  # why a span is not counted (values below)
STATUS_DUPLICATE: Final = "duplicate"  # another span of the same call is counted
STATUS_NO_USAGE: Final = "no_usage"  # no token counts and no measurement: carbon unknown
STATUS_INVALID_USAGE: Final = "invalid_usage"  # negative, non-finite, non-numeric or above the ceiling
# Token counts our instrumentation estimated (a stream that reported no usage).
SCI_USAGE_ESTIMATED: Final = "sci.usage.estimated"  # bool
SCI_USAGE_METHOD: Final = "sci.usage.method"  # e.g. "stream_text"

# Written by our instrumentation when a measurement window covered the call
# (issue: measured device energy).  Enrichment prefers these over estimation.
SCI_MEASURED_ACCELERATOR: Final = "sci.measured.accelerator"  # J
SCI_MEASURED_HOST: Final = "sci.measured.host"  # J
SCI_MEASURED_DURATION: Final = "sci.measured.duration"  # s
SCI_MEASURED_DEVICES: Final = "sci.measured.devices"  # string[] of hw.id
SCI_MEASURED_SOURCE: Final = "sci.measured.source"  # e.g. "nvml.counter+rapl"
SCI_MEASURED_DEVICE_ENERGY: Final = "sci.measured.device_energy"  # double[] J, parallel to sci.measured.devices
SCI_MEASURED_SHARE: Final = "sci.measured.share"  # 0..1, this window's part of the energy measured while it was open
SCI_MEASURED_ISSUES: Final = "sci.measured.issues"  # string[], e.g. "GPU-…:lost", "GPU-…:mig-shared", "host:failed"

# Carbon-aware routing decisions (otel_carbon.routing), on the span current at the decision.
SCI_ROUTING_CHOSEN: Final = "sci.routing.chosen"  # deployment name
SCI_ROUTING_ZONE: Final = "sci.routing.zone"  # the chosen deployment's grid zone
SCI_ROUTING_CANDIDATES: Final = "sci.routing.candidates"  # string[], eligible deployments ranked, chosen first
SCI_ROUTING_EXCLUDED: Final = "sci.routing.excluded"  # string[], "name:constraint"
SCI_ROUTING_CARBON: Final = "sci.routing.carbon"  # g CO2e, estimate for the chosen deployment
SCI_ROUTING_COST_CHOICE: Final = "sci.routing.cost_choice"  # deployment a cost-only router would pick
SCI_ROUTING_COST_CHOICE_CARBON: Final = "sci.routing.cost_choice.carbon"  # g CO2e
SCI_ROUTING_SAVED: Final = "sci.routing.saved"  # g CO2e, cost choice minus chosen (>= 0)
SCI_ROUTING_COST_DELTA: Final = "sci.routing.cost_delta"  # USD, chosen minus cost choice
SCI_ROUTING_INTENSITY_FALLBACK: Final = "sci.routing.intensity_fallback"  # bool, static stood in for live
# Temporal shifting (otel_carbon.routing.shift).
SCI_SHIFT_ZONE: Final = "sci.shift.zone"
SCI_SHIFT_DELAY: Final = "sci.shift.delay"  # s, planned wait before starting
SCI_SHIFT_NOW_INTENSITY: Final = "sci.shift.now_intensity"  # gCO2e/kWh expected when starting now
SCI_SHIFT_EXPECTED_INTENSITY: Final = "sci.shift.expected_intensity"  # gCO2e/kWh expected at the planned start
SCI_SHIFT_FALLBACK: Final = "sci.shift.fallback"  # bool, no usable forecast: started now

# The retraining guard's decision span (otel_carbon.gates.retrain): the inputs and
# the answer.  Its carbon is *expected*, for a job that may not run, so it uses
# its own names and never adds to the sci.carbon sums of calls.
SCI_RES_DECISION: Final = "sci.res.decision"  # retrain | skip | defer
SCI_RES_SCORE: Final = "sci.res.score"  # expected gain (points) per kg CO2e
SCI_RES_THRESHOLD: Final = "sci.res.threshold"  # points per kg CO2e
SCI_RES_EXPECTED_GAIN: Final = "sci.res.expected_gain"  # points of the quality metric
SCI_RES_ENERGY: Final = "sci.res.energy"  # J, the training run's expected energy
SCI_RES_ENERGY_SOURCE: Final = "sci.res.energy.source"  # given | spans
SCI_RES_CARBON: Final = "sci.res.carbon"  # g CO2e, expected, at the chosen start
SCI_RES_INTENSITY: Final = "sci.res.intensity"  # gCO2e/kWh at the chosen start
SCI_RES_ZONE: Final = "sci.res.zone"
SCI_RES_WINDOW_START: Final = "sci.res.window.start"  # RFC 3339 UTC, with a deadline

# --- Metric names ----------------------------------------------------------

METRIC_CARBON: Final = "sci.carbon"  # counter, g
METRIC_ENERGY: Final = "sci.energy"  # counter, J
METRIC_CARBON_PER_REQUEST: Final = "sci.carbon.request"  # histogram, g
METRIC_INTENSITY: Final = "sci.intensity"  # gauge, gCO2e/kWh per zone
METRIC_COST: Final = "gen_ai.usage.cost"  # counter, USD (the name OpenLIT uses)
METRIC_TOKENS: Final = "sci.tokens"  # counter, {token}, by direction
METRIC_UNCOUNTED: Final = "sci.calls.uncounted"  # counter, {span}, by sci.carbon.status
METRIC_HW_ENERGY: Final = "hw.energy"  # counter, J (OTel hardware conventions)
METRIC_HW_POWER: Final = "hw.power"  # gauge, W
# Health of the live intensity cache (otel_carbon.intensity.health).
METRIC_INTENSITY_AGE: Final = "sci.intensity.age"  # gauge, s, per zone + source
METRIC_INTENSITY_REFRESHES: Final = "sci.intensity.refreshes"  # counter, {refresh}, per provider
METRIC_INTENSITY_REFRESH_FAILURES: Final = "sci.intensity.refresh.failures"  # counter, per provider + error.type
SCI_INTENSITY_PROVIDER: Final = "sci.intensity.provider"  # dimension of the health metrics
# Health of the collector gateway (otel_carbon.collector.health).
METRIC_GATEWAY_ACCEPTED: Final = "otel_carbon.gateway.accepted"  # counter, {item}, per signal
METRIC_GATEWAY_REJECTED: Final = "otel_carbon.gateway.rejected"  # counter, {request}, per receiver + reason
METRIC_GATEWAY_DROPPED: Final = "otel_carbon.gateway.dropped"  # counter, {item}: retry queue full
METRIC_GATEWAY_RETRIED: Final = "otel_carbon.gateway.retried"  # counter, {request}: queued sends that failed
METRIC_GATEWAY_AMBIGUOUS: Final = "otel_carbon.gateway.duplicates_suspected"  # counter, {item}: timed-out sends
METRIC_GATEWAY_QUEUE_SIZE: Final = "otel_carbon.gateway.queue.size"  # gauge, {request} waiting on disk
METRIC_GATEWAY_QUEUE_AGE: Final = "otel_carbon.gateway.queue.age"  # gauge, s, of the oldest waiting request
METRIC_GATEWAY_UPSTREAM_DURATION: Final = "otel_carbon.gateway.upstream.duration"  # histogram, s, per outcome
DIM_GATEWAY_SIGNAL: Final = "otel_carbon.signal"  # traces | metrics | logs
DIM_GATEWAY_RECEIVER: Final = "otel_carbon.receiver"  # grpc | http
DIM_GATEWAY_REASON: Final = "otel_carbon.reason"  # why a request was rejected
DIM_GATEWAY_OUTCOME: Final = "otel_carbon.outcome"  # ok | unavailable | ambiguous | rejected

METRIC_ROUTING_SAVED: Final = "sci.routing.saved"  # counter, g, carbon saved against the cost-only choice
METRIC_ROUTING_DECISIONS: Final = "sci.routing.decisions"  # counter, {decision}
METRIC_SHIFT_SAVED: Final = "sci.shift.saved"  # counter, g, carbon saved against starting now (measured energy)
METRIC_LEDGER_ROWS: Final = "sci.ledger.rows"  # counter, {row}, line items the ledger writer inserted
METRIC_LEDGER_DROPPED: Final = "sci.ledger.dropped"  # counter, {call}, counted calls the ledger writer dropped
DIM_LEDGER_RECORDED_BY: Final = "otel_carbon.recorded_by"  # app | gateway: which writer

# Metric dimension names.
DIM_PROVIDER: Final = GEN_AI_PROVIDER_NAME
DIM_MODEL: Final = "gen_ai.request.model"
DIM_ZONE: Final = SCI_INTENSITY_ZONE
DIM_METHOD: Final = SCI_ENERGY_METHOD
DIM_TOKEN_TYPE: Final = "gen_ai.token.type"
# Conventional names of the application dimensions users configure most (OTEL_CARBON_DIMENSIONS, baggage);
# the budgets' selectors and the ledger's group keys know them by their short names team, feature, tier.
DIM_APP_TEAM: Final = "app.team"
DIM_APP_FEATURE: Final = "app.feature"
DIM_APP_USER_TIER: Final = "app.user.tier"
HW_ID: Final = "hw.id"
HW_TYPE: Final = "hw.type"
HW_NAME: Final = "hw.name"


def first_present(attributes: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """Return the value of the first name in ``keys`` present in ``attributes``.

    ``None`` when none is present.  Used with the candidate tuples above so
    that old and new GenAI names are read the same way everywhere.
    """
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None

# --- Prometheus names (the OpenTelemetry → Prometheus translation, docs/querying.md) ------------
# Read by the budget rules and status (otel_carbon.budgets); the dashboard uses the same names.

PROM_CARBON: Final = "sci_carbon_grams_total"  # counter, g CO2e
PROM_ENERGY: Final = "sci_energy_joules_total"  # counter, J
PROM_COST: Final = "gen_ai_usage_cost_USD_total"  # counter, USD
PROM_CARBON_PER_REQUEST: Final = "sci_carbon_request_grams"  # histogram: _bucket, _sum, _count
PROM_REQUESTS: Final = PROM_CARBON_PER_REQUEST + "_count"  # counted calls

# Budget recording rules (otel_carbon.budgets.rules); labels budget, kind, budget_owner.
BUDGET_PERIOD_START: Final = "otel_carbon:budget_period_start:seconds"  # Unix s
BUDGET_PERIOD_END: Final = "otel_carbon:budget_period_end:seconds"  # Unix s
BUDGET_LIMIT: Final = "otel_carbon:budget_limit"  # base unit of kind (g, J, USD)
BUDGET_RATE: Final = "otel_carbon:budget_rate"  # base unit per s, over 5 evaluation intervals
BUDGET_RATE_WEEK: Final = "otel_carbon:budget_rate:7d"  # base unit per s, mean over 7 days
BUDGET_SPEND: Final = "otel_carbon:budget_spend:period_to_date"  # base unit
BUDGET_FORECAST: Final = "otel_carbon:budget_forecast:period_end"  # base unit
BUDGET_PER_REQUEST: Final = "otel_carbon:budget_per_request"  # g or USD per call, over the anomaly window
BUDGET_PER_REQUEST_BASELINE: Final = "otel_carbon:budget_per_request:baseline"
BUDGET_REQUESTS: Final = "otel_carbon:budget_requests"  # calls in the anomaly window
# Budget alerts.
ALERT_BUDGET_ACTUAL: Final = "CarbonBudgetSpend"
ALERT_BUDGET_FORECAST: Final = "CarbonBudgetForecast"
ALERT_BUDGET_ANOMALY: Final = "CarbonBudgetAnomaly"
