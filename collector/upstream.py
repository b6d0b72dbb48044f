"""The upstream link: where the gateway forwards to, over OTLP/gRPC or OTLP/HTTP, plaintext or TLS, with headers.

``endpoint`` is ``host:port`` (plaintext, as before), ``http://host:port``
(plaintext) or ``https://host:port`` (TLS, verified against the system roots
or ``ca_file``).  A client certificate (``cert_file`` + ``key_file``) enables
mutual TLS; for gRPC a CA or client certificate implies TLS.  ``protocol`` is
``grpc`` or ``http/protobuf`` (the ``OTEL_EXPORTER_OTLP_PROTOCOL`` values; for
HTTP the request goes to ``<endpoint>/v1/<signal>``).  ``headers`` go with
every call (gRPC metadata or HTTP headers, e.g. ``authorization``); they are
secrets, never logged or shown in ``repr``.  The TLS of the link is built here
only, from the same fields, for both client libraries: gRPC channel
credentials (:meth:`Upstream.credentials`) and an ``ssl.SSLContext`` for
OTLP/HTTP (:meth:`Upstream.ssl_context`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import grpc

#: Reconnect quickly once an upstream is back (gRPC's default backoff grows to 120 s).
RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 2000)]
PROTOCOLS = ("grpc", "http/protobuf")


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``key=value,key2=value2`` (the ``OTEL_EXPORTER_OTLP_HEADERS`` format, values URL-decoded) as pairs;
    ``ValueError`` naming the position of an entry without ``=`` (never its value)."""
    pairs = []
    for position, entry in enumerate(part for part in text.split(",") if part.strip()):
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"upstream header #{position + 1} is not key=value")
        pairs.append((key.strip().lower(), unquote(value.strip())))
    return tuple(pairs)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


@dataclass(frozen=True)
class Upstream:
    """How to reach the upstream OTLP/gRPC endpoint."""

    endpoint: str
    ca_file: str | None = None  #: PEM roots to verify the upstream's certificate (default: the system's)
    cert_file: str | None = None  #: PEM client certificate for mutual TLS
    key_file: str | None = None  #: PEM private key of ``cert_file``
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    protocol: str = "grpc"  #: ``grpc`` or ``http/protobuf``

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"upstream protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("the upstream client certificate needs both a certificate and a key file")
        if self.endpoint.startswith("http://") and (self.ca_file or self.cert_file):
            raise ValueError("an http:// upstream is plaintext: use https:// with a CA or client certificate")

    @property
    def target(self) -> str:
        """``host:port`` for gRPC."""
        return self.endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.target.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def url(self) -> str:
        """The base URL for OTLP/HTTP: a bare ``host:port`` gets ``https://`` when a CA or client
        certificate is configured (TLS was asked for), else ``http://``."""
        if "://" in self.endpoint:
            return self.endpoint.rstrip("/")
        return f"{'https' if self.ca_file or self.cert_file else 'http'}://{self.endpoint}"

    @property
    def tls(self) -> bool:
        return self.endpoint.startswith("https://") or bool(self.ca_file or self.cert_file)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """gRPC channel credentials for TLS (roots: ``ca_file`` or the system's; client certificate when
        configured), or ``None`` for plaintext."""
        if not self.tls:
            return None
        return grpc.ssl_channel_credentials(_read(self.ca_file), _read(self.key_file), _read(self.cert_file))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The same TLS as :meth:`credentials` for an HTTP client, or ``None`` for plaintext."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def channel(self) -> grpc.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(self.target, options=RECONNECT_OPTIONS)
        return grpc.secure_channel(self.target, credentials, options=RECONNECT_OPTIONS)
