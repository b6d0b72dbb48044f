"""Settings from the environment and arguments; bad values fail at start-up, naming the variable."""

import pytest

from otel_carbon.config import CarbonSettings, ConfigError
from otel_carbon.sci import Boundary, FunctionalUnit


def test_defaults_without_environment():
    settings = CarbonSettings.from_env({})
    assert settings.boundary is Boundary.COMPREHENSIVE
    assert settings.functional_unit is FunctionalUnit.REQUEST
    assert settings.zone is None
    assert settings.host_ratio == pytest.approx(0.25 / 0.58)


def test_values_from_environment():
    settings = CarbonSettings.from_env(
        {
            "OTEL_CARBON_ZONE": "FR",
            "OTEL_CARBON_BOUNDARY": "Accelerator",
            "OTEL_CARBON_FUNCTIONAL_UNIT": "1k_tokens",
            "OTEL_CARBON_PROVIDER_ZONES": "openai=US-CAL-CISO, anthropic=US",
            "OTEL_CARBON_DIMENSIONS": "app.team,app.feature",
            "OTEL_CARBON_LOCAL_PUE": "1.3",
            "OTEL_CARBON_RECORD_COST": "false",
        }
    )
    assert settings.zone == "FR"
    assert settings.boundary is Boundary.ACCELERATOR
    assert settings.functional_unit is FunctionalUnit.KILO_TOKENS
    assert settings.provider_zones == {"openai": "US-CAL-CISO", "anthropic": "US"}
    assert settings.dimensions == ("app.team", "app.feature")
    assert settings.local_pue == 1.3
    assert settings.record_cost is False


def test_arguments_override_environment_and_accept_strings():
    settings = CarbonSettings.from_env({"OTEL_CARBON_BOUNDARY": "accelerator"}, boundary="comprehensive", zone="SE")
    assert settings.boundary is Boundary.COMPREHENSIVE
    assert settings.zone == "SE"


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("OTEL_CARBON_BOUNDARY", "everything", "expected one of accelerator, comprehensive"),
        ("OTEL_CARBON_FUNCTIONAL_UNIT", "user", "expected one of request, 1k_tokens"),
        ("OTEL_CARBON_LOCAL_PUE", "0.8", "expected a number in [1.0, 5.0]"),
        ("OTEL_CARBON_LOCAL_PUE", "fast", "expected a number"),
        ("OTEL_CARBON_RECORD_COST", "maybe", "expected one of true, false"),
        ("OTEL_CARBON_PROVIDER_ZONES", "openai", "expected provider=ZONE pairs"),
        ("OTEL_CARBON_ZONE", "FR; rm -rf", "expected a zone key"),
        ("OTEL_CARBON_ZONE", "XX-NOPE", "unknown grid zone 'XX-NOPE'"),
        ("OTEL_CARBON_REMOTE_ZONE", "ATLANTIS", "unknown grid zone 'ATLANTIS'"),
        ("OTEL_CARBON_PROVIDER_ZONES", "openai=FR,anthropic=QQ", "provider_zones[anthropic]: unknown grid zone 'QQ'"),
    ],
)
def test_bad_values_name_the_variable_and_the_accepted_values(variable, value, expected):
    with pytest.raises(ConfigError) as info:
        CarbonSettings.from_env({variable: value})
    assert variable in str(info.value)
    assert expected in str(info.value)


def test_unknown_argument_is_rejected():
    with pytest.raises(ConfigError, match="unknown setting"):
        CarbonSettings.from_env({}, boundry="accelerator")


def test_blank_variables_mean_unset():
    assert CarbonSettings.from_env({"OTEL_CARBON_ZONE": "  "}).zone is None


def test_zones_given_as_arguments_are_checked_too():
    with pytest.raises(ConfigError, match="zone: unknown grid zone 'XX-NOPE'"):
        CarbonSettings.from_env({}, zone="XX-NOPE")
    assert CarbonSettings.from_env({}, zone="US-CAL-CISO").zone == "US-CAL-CISO"  # a sub-zone of a known one
