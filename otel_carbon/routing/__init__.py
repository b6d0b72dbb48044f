"""Carbon-aware routing (which deployment) and time shifting (when): decisions on the core numbers.

The router core imports only the core (estimator, catalogue, intensity); the
LiteLLM strategy (:mod:`otel_carbon.routing.litellm_strategy`) needs the
``routing`` extra.  See ``docs/routing.md`` and ``docs/shifting.md``.
"""

from __future__ import annotations

from otel_carbon.routing.deployment import Deployment, DeploymentError, deployments_from_list, load_deployments
from otel_carbon.routing.router import CarbonRouter, Constraints, Decision, NoDeploymentError
from otel_carbon.routing.shift import Plan, deferrable, plan_start, wait_for_cleanest

__all__ = [
    "CarbonRouter",
    "Constraints",
    "Decision",
    "Deployment",
    "DeploymentError",
    "NoDeploymentError",
    "Plan",
    "deferrable",
    "deployments_from_list",
    "load_deployments",
    "plan_start",
    "wait_for_cleanest",
]
