"""The retraining guard (RES) on a real drifting time series: always-retrain against RES-gated retraining.

Data: the weekly atmospheric CO2 record of Mauna Loa, 1958–2001 (Keeling & Whorf,
Scripps; public domain), as shipped inside the ``statsmodels`` package
(``statsmodels.datasets.co2``, BSD-3-Clause package; ``pip install 'otel-carbon[bench]'``).
Its growth rate drifts (the early-1990s slowdown after Pinatubo, then faster growth),
so a forecaster trained on the past goes stale.

Protocol.  A forecaster predicts the value ``HORIZON`` weeks ahead from a trend and two
seasonal harmonics fit on the trailing ``WINDOW`` weeks (a bagged ridge regression, its
penalty chosen by time-ordered cross-validation: ~0.1 s of work).  A model left alone goes
stale as the growth rate drifts; retraining on the newest weeks tracks it.  Over the test period
(1990–2001), every week:

* **always-retrain** retrains on the trailing ``WINDOW`` weeks, then forecasts;
* **RES-gated** asks :func:`otel_carbon.gates.retrain.decide` first.  The expected gain
  ``G`` (points) is known before training from a cheap proxy: one ridge fit on the
  current window (no cross-validation, no bagging: ~1/2000 of a training), and
  ``G`` = the deployed model's error on the last ``RECENT`` known weeks minus the
  proxy's, in percent of the former — the error a retrain can win back.  The proxy's
  energy is measured too and charged to the gated strategy.  The energy ``E`` is the
  *measured* energy of the previous training run (our meter: RAPL, else the CPU model,
  on this machine), as the median of the last ``CALIBRATION`` measured runs; the intensity
  is the zone's (static table).  The threshold is ``MIN_GAIN`` points at the carbon of a
  reference run (the median of ``CALIBRATION`` measured runs before the test period).

Both strategies forecast every week; forecast error is the mean absolute error over the
test period; retraining carbon is the sum over the runs of measured energy × intensity.

    python bench/retraining.py [--zone DE] [--min-gain 3] [--recent 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

import numpy as np

from otel_carbon import sci
from otel_carbon.config import CarbonSettings
from otel_carbon.energy import install_meter
from otel_carbon.gates.retrain import decide, res_score
from otel_carbon.intensity.cache import IntensityCache

HORIZON = 4  # weeks ahead
WINDOW = 260  # training window, weeks (5 years)
RECENT = 8  # known weeks the expected gain is scored on
CALIBRATION = 5  # measured runs for the reference carbon and the gate's running median
TEST_START = "1990-01-01"
MIN_GAIN = 3.0  # points (percent of error) worth one training run's carbon
BAGS = 2000  # bootstrap members: the ensemble also gives prediction intervals; ~0.1 s of work
ALPHAS = np.logspace(-3, 3, 13)
FOLDS = 5


def load_series() -> tuple[np.ndarray, np.ndarray]:
    """Weekly CO2 (ppm) and week dates; the 59 missing weeks filled by linear interpolation."""
    try:
        from statsmodels.datasets import co2
    except ImportError:
        raise SystemExit("bench/retraining.py needs statsmodels: pip install 'otel-carbon[bench]'") from None
    frame = co2.load_pandas().data
    values = frame["co2"].to_numpy(dtype=float, copy=True)
    missing = np.isnan(values)
    index = np.arange(values.size)
    values[missing] = np.interp(index[missing], index[~missing], values[~missing])
    return values, frame.index.to_numpy()


def features(t: int, week_of_year: float) -> np.ndarray:
    """Row for the target week ``t + HORIZON``: trend (years since 1990) and two seasonal harmonics."""
    years = (t + HORIZON) / 52.18 - 32.0
    phase = 2 * math.pi * (week_of_year + HORIZON) / 52.18
    return np.array([1.0, years, math.sin(phase), math.cos(phase), math.sin(2 * phase), math.cos(2 * phase)])


@dataclass
class Model:
    """A bagged ridge ensemble and the penalty its cross-validation chose."""

    weights: np.ndarray  # (bags, features)
    alpha: float

    def predict(self, row: np.ndarray) -> float:
        return float(np.mean(self.weights @ row))


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    gram = x.T @ x + alpha * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)


def train(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Model:
    """Penalty by time-ordered CV (train on the past folds, score the next), then a bagged fit."""
    fold = len(y) // (FOLDS + 1)
    errors = np.zeros(len(ALPHAS))
    for k in range(1, FOLDS + 1):
        fit_x, fit_y = x[: k * fold], y[: k * fold]
        val_x, val_y = x[k * fold: (k + 1) * fold], y[k * fold: (k + 1) * fold]
        for i, alpha in enumerate(ALPHAS):
            errors[i] += np.mean(np.abs(val_x @ _ridge(fit_x, fit_y, alpha) - val_y))
    best = int(np.argmin(errors))
    alpha = ALPHAS[best]
    bags = [_ridge(x[idx], y[idx], alpha) for idx in (rng.integers(0, len(y), len(y)) for _ in range(BAGS))]
    return Model(np.array(bags), float(alpha))


@dataclass
class Strategy:
    """One strategy's running totals."""

    name: str
    model: Model | None = None
    trainings: int = 0
    energy_j: float = 0.0
    carbon_g: float = 0.0
    errors: list[float] | None = None
    measured_j: list[float] | None = None  # energy of each measured training run
    proxy_j: float = 0.0  # of energy_j: the gate's own proxy fits


def simulate(zone: str, min_gain: float = MIN_GAIN, recent: int = RECENT) -> dict:
    series, dates = load_series()
    weeks = np.array([d.astype("datetime64[D]").item().isocalendar()[1] for d in dates], dtype=float)
    rows = {t: features(t, weeks[t]) for t in range(len(series) - HORIZON)}
    target = {t: series[t + HORIZON] for t in rows}
    start = int(np.searchsorted(dates, np.datetime64(TEST_START)))
    meter = install_meter(CarbonSettings(zone=zone))
    intensity = IntensityCache()
    g_per_kwh = intensity.lookup(zone).g_per_kwh
    rng = np.random.default_rng(20260101)
    always, gated = Strategy("always-retrain", errors=[]), Strategy("RES-gated", errors=[])
    never = Strategy("never-retrain", errors=[])  # reference: the first model, kept throughout
    threshold: float | None = None
    decisions = {"retrain": 0, "skip": 0, "defer": 0}

    def fit(strategy: Strategy, t: int) -> None:
        # Training data: forecasts made in the window whose targets are known at week t.
        ts = window_rows(t)
        window = meter.start()
        model = train(np.array([rows[s] for s in ts]), np.array([target[s] for s in ts]), rng)
        measurement = window.stop()
        if measurement is None:
            raise SystemExit("no energy meter on this machine (neither RAPL nor a CPU model): cannot measure training")
        energy = measurement.total_j or 0.0
        strategy.model, strategy.trainings = model, strategy.trainings + 1
        strategy.energy_j += energy
        strategy.carbon_g += sci.operational_g(energy, g_per_kwh)
        if energy > 0 and strategy.measured_j is not None:  # a window below the meter's resolution reads 0 J
            strategy.measured_j.append(energy)

    def window_rows(t: int) -> list[int]:
        """Forecasts made in the training window whose targets are known at week ``t``."""
        return [s for s in range(max(0, t - WINDOW), t - HORIZON + 1)]

    def expected_gain(model: Model, t: int) -> float:
        """Points of recent error a retrain would remove, from a cheap proxy: one ridge fit (no CV, no bags)
        on the current window, scored against the deployed model on the last ``recent`` known weeks.
        The proxy's energy is measured and charged to the gated strategy."""
        ts = window_rows(t)
        window = meter.start()
        proxy = _ridge(np.array([rows[s] for s in ts]), np.array([target[s] for s in ts]), model.alpha)
        measurement = window.stop()
        if measurement is not None:
            energy = measurement.total_j or 0.0
            gated.energy_j += energy
            gated.carbon_g += sci.operational_g(energy, g_per_kwh)
            gated.proxy_j += energy
        last = ts[-recent:]
        deployed = float(np.mean([abs(model.predict(rows[s]) - target[s]) for s in last]))
        fresh = float(np.mean([abs(float(rows[s] @ proxy) - target[s]) for s in last]))
        return max(deployed - fresh, 0.0) / deployed * 100.0 if deployed > 0 else 0.0

    # Calibration (not counted): CALIBRATION measured training runs give the reference carbon of one
    # run; the threshold is min_gain points at that carbon.  The gate's E is the median of the last
    # CALIBRATION measured runs (the meter's readings on a shared machine vary from run to run).
    calibration = Strategy("calibration", measured_j=[])
    for _ in range(CALIBRATION):
        fit(calibration, start)
    if not calibration.measured_j:
        raise SystemExit("the meter read 0 J for every calibration run: cannot measure training here")
    reference_j = float(np.median(calibration.measured_j))
    threshold = res_score(min_gain, reference_j, g_per_kwh)
    gated.measured_j = list(calibration.measured_j)
    for t in range(start, max(rows) + 1):
        fit(always, t)
        if gated.model is None:
            fit(gated, t)
            never.model = gated.model
        else:
            energy_j = float(np.median(gated.measured_j[-CALIBRATION:]))
            decision = decide(expected_gain=expected_gain(gated.model, t), energy_j=energy_j, zone=zone,
                              min_score=threshold, intensity=intensity, energy_source="measured")
            decisions[decision.decision] += 1
            if decision.decision == "retrain":
                fit(gated, t)
        for strategy in (always, gated, never):
            assert strategy.model is not None and strategy.errors is not None
            strategy.errors.append(abs(strategy.model.predict(rows[t]) - target[t]))
    close = getattr(meter, "close", None)
    if close is not None:
        close()
    mae = {s.name: float(np.mean(s.errors)) for s in (always, gated, never)}  # type: ignore[arg-type]
    return {
        "data": "statsmodels.datasets.co2 (Mauna Loa weekly CO2, public domain)",
        "test_period": f"{str(dates[start])[:10]} – {str(dates[max(rows)])[:10]}",
        "weeks": max(rows) + 1 - start,
        "zone": zone,
        "intensity_g_per_kwh": g_per_kwh,
        "meter": getattr(meter, "devices", None) and ",".join(d.info.name for d in meter.devices),  # type: ignore[attr-defined]
        "strategies": {
            s.name: {"trainings": s.trainings, "energy_j": s.energy_j, "gate_energy_j": s.proxy_j,
                     "carbon_g": s.carbon_g, "mae_ppm": mae[s.name]}
            for s in (always, gated, never)
        },
        "gated_decisions": decisions,
        "carbon_saving_pct": (1 - gated.carbon_g / always.carbon_g) * 100.0,
        "mae_change_pct": (mae["RES-gated"] / mae["always-retrain"] - 1) * 100.0,
        "threshold_points_per_kg": threshold,
        "reference_run_j": reference_j,
        "min_gain_points": min_gain,
        "recent_weeks": recent,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", default="DE", help="grid zone of this machine (default DE)")
    parser.add_argument("--min-gain", type=float, default=MIN_GAIN,
                        help=f"points of error worth one training run's carbon (default {MIN_GAIN:g})")
    parser.add_argument("--recent", type=int, default=RECENT,
                        help=f"known weeks the expected gain is scored on (default {RECENT})")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = simulate(args.zone, args.min_gain, args.recent)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['data']}, test {result['test_period']} ({result['weeks']} weekly decisions), "
          f"zone {result['zone']} at {result['intensity_g_per_kwh']:.0f} gCO2e/kWh, meter: {result['meter']}")
    print(f"{'strategy':<16} {'trainings':>9} {'energy J':>10} {'carbon g':>10} {'MAE ppm':>8}")
    for name, row in result["strategies"].items():
        print(f"{name:<16} {row['trainings']:>9} {row['energy_j']:>10.1f} {row['carbon_g']:>10.5f} "
              f"{row['mae_ppm']:>8.4f}")
    print(f"retraining carbon saved: {result['carbon_saving_pct']:.1f}%   "
          f"forecast error change: {result['mae_change_pct']:+.2f}%   decisions: {result['gated_decisions']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
