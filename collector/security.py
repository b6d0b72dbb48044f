"""Receiver security: bearer-token authentication and TLS / mutual TLS, for gRPC and HTTP alike.

The token is compared in constant time and never logged or echoed: a
rejection says only that the token is missing or wrong.  TLS takes PEM files;
with ``client_ca_file`` set, clients must present a certificate signed by that
CA (mTLS).
"""

from __future__ import annotations

import hmac
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

UNAUTHENTICATED_MESSAGE = "missing or wrong bearer token"


@dataclass(frozen=True)
class ReceiverSecurity:
    """How the receivers authenticate clients; all ``None`` = plaintext, no auth."""

    bearer_token: str | None = field(default=None, repr=False)
    cert_file: str | None = None  #: PEM server certificate (chain)
    key_file: str | None = None  #: PEM private key of ``cert_file``
    client_ca_file: str | None = None  #: PEM CA bundle; set = require client certificates (mTLS)

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TLS needs both a certificate and a key file")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("mutual TLS (client CA) needs a server certificate and key")
        if self.bearer_token is not None and not self.bearer_token.strip():
            raise ValueError("the bearer token is empty")

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    def authorized(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value passes (always, when no token is configured)."""
        if self.bearer_token is None:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.bearer_token.encode())

    def grpc_credentials(self) -> grpc.ServerCredentials | None:
        """Server credentials for ``add_secure_port``, or ``None`` for plaintext."""
        if not self.tls:
            return None
        pair = (Path(self.key_file).read_bytes(), Path(self.cert_file).read_bytes())  # type: ignore[arg-type]
        ca = Path(self.client_ca_file).read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A server-side TLS context for the HTTP receiver, or ``None`` for plaintext."""
        if not self.tls:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)  # type: ignore[arg-type]
        if self.client_ca_file:
            context.load_verify_locations(self.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Answer ``UNAUTHENTICATED`` to calls without the configured bearer token; ``on_reject()`` counts them."""

    def __init__(self, security: ReceiverSecurity, on_reject: Callable[[], None]) -> None:
        self._security = security
        self._on_reject = on_reject
        self._deny = grpc.unary_unary_rpc_method_handler(self._abort)

    @staticmethod
    def _abort(request: Any, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    def intercept_service(self, continuation: Any, handler_call_details: grpc.HandlerCallDetails) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        if self._security.authorized(metadata.get("authorization")):
            return continuation(handler_call_details)
        self._on_reject()
        return self._deny
