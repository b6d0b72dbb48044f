"""Where a model call ran: on this site (local inference, measured) or at a provider (estimated).

One rule for the instrumentations, the span processor and the gateway:

* no ``server.address`` (in-process engines): local when the provider is a local
  engine (:data:`~otel_carbon.semconv.LOCAL_PROVIDERS`);
* a public host: remote, at that provider;
* a loopback or private host (``localhost``, 127/8, ::1, RFC 1918, fc00::/7,
  link-local): local inference — unless the model is one the catalogue knows
  only as a hosted, closed-weights model (``gpt-4o`` through a LiteLLM proxy, a
  gateway sidecar or a mock): then it is a *proxy* to that model's provider,
  estimated at that provider's zone and price;
* an endpoint named in ``OTEL_CARBON_LOCAL_ENDPOINTS`` (``host`` or
  ``host:port``) is always local inference: a self-hosted model whose name
  collides with a hosted one, or an inference server on this site reached by name.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.estimate.catalogue import Catalogue


@dataclass(frozen=True)
class Placement:
    """Whether a call ran here, and the provider whose zone, PUE and prices apply."""

    local: bool
    provider: str | None
    proxied: bool = False


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str | None:
    """``host`` as an IP address, the marker ``"localhost"`` for localhost names, else ``None``."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "localhost"
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` names and loopback addresses: a server on this very machine."""
    address = _address(host)
    return address == "localhost" or (not isinstance(address, (str, type(None))) and address.is_loopback)


@lru_cache(maxsize=1024)
def is_private_host(host: str) -> bool:
    """True for loopback hosts and private (RFC 1918, ULA) and link-local addresses."""
    address = _address(host)
    if address is None:
        return False
    return address == "localhost" or not isinstance(address, str) and (
        address.is_loopback or address.is_private or address.is_link_local
    )


def named_local(address: str, port: Any, endpoints: tuple[str, ...]) -> bool:
    """True when ``address`` (and ``port``) is one of the ``host`` / ``host:port`` entries of ``endpoints``."""
    host = address.strip("[]").lower()
    for entry in endpoints:
        name, sep, entry_port = entry.rpartition(":") if entry.count(":") == 1 else ("", "", "")
        if not sep:
            name, entry_port = entry, ""
        if name.strip("[]").lower() == host and (not entry_port or entry_port == str(port)):
            return True
    return False


def place_call(
    provider: str | None,
    model: str | None,
    address: Any,
    port: Any,
    *,
    catalogue: Catalogue,
    local_endpoints: tuple[str, ...] = (),
) -> Placement:
    """Where the call described by these GenAI attributes ran (see the module docstring)."""
    if not isinstance(address, str) or not address:
        return Placement(provider in sc.LOCAL_PROVIDERS, provider)
    if local_endpoints and named_local(address, port, local_endpoints):
        return Placement(True, provider)
    if not is_private_host(address):
        return Placement(False, provider)
    match = catalogue.find(provider, model)
    if match.match == "exact" and not match.spec.open_weights and match.spec.provider:
        return Placement(False, match.spec.provider, proxied=True)
    return Placement(True, provider)
