"""SCI arithmetic against hand-worked examples."""

import math

import pytest

from otel_carbon import sci
from otel_carbon.sci import Boundary, FunctionalUnit, LayerFactors, Range


def test_operational_is_energy_in_kwh_times_intensity():
    # 3.6 MJ = 1 kWh; at 400 gCO2e/kWh that is 400 g.
    assert sci.operational_g(3.6e6, 400.0) == pytest.approx(400.0)
    # 1 Wh = 3600 J at 50 g/kWh = 0.05 g.
    assert sci.operational_g(3600.0, 50.0) == pytest.approx(0.05)


def test_embodied_matches_the_specification_example():
    # The SCI specification's example: a 1 000 kg device, 4-year life, reserved 1 h
    # gives 1e6 g * 1 / (4 * 8766 h) ~= 28.5 g.
    hour = 3600.0
    four_years = 4 * sci.SECONDS_PER_YEAR
    assert sci.embodied_g(1_000_000.0, hour, four_years) == pytest.approx(1e6 / (4 * 8766), rel=1e-9)
    assert 28 < sci.embodied_g(1_000_000.0, hour, four_years) < 29


def test_embodied_scales_with_resource_share():
    full = sci.embodied_g(1000.0, 10.0, 100.0)
    assert sci.embodied_g(1000.0, 10.0, 100.0, resources_reserved=2, total_resources=8) == pytest.approx(full / 4)


@pytest.mark.parametrize("bad", [dict(expected_lifespan_s=0), dict(total_resources=0)])
def test_embodied_rejects_degenerate_denominators(bad):
    args = dict(total_embodied_g=1.0, time_reserved_s=1.0, expected_lifespan_s=1.0, total_resources=1.0)
    args.update(bad)
    with pytest.raises(ValueError):
        sci.embodied_g(**args)


def test_accelerator_boundary_has_only_the_accelerator_layer():
    layers = sci.layer_energy(Range(1, 2, 3), LayerFactors(0.5, 0.1, 1.2), Boundary.ACCELERATOR)
    assert layers.total == Range(1, 2, 3)
    assert layers.host == layers.idle == layers.overhead == sci.ZERO


def test_comprehensive_layers_hand_worked():
    # accelerator 100 J; host 0.5 * 100 = 50; idle 0.1 * 150 = 15; overhead (1.2 - 1) * 165 = 33.
    layers = sci.layer_energy(Range.exact(100.0), LayerFactors(0.5, 0.1, 1.2), Boundary.COMPREHENSIVE)
    assert layers.host.mid == pytest.approx(50.0)
    assert layers.idle.mid == pytest.approx(15.0)
    assert layers.overhead.mid == pytest.approx(33.0)
    assert layers.total.mid == pytest.approx(198.0)


def test_measured_host_replaces_the_ratio():
    layers = sci.layer_energy(Range.exact(100.0), LayerFactors(0.5, 0.0, 1.0), Boundary.COMPREHENSIVE, Range.exact(7.0))
    assert layers.host.mid == 7.0
    assert layers.total.mid == pytest.approx(107.0)


def test_google_split_reproduces_its_shares():
    # Google 2025: accelerators 58 %, host 25 %, idle 10 %, overhead 8 % of a median prompt.
    # PUE such that overhead is 8 % of a 1.01 total: (PUE - 1) * 0.93 = 0.08.
    factors = LayerFactors(0.25 / 0.58, 0.10 / 0.83, 1 + 0.08 / 0.93)
    layers = sci.layer_energy(Range.exact(0.58), factors, Boundary.COMPREHENSIVE)
    total = layers.total.mid
    assert layers.accelerator.mid / total == pytest.approx(0.58 / 1.01, rel=0.02)
    assert layers.host.mid / total == pytest.approx(0.25 / 1.01, rel=0.02)
    assert layers.idle.mid / total == pytest.approx(0.10 / 1.01, rel=0.02)


def test_carbon_adds_embodied_to_each_operational_bound():
    layers = sci.layer_energy(Range(3600.0, 7200.0, 10800.0), LayerFactors(0, 0, 1), Boundary.ACCELERATOR)
    result = sci.carbon(layers, 500.0, embodied=0.25)
    assert result.operational == Range(0.5, 1.0, 1.5)
    assert result.total == Range(0.75, 1.25, 1.75)


def test_score_per_request_and_per_kilotoken():
    assert sci.score(0.3, FunctionalUnit.REQUEST, 0) == 0.3
    assert sci.score(0.3, FunctionalUnit.KILO_TOKENS, 1500) == pytest.approx(0.2)
    assert sci.score(0.3, FunctionalUnit.KILO_TOKENS, 0) is None


def test_layer_factors_validate():
    with pytest.raises(ValueError):
        LayerFactors(0.1, 0.1, 0.9)
    with pytest.raises(ValueError):
        LayerFactors(-1, 0.1, 1.1)
    assert math.isclose(LayerFactors(0, 0, 1.0).pue, 1.0)
