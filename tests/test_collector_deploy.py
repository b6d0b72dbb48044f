"""The shipped deployment assets agree with the gateway they deploy.

No Kubernetes or otelcol-contrib binary runs here, so these checks tie the
YAML to the code: the Deployment's arguments parse with the real CLI, its
``OTEL_CARBON_*`` variables are real settings, its probes are paths the
gateway serves, and the front-tier collector's loadbalancing resolver names
the headless Service and port of the gateways.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from otel_carbon.cli import build_parser
from otel_carbon.collector.command import TOKEN_ENV
from otel_carbon.config import ENV_PREFIX, CarbonSettings

DEPLOY = Path(__file__).resolve().parents[1] / "collector" / "deploy"
SETTINGS = {f.name for f in dataclasses.fields(CarbonSettings)}


def _k8s() -> dict[tuple[str, str], dict]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "otel-carbon-gateway.yaml").read_text())
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def test_deployment_args_and_env_are_what_the_gateway_accepts():
    container = _k8s()[("Deployment", "otel-carbon-gateway")]["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(["collector", *container["args"]])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.listen.endswith(f":{ports['otlp-grpc']}")
    assert (args.http_port, args.metrics_port) == (ports["otlp-http"], ports["metrics"])
    for variable in container["env"]:
        name = variable["name"]
        assert name == TOKEN_ENV or name[len(ENV_PREFIX):].lower() in SETTINGS, name
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "otlp-http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "otlp-http"}


def test_loadbalancing_resolver_points_at_the_headless_service():
    service = _k8s()[("Service", "otel-carbon-gateway-headless")]
    assert service["spec"]["clusterIP"] == "None"
    config = yaml.safe_load((DEPLOY / "otelcol-loadbalancing.yaml").read_text())
    dns = config["exporters"]["loadbalancing"]["resolver"]["dns"]
    meta = service["metadata"]
    assert dns["hostname"] == f"{meta['name']}.{meta['namespace']}.svc.cluster.local"
    assert int(dns["port"]) in {p["port"] for p in service["spec"]["ports"]}
    otlp = config["exporters"]["loadbalancing"]["protocol"]["otlp"]
    assert otlp["headers"]["authorization"] == f"Bearer ${{env:{TOKEN_ENV}}}"
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["loadbalancing"]
    for pipeline in pipelines.values():  # every component a pipeline names is defined
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind])
    assert set(config["service"]["extensions"]) <= set(config["extensions"])
