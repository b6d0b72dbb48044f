"""The one HTTP client every intensity provider shares: timeouts, a size cap, errors without secrets.

Built on ``httpx`` (sync): one connection pool and one set of timeouts for all
providers, explicit ``Timeout`` per phase, streaming reads so that a runaway
body is cut at ``max_bytes``, and no redirects (a redirect would carry the
``auth-token`` / bearer header to another host).  Every failure becomes a
:class:`ProviderError` whose message holds the method, host, path and status —
never headers, query strings or bodies, so keys cannot leak into logs.
"""

from __future__ import annotations

import email.utils
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from otel_carbon import __version__
from otel_carbon.intensity.errors import FailureKind, ProviderError

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MAX_BYTES = 4 << 20  # a 72 h, 5-minute forecast is ~100 kB of JSON


@dataclass(frozen=True)
class JsonResponse:
    """A decoded JSON body and the server's clock (from the ``Date`` header), if it sent one."""

    data: Any
    server_time: datetime | None


class HttpClient:
    """Shared, thread-safe GET-JSON client (``httpx.Client`` is safe across threads).

    The ``httpx.Client`` (and with it the ``ssl`` module) is created on the first
    request, so a process with no live provider never builds one — a collector
    processor embedded in another interpreter (rotel) may not even be able to
    load this host's ``_ssl``.  ``transport`` is for tests that need an ``httpx``
    mock transport; providers are normally tested against real loopback servers.
    """

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 3.0)),
                    follow_redirects=False,
                    headers={"Accept": "application/json", "User-Agent": f"otel-carbon/{__version__}"},
                    limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
                    transport=self._transport,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> JsonResponse:
        """GET ``url`` and decode its JSON body; raises :class:`ProviderError` for every failure."""
        where = _where(url)
        try:
            with self._http().stream("GET", url, params=params, headers=headers, auth=auth) as response:
                body = self._read_capped(response, where)
        except httpx.TimeoutException:
            raise ProviderError(FailureKind.TIMEOUT, f"GET {where}: timed out") from None
        except httpx.TransportError as exc:
            raise ProviderError(FailureKind.CONNECTION, f"GET {where}: {type(exc).__name__}") from None
        server_time = _http_date(response.headers.get("date"))
        status = response.status_code
        if status >= 300:
            raise _status_error(status, where, response.headers.get("retry-after"), server_time)
        try:
            data = json.loads(body)
        except ValueError:
            raise ProviderError(FailureKind.PAYLOAD, f"GET {where}: body is not valid JSON") from None
        return JsonResponse(data, server_time)

    def _read_capped(self, response: httpx.Response, where: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise ProviderError(FailureKind.PAYLOAD, f"GET {where}: body larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _where(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}{parsed.path}"


def _status_error(status: int, where: str, retry_after: str | None, server_time: datetime | None) -> ProviderError:
    message = f"GET {where}: HTTP {status}"
    wait = parse_retry_after(retry_after, server_time)
    if status in (401, 403):
        return ProviderError(FailureKind.AUTH, message, status=status)
    if status == 429:
        return ProviderError(FailureKind.RATE_LIMITED, message, status=status, retry_after_s=wait)
    if status >= 500:
        return ProviderError(FailureKind.SERVER, message, status=status, retry_after_s=wait)
    return ProviderError(FailureKind.CLIENT, message, status=status)


def parse_retry_after(value: str | None, server_time: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    An HTTP-date is measured against the server's own ``Date`` when given, so a
    skewed local clock does not stretch or cut the wait.  Garbage → ``None``.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    reference = server_time or datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
