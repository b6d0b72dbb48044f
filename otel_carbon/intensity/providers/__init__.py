"""Live grid-intensity providers, each a small client on the shared HTTP client."""

from otel_carbon.intensity.providers.base import Fetched, Location, Provider, Secret
from otel_carbon.intensity.providers.carbonaware import CarbonAwareSdk
from otel_carbon.intensity.providers.electricitymaps import ElectricityMaps
from otel_carbon.intensity.providers.neso import Neso
from otel_carbon.intensity.providers.watttime import WattTime

#: Names accepted by ``OTEL_CARBON_INTENSITY_PROVIDERS``, in the default priority order.
PROVIDER_NAMES = (ElectricityMaps.name, WattTime.name, CarbonAwareSdk.name, Neso.name)

__all__ = [
    "PROVIDER_NAMES",
    "CarbonAwareSdk",
    "ElectricityMaps",
    "Fetched",
    "Location",
    "Neso",
    "Provider",
    "Secret",
    "WattTime",
]
