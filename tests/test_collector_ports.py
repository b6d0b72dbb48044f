"""``otel-carbon collector`` start-up with a port already taken: exit 2, one line naming the port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from otel_carbon.cli import main


@pytest.fixture(autouse=True)
def _no_cache_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_CACHE_FILE", "off")
    monkeypatch.setenv("OTEL_CARBON_INTENSITY_PROVIDERS", "none")


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another process-like listener holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("role, flags", [
    ("OTLP/gRPC", lambda port: ["--listen", f"127.0.0.1:{port}", "--http-port", "0", "--metrics-port", "0"]),
    ("OTLP/HTTP", lambda port: ["--listen", f"127.0.0.1:{_free_port()}", "--http-port", str(port),
                                "--metrics-port", "0"]),
    ("the metrics endpoint", lambda port: ["--listen", f"127.0.0.1:{_free_port()}", "--http-port", "0",
                                           "--metrics-port", str(port)]),
])
def test_port_in_use_is_one_line_naming_it(taken: int, role: str, flags, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collector", "--upstream", "127.0.0.1:9", *flags(taken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"cannot listen on 127.0.0.1:{taken} ({role})" in err[0]
