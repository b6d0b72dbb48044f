"""Energy estimation for remote models: the catalogue and the per-token fit."""

from otel_carbon.estimate.catalogue import Catalogue, ModelMatch, ModelSpec, Prices
from otel_carbon.estimate.inference import InferenceEstimate, TokenUsage, estimate_inference

__all__ = [
    "Catalogue",
    "InferenceEstimate",
    "ModelMatch",
    "ModelSpec",
    "Prices",
    "TokenUsage",
    "estimate_inference",
]
