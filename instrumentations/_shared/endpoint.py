"""Which provider an OpenAI-compatible ``base_url`` points at, and whether it is local."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from otel_carbon import semconv as sc
from otel_carbon.locality import is_loopback_host

# Host suffix → ``gen_ai.provider.name`` (OTel GenAI values where one exists).
_HOST_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai.azure.com", sc.PROVIDER_AZURE_AI_OPENAI),
    ("services.ai.azure.com", sc.PROVIDER_AZURE_AI_INFERENCE),
    ("api.openai.com", sc.PROVIDER_OPENAI),
    ("api.groq.com", sc.PROVIDER_GROQ),
    ("api.together.xyz", sc.PROVIDER_TOGETHER),
    ("api.together.ai", sc.PROVIDER_TOGETHER),
    ("api.deepseek.com", sc.PROVIDER_DEEPSEEK),
    ("api.mistral.ai", sc.PROVIDER_MISTRAL_AI),
    ("api.x.ai", sc.PROVIDER_X_AI),
    ("generativelanguage.googleapis.com", sc.PROVIDER_GCP_GEMINI),
    ("api.perplexity.ai", sc.PROVIDER_PERPLEXITY),
    ("openrouter.ai", sc.PROVIDER_OPENROUTER),
    ("api.anthropic.com", sc.PROVIDER_ANTHROPIC),
)
# Well-known ports of local inference servers.
_LOCAL_PORTS = {
    11434: sc.PROVIDER_OLLAMA,
    8000: sc.PROVIDER_VLLM,
    1234: sc.PROVIDER_LMSTUDIO,
    8080: sc.PROVIDER_LLAMA_CPP,
}


@dataclass(frozen=True)
class Endpoint:
    """``server.address`` / ``server.port`` of a client, its provider, and whether it runs here."""

    address: str | None
    port: int | None
    provider: str
    local: bool


def provider_from_base_url(base_url: object, default: str) -> Endpoint:
    """Provider and locality of ``base_url`` (``default`` when the host is not recognised).

    A loopback host may be local inference (its energy is measured around the call; whether
    it counts as local is :func:`otel_carbon.locality.place_call`'s rule): the provider is
    named by the server's well-known port (11434 Ollama, 8000 vLLM, …) or ``default``.  Memoised:
    a client keeps its base URL, so this is parsed once per client.
    """
    return _endpoint(str(base_url), default)


@lru_cache(maxsize=256)
def _endpoint(base_url: str, default: str) -> Endpoint:
    try:
        parts = urlsplit(base_url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    except ValueError:
        return Endpoint(None, None, default, False)
    if not host:
        return Endpoint(None, None, default, False)
    if is_loopback_host(host):
        return Endpoint(host, port, _LOCAL_PORTS.get(port or 0, default), True)
    for suffix, provider in _HOST_PROVIDERS:
        if host == suffix or host.endswith("." + suffix):
            return Endpoint(host, port, provider, False)
    return Endpoint(host, port, default, False)
