"""Intensity cache lookup cost vs a plain dict lookup, and lookup latency under background refreshes.

Part 1 — cost: ``cache.lookup(zone)`` against ``dict.get(zone)`` on the same
zones, in the same loop, interleaved over rounds (best round of each kept).
Measured for the published path (a refresh thread keeps time: live answers
sit in the hot table) and for the checked path (no refresh thread: zones with
live data are checked against the clock on every lookup).

Part 2 — latency: lookups timed in batches of ``--batch`` (per-lookup time =
batch time / batch, so the timer's own cost does not dominate), p50/p99 with
the background quiet, then with refresh threads hammering loopback servers
(TTL 1 s; a fifth of the zones answer 500, garbage or time out; a second
Electricity Maps client gets 429 + Retry-After for everything; a NESO client
gets connection refused).  A dict.get run under the same busy
background shows what the interpreter itself (GIL hand-offs) costs.

    python bench/intensity.py [--lookups 2000000] [--rounds 5] [--batches 20000] [--json]
"""

from __future__ import annotations

import argparse
import email.utils
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_carbon import semconv as sc
from otel_carbon.intensity.cache import IntensityCache
from otel_carbon.intensity.health import IntensityHealth
from otel_carbon.intensity.http import HttpClient
from otel_carbon.intensity.providers import ElectricityMaps, Neso, Secret
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.intensity.refresh import Refresher
from otel_carbon.intensity.static import StaticIntensity

GOOD = [f"Z{i:02d}" for i in range(24)]
FAILING = {"Z24": "500", "Z25": "500", "Z26": "timeout", "Z27": "garbage", "Z28": "500", "Z29": "timeout"}
ZONES = GOOD + list(FAILING) + ["GB"]
STATIC = StaticIntensity({"WORLD": 480.0, **{zone: 100.0 + i for i, zone in enumerate(ZONES)}})


# --- a loopback Electricity-Maps-shaped server ---------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    rate_limited = False  # the second server answers 429 + Retry-After to everything

    def do_GET(self) -> None:  # noqa: N802
        zone = parse_qs(urlsplit(self.path).query).get("zone", [""])[0]
        mode = "429" if self.rate_limited else FAILING.get(zone, "ok")
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        headers: dict[str, str] = {}
        if mode == "timeout":
            time.sleep(0.3)
        if mode == "500":
            status, body = 500, b'{"message":"down"}'
        elif mode == "429":
            status, body, headers = 429, b'{"message":"slow down"}', {"Retry-After": "1"}
        elif mode == "garbage":
            status, body = 200, b"<html>bad gateway</html>"
        elif urlsplit(self.path).path.endswith("/forecast"):
            points = [
                {"carbonIntensity": 200 + i, "datetime": (hour + timedelta(hours=i)).isoformat()} for i in range(24)
            ]
            status, body = 200, json.dumps({"zone": zone, "forecast": points}).encode()
        else:
            status = 200
            body = json.dumps(
                {
                    "zone": zone,
                    "carbonIntensity": 250.0,
                    "datetime": hour.isoformat(),
                    "emissionFactorType": "lifecycle",
                }
            ).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RateLimitedHandler(_Handler):
    rate_limited = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# --- measurements ----------------------------------------------------------------------------


def _loop_ns(fn: Callable[[str], Any], zones: Sequence[str], lookups: int) -> float:
    repeats = max(1, lookups // len(zones))
    start = time.perf_counter_ns()
    for _ in range(repeats):
        for zone in zones:
            fn(zone)
    return (time.perf_counter_ns() - start) / (repeats * len(zones))


def _batches_ns(fn: Callable[[str], Any], zones: Sequence[str], batches: int, batch: int) -> list[float]:
    work = (list(zones) * (batch // len(zones) + 1))[:batch]
    samples = []
    clock = time.perf_counter_ns
    for _ in range(batches):
        start = clock()
        for zone in work:
            fn(zone)
        samples.append((clock() - start) / batch)
    return samples


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _outcomes(reader: InMemoryMetricReader) -> dict[str, int]:
    """Refreshes and failures (by provider and reason) counted during the busy phase."""
    counts: dict[str, int] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name in (sc.METRIC_INTENSITY_REFRESHES, sc.METRIC_INTENSITY_REFRESH_FAILURES):
                    for point in metric.data.data_points:
                        attrs = point.attributes or {}
                        key = f"{attrs.get(sc.SCI_INTENSITY_PROVIDER)}:{attrs.get(sc.ERROR_TYPE, 'ok')}"
                        counts[key] = counts.get(key, 0) + int(point.value)
    return counts


def _live_cache() -> IntensityCache:
    cache = IntensityCache(STATIC, serves=lambda zone: True, priority=["electricitymaps", "neso"])
    for zone in ZONES:
        cache.update(IntensityReading(zone, 250.0, "electricitymaps.lifecycle"), fresh_for_s=86400)
    return cache


def run(lookups: int, rounds: int, batches: int, batch: int) -> dict[str, Any]:
    plain = {zone: IntensityReading(zone, 250.0, "electricitymaps.lifecycle") for zone in ZONES}
    published = _live_cache()
    published.attend()  # what a running refresh thread does
    checked = _live_cache()  # no time keeper: every live zone is checked against the clock
    for zone in ZONES:
        assert published.lookup(zone) == plain[zone] and checked.lookup(zone) == plain[zone]

    cost: dict[str, list[float]] = {"dict_get": [], "lookup_published": [], "lookup_checked": []}
    for _ in range(rounds):
        cost["dict_get"].append(_loop_ns(plain.get, ZONES, lookups))
        cost["lookup_published"].append(_loop_ns(published.lookup, ZONES, lookups))
        cost["lookup_checked"].append(_loop_ns(checked.lookup, ZONES, lookups // 10))
    best = {name: min(values) for name, values in cost.items()}

    quiet_cache = published
    quiet = _batches_ns(quiet_cache.lookup, ZONES, batches, batch)
    quiet_dict = _batches_ns(plain.get, ZONES, batches, batch)

    servers = [_Server(("127.0.0.1", 0), handler) for handler in (_Handler, _RateLimitedHandler)]
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    http = HttpClient(0.1)
    busy_cache = IntensityCache(STATIC, serves=lambda zone: True, priority=["electricitymaps", "neso"])
    fast = {"ttl_s": 1.0, "backoff_base_s": 0.05, "backoff_max_s": 0.2, "budget_per_hour": 1e7}
    providers = [
        ElectricityMaps(http, Secret("bench-key"), base_url=f"http://127.0.0.1:{server.server_address[1]}")
        for server in servers
    ] + [Neso(http, base_url=_refused_url())]
    reader = InMemoryMetricReader()
    health = IntensityHealth(busy_cache, MeterProvider(metric_readers=[reader]))
    refreshers = [Refresher(provider, busy_cache, health=health, **fast) for provider in providers]  # type: ignore[arg-type]
    for zone in ZONES:
        busy_cache.watch(zone)
    for refresher in refreshers:
        refresher.start()
    time.sleep(1.5)  # let the refreshers reach a steady churn
    busy = _batches_ns(busy_cache.lookup, ZONES, batches, batch)
    busy_dict = _batches_ns(plain.get, ZONES, batches, batch)
    served = {zone: busy_cache.lookup(zone) for zone in ZONES}  # while the threads still keep time
    for refresher in refreshers:
        refresher.stop()
    outcomes = _outcomes(reader)
    http.close()
    for server in servers:
        server.shutdown()
        server.server_close()

    return {
        "ns_per_lookup": {name: round(value, 1) for name, value in best.items()},
        "ratio_published_vs_dict": round(best["lookup_published"] / best["dict_get"], 2),
        "ratio_checked_vs_dict": round(best["lookup_checked"] / best["dict_get"], 2),
        "latency_ns": {
            "quiet": {"p50": round(statistics.median(quiet), 1), "p99": round(_pct(quiet, 0.99), 1)},
            "busy": {"p50": round(statistics.median(busy), 1), "p99": round(_pct(busy, 0.99), 1)},
            "dict_quiet": {"p50": round(statistics.median(quiet_dict), 1), "p99": round(_pct(quiet_dict, 0.99), 1)},
            "dict_busy": {"p50": round(statistics.median(busy_dict), 1), "p99": round(_pct(busy_dict, 0.99), 1)},
        },
        "p99_busy_vs_quiet": round(_pct(busy, 0.99) / _pct(quiet, 0.99), 2),
        "busy_refresh_outcomes": outcomes,
        "busy_zones_live": sum(1 for r in served.values() if not r.fallback),
        "busy_zones_fallback": sum(1 for r in served.values() if r.fallback),
        "batch": batch,
        "batches": batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.lookups, args.rounds, args.batches, args.batch)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    ns = result["ns_per_lookup"]
    print(f"dict.get                    {ns['dict_get']:7.1f} ns")
    print(f"lookup (refresh thread on)  {ns['lookup_published']:7.1f} ns   {result['ratio_published_vs_dict']}x dict")
    print(f"lookup (no refresh thread)  {ns['lookup_checked']:7.1f} ns   {result['ratio_checked_vs_dict']}x dict")
    for name, values in result["latency_ns"].items():
        print(f"{name:11s} p50 {values['p50']:7.1f} ns  p99 {values['p99']:7.1f} ns")
    live, fallback = result["busy_zones_live"], result["busy_zones_fallback"]
    print(f"p99 busy/quiet {result['p99_busy_vs_quiet']}x; busy zones live {live}, fallback {fallback}")


if __name__ == "__main__":
    main()
