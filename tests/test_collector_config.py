"""The gateway's YAML configuration: precedence (file < environment < flags) and errors that name the key."""

from __future__ import annotations

import pytest

from otel_carbon.cli import main
from otel_carbon.collector.config import CollectorConfigError, resolve


def test_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text("upstream: otelcol:4317\nhttp_port: 14318\nmax_inflight: 8\nqueue_max_mb: 16\n"
                      "carbon:\n  zone: FR\n  dimensions: [app.feature]\n")
    options, carbon = resolve({"max_inflight": None, "listen": "127.0.0.1:5317"}, str(config),
                              {"OTEL_CARBON_COLLECTOR_HTTP_PORT": "24318", "OTEL_CARBON_COLLECTOR_MAX_INFLIGHT": "4"})
    assert options["upstream"] == "otelcol:4317"  # file
    assert options["http_port"] == 24318 and options["max_inflight"] == 4  # environment over file
    assert options["listen"] == "127.0.0.1:5317"  # flag
    assert options["queue_max_mb"] == 16.0 and options["metrics_port"] == 9464  # file (int → float), default
    assert carbon == {"zone": "FR", "dimensions": ["app.feature"]}


@pytest.mark.parametrize(("text", "message"), [
    ("http_port: abc\n", "config key 'http_port': expected an integer"),
    ("queue_size: 3\n", "config key 'queue_size' is not known"),
    ("carbon: [1]\n", "config key 'carbon': expected a mapping"),
    ("- a\n", "must be a mapping"),
    ("upstream: [\n", "not valid YAML"),
])
def test_bad_files_name_the_key(tmp_path, text, message):
    config = tmp_path / "gateway.yaml"
    config.write_text(text)
    with pytest.raises(CollectorConfigError, match=message.replace("[", r"\[")):
        resolve({}, str(config), {})


def test_cli_reports_config_errors_before_starting(tmp_path, capsys):
    config = tmp_path / "gateway.yaml"
    config.write_text("upstream: 127.0.0.1:1\ncarbon:\n  zonex: FR\n")
    assert main(["collector", "--config", str(config)]) == 2
    assert "config key 'carbon': unknown setting(s): zonex" in capsys.readouterr().err
    assert main(["collector", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
