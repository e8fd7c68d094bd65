"""pkmodel.fit: recovering known parameters of one subject from data made without pkmodel's engine
(the Bateman function worked by hand, the ODE reference), standard errors against the formula
with hand-derived derivatives, fixed parameters, the input checks and the two plots."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pkmodel import FitResult, Model, PKModelError, Regimen, fit, observed_vs_predicted, residuals
from pkmodel.engine.ode import ode_amounts
from pkmodel.interfaces.fit_plots import OBSERVED, PREDICTED, WEIGHTED

TIMES = np.array([0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 12, 16, 24, 36, 48])
DOSE = 500.0
ONE = {"cl": 5.0, "v1": 40.0, "ka": 1.2}  # 1-cpt oral, F = 1
TWO = {"cl": 5.0, "v1": 30.0, "q": 3.0, "v2": 60.0, "ka": 1.5}


def bateman(t, cl, v1, ka, dose=DOSE):
    """One compartment, first-order absorption, one oral dose at 0 (hand closed form), mg/L."""
    k = cl / v1
    return dose * ka / (v1 * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def two_compartment_oral(t, cl, v1, q, v2, ka):
    """The ODE reference (solve_ivp, rtol 1e-10) for one oral dose at 0, mg/L."""
    amounts = ode_amounts(ka, cl / v1, q / v1, q / v2, [0.0], [0], [DOSE], [0.0], t)
    return amounts[:, 1] / v1


def tidy(t, c):
    return pd.DataFrame({"time_h": t, "conc_mg_L": c})


ORAL = Regimen.single(DOSE, "oral")


def test_noise_free_one_compartment_oral_recovers_the_parameters():
    data = tidy(TIMES, bateman(TIMES, **ONE))
    start = Model(cl=8.0, v1=25.0, ka=0.7)
    result = fit(start, data, ORAL)
    assert result.parameters == ("cl", "v1", "ka")
    for name, truth in ONE.items():
        assert result.estimates[name] == pytest.approx(truth, rel=1e-6)
    assert result.converged and result.objective < 1e-16


def test_noise_free_two_compartment_oral_recovers_the_parameters():
    data = tidy(TIMES, two_compartment_oral(TIMES, **TWO))
    start = Model(cl=4.0, v1=25.0, q=2.0, v2=80.0, ka=1.0)
    result = fit(start, data, ORAL, error="additive")
    assert result.parameters == ("cl", "v1", "q", "v2", "ka")
    for name, truth in TWO.items():
        assert result.estimates[name] == pytest.approx(truth, rel=1e-6)


def noisy(truth_curve, seed, cv=0.1, add=0.0):
    rng = np.random.default_rng(seed)
    return truth_curve * (1 + cv * rng.standard_normal(truth_curve.size)) + add * rng.standard_normal(truth_curve.size)


@pytest.mark.parametrize("seed", range(6))
def test_noisy_one_compartment_estimates_lie_within_3_se(seed):
    data = tidy(TIMES, noisy(bateman(TIMES, **ONE), seed))
    result = fit(Model(cl=8.0, v1=25.0, ka=0.7), data, ORAL, error="proportional")
    for name, truth in ONE.items():
        assert abs(result.estimates[name] - truth) < 3 * result.standard_errors[name], (name, result.table())
    assert 0.05 < result.sigma < 0.2  # the 10 % CV the noise has


@pytest.mark.parametrize("seed", range(5))
def test_noisy_two_compartment_estimates_lie_within_3_se(seed):
    data = tidy(TIMES, noisy(two_compartment_oral(TIMES, **TWO), seed, cv=0.05, add=0.02))
    result = fit(Model(cl=4.0, v1=25.0, q=2.0, v2=80.0, ka=1.0), data, ORAL, error="combined", error_sd=(0.02, 0.05))
    for name, truth in TWO.items():
        assert abs(result.estimates[name] - truth) < 3 * result.standard_errors[name], (name, result.table())


def test_standard_errors_follow_the_weighted_least_squares_formula():
    """One-compartment IV bolus with additive error, derivatives worked by hand:
    C = D/V e^(-CL t/V); dC/dlog CL = -C·CL·t/V; dC/dlog V = C·(CL·t/V - 1)."""
    t = np.array([0.5, 1, 2, 4, 6, 8, 12, 24])
    cl, v = 4.0, 50.0
    conc = DOSE / v * np.exp(-cl / v * t) + np.random.default_rng(3).normal(0, 0.2, t.size)
    result = fit(Model(cl=6.0, v1=40.0), tidy(t, conc), Regimen.single(DOSE, "iv"), error="additive")
    cl_hat, v_hat = result.estimates["cl"], result.estimates["v1"]
    c = DOSE / v_hat * np.exp(-cl_hat / v_hat * t)
    jac = np.column_stack([-c * cl_hat * t / v_hat, c * (cl_hat * t / v_hat - 1)])
    s2 = np.sum((conc - c) ** 2) / (t.size - 2)
    cov_log = s2 * np.linalg.inv(jac.T @ jac)
    se = np.sqrt(np.diag(cov_log)) * [cl_hat, v_hat]
    assert result.standard_errors["cl"] == pytest.approx(se[0], rel=1e-5)
    assert result.standard_errors["v1"] == pytest.approx(se[1], rel=1e-5)
    assert result.cv_percent["cl"] == pytest.approx(100 * se[0] / cl_hat, rel=1e-5)
    rho = cov_log[0, 1] / math.sqrt(cov_log[0, 0] * cov_log[1, 1])
    assert result.correlation[0, 1] == pytest.approx(rho, rel=1e-5)
    assert result.sigma == pytest.approx(math.sqrt(s2), rel=1e-6)
    assert np.allclose(result.residuals, conc - c, atol=1e-9)


def test_fixed_parameters_stay_fixed():
    data = tidy(TIMES, noisy(bateman(TIMES, **ONE), 1))
    start = Model(cl=8.0, v1=25.0, ka=0.7)
    held = fit(start, data, ORAL, fixed={"ka": 1.2})
    assert held.parameters == ("cl", "v1") and held.model.ka == 1.2 and held.fixed == {"ka": 1.2}
    kept = fit(start, data, ORAL, fixed=["v1"])
    assert kept.model.v1 == 25.0 and "v1" not in kept.estimates
    table = held.table()
    assert list(table["parameter"]) == ["cl", "v1", "ka"]
    assert list(table["fixed"]) == [False, False, True] and math.isnan(table["se"].iloc[2])
    assert list(table["unit"]) == ["L/h", "L", "1/h"]


def test_a_dataset_of_one_id_fits_like_its_regimen_and_a_trough_is_taken_before_the_dose():
    """IV boluses at 0 and 12 h; the 12 h sample sits before the second dose record, so it is the
    trough (hand formula: the first dose alone)."""
    cl, v = 4.0, 50.0
    t = np.array([1.0, 4.0, 8.0, 12.0, 13.0, 16.0, 24.0])
    k = cl / v
    conc = DOSE / v * (np.exp(-k * t) + np.where(t > 12, np.exp(-k * (t - 12)), 0.0))
    rows = [{"ID": 7, "TIME": 0.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan}]
    for ti, ci in zip(t, conc, strict=True):
        if ti == 13.0:
            rows.append({"ID": 7, "TIME": 12.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan})
        rows.append({"ID": 7, "TIME": ti, "EVID": 0, "AMT": 0.0, "CMT": 1, "DV": ci})
    result = fit(Model(cl=6.0, v1=40.0), pd.DataFrame(rows), error="additive")
    assert result.estimates["cl"] == pytest.approx(cl, rel=1e-6)
    assert result.estimates["v1"] == pytest.approx(v, rel=1e-6)
    twice = Regimen.repeated(DOSE, 12.0, n_doses=2, route="iv")
    tidy_result = fit(Model(cl=6.0, v1=40.0), tidy(t, conc), twice, error="additive")
    assert tidy_result.estimates["cl"] == pytest.approx(cl, rel=1e-6)


def test_an_observation_after_the_dose_record_of_its_time_includes_the_dose():
    cl, v = 4.0, 50.0
    t = np.array([1.0, 4.0, 8.0, 12.0, 16.0, 24.0])
    k = cl / v
    conc = DOSE / v * (np.exp(-k * t) + np.where(t >= 12, np.exp(-k * (t - 12)), 0.0))
    rows = [{"ID": 1, "TIME": 0.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan}]
    for ti, ci in zip(t, conc, strict=True):
        if ti == 12.0:
            rows.append({"ID": 1, "TIME": 12.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan})
        rows.append({"ID": 1, "TIME": ti, "EVID": 0, "AMT": 0.0, "CMT": 1, "DV": ci})
    result = fit(Model(cl=6.0, v1=40.0), pd.DataFrame(rows), error="additive")
    assert result.estimates["cl"] == pytest.approx(cl, rel=1e-6)
    # An observation between two dose records of its time is refused, not guessed.
    rows.insert(6, {"ID": 1, "TIME": 12.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan})
    with pytest.raises(PKModelError, match="between dose events"):
        fit(Model(cl=6.0, v1=40.0), pd.DataFrame(rows), error="additive")
    # Observations are central concentrations: the depot's CMT is refused.
    oral = pd.DataFrame([{"ID": 1, "TIME": 0.0, "EVID": 1, "AMT": DOSE, "CMT": 1, "DV": np.nan},
                         {"ID": 1, "TIME": 1.0, "EVID": 0, "AMT": 0.0, "CMT": 1, "DV": 1.0}])  # fmt: skip
    with pytest.raises(PKModelError) as err:
        fit(START, oral)
    assert err.value.field == "row 2, column CMT"


def test_bioavailability_and_lag_are_estimated_when_named():
    """IV bolus at 0 and an oral dose at 48 h tell F apart from CL and V (hand closed forms)."""
    cl, v, ka, f, lag = 5.0, 40.0, 1.2, 0.7, 0.5
    t = np.array([0.5, 1, 2, 4, 8, 12, 24, 48.25, 48.5, 49, 49.5, 50, 51, 52, 54, 56, 60, 72])
    after = np.clip(t - 48 - lag, 0, None)
    conc = DOSE / v * np.exp(-cl / v * t) + np.where(t > 48 + lag, f * bateman(after, cl, v, ka), 0.0)
    regimen = Regimen.single(DOSE, "iv") + Regimen.single(DOSE, "oral", time=48.0)
    start = Model(cl=6.0, v1=30.0, ka=1.0, f=0.9, tlag=0.3)
    result = fit(start, tidy(t, conc), regimen, estimate=["cl", "v1", "ka", "f", "tlag"], error="additive")
    truth = {"cl": cl, "v1": v, "ka": ka, "f": f, "tlag": lag}
    for name, value in truth.items():
        assert result.estimates[name] == pytest.approx(value, rel=1e-6), name


def test_bioavailability_alone_with_the_lag_held():
    # A per-subject F with a scalar lag once broke the event builder inside the fit's Jacobian.
    data = tidy(TIMES, 0.8 * bateman(TIMES, **ONE))
    result = fit(Model(**ONE, f=0.5), data, ORAL, estimate=["f"], error="additive")
    assert result.estimates["f"] == pytest.approx(0.8, rel=1e-6)


GOOD = tidy(TIMES, bateman(TIMES, **ONE))
START = Model(cl=8.0, v1=25.0, ka=0.7)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"estimate": ["cl", "clearance"]}, "estimate"),
        ({"estimate": ["cl", "v2"]}, "estimate"),  # a one-compartment model has no v2
        ({"estimate": ["tlag"]}, "estimate"),  # start 0 cannot be log-parameterised
        ({"estimate": "cl"}, "estimate"),
        ({"estimate": ["cl", "cl"]}, "estimate"),
        ({"fixed": {"volume": 3}}, "fixed"),
        ({"fixed": {"ka": 1.2}, "estimate": ["ka"]}, "estimate"),
        ({"bounds": {"cl": (10.0, 20.0)}}, "bounds['cl']"),  # the start (8) is outside
        ({"bounds": {"cl": (-1.0, 20.0)}}, "bounds['cl']"),
        ({"bounds": {"cl": (5.0, 2.0)}}, "bounds['cl']"),
        ({"bounds": {"cl": (0.0, float("nan"))}}, "bounds['cl']"),
        ({"bounds": {"q": (0.1, 2.0)}}, "bounds"),  # not estimated
        ({"estimate": ["cl", "f"], "bounds": {"f": (0.1, 2.0)}}, "bounds['f']"),
        ({"error": "poisson"}, "error"),
        ({"error": "combined"}, "error_sd"),
        ({"error": "combined", "error_sd": (0.1, -0.1)}, "error_sd"),
        ({"error": "additive", "error_sd": (0.1, 0.1)}, "error_sd"),
    ],
)
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        fit(START, GOOD, ORAL, **kwargs)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("model", "data", "regimen", "field"),
    [
        (START, tidy([], []), ORAL, "data"),
        (START, tidy([1.0, 2.0, 3.0], [1.0, 2.0, 1.5]), ORAL, "data"),  # no more observations than parameters
        (START, tidy([1.0, 2.0], [1.0, -2.0]), ORAL, "row 2, column conc_mg_L"),
        (START, tidy([2.0, 1.0], [1.0, 2.0]), ORAL, "row 2, column time_h"),
        (START, tidy(TIMES, bateman(TIMES, **ONE)).rename(columns={"conc_mg_L": "c"}), ORAL, "data"),
        (START, GOOD, None, "regimen"),
        (START, [1, 2, 3], ORAL, "data"),
        (START.replace(cl=np.array([1.0, 2.0])), GOOD, ORAL, "model"),
        ("model", GOOD, ORAL, "model"),
        (START, tidy([0.0, *TIMES], [0.0, *bateman(TIMES, **ONE)]), ORAL, "data"),  # predicted 0, proportional
    ],
)
def test_bad_data_names_the_field(model, data, regimen, field):
    with pytest.raises(PKModelError) as err:
        fit(model, data, regimen)
    assert err.value.field == field


def test_a_dataset_without_observations_or_with_two_ids_is_refused():
    doses = pd.DataFrame({"ID": [1], "TIME": [0.0], "EVID": [1], "AMT": [DOSE], "CMT": [1], "DV": [np.nan]})
    with pytest.raises(PKModelError) as err:
        fit(START, doses)
    assert err.value.field == "data"
    two = pd.DataFrame({"ID": [1, 2], "TIME": [1.0, 1.0], "EVID": [0, 0], "AMT": [0.0, 0.0], "CMT": [2, 2],
                        "DV": [1.0, 1.0]})  # fmt: skip
    with pytest.raises(PKModelError, match="IDs"):
        fit(START, two)
    with pytest.raises(PKModelError) as err:
        fit(START, doses, ORAL)
    assert err.value.field == "regimen"


def test_the_result_is_immutable():
    result = fit(START, tidy(TIMES, noisy(bateman(TIMES, **ONE), 2)), ORAL)
    assert isinstance(result, FitResult)
    with pytest.raises(AttributeError):
        result.objective = 0.0
    with pytest.raises(TypeError):
        result.estimates["cl"] = 1.0
    with pytest.raises(ValueError):
        result.predicted[0] = 1.0
    assert "cl = " in repr(result)


def test_the_plots_draw_on_the_axes_given_with_units():
    from matplotlib.figure import Figure

    result = fit(START, tidy(TIMES, noisy(bateman(TIMES, **ONE), 4)), ORAL)
    ax = Figure().add_subplot()
    assert observed_vs_predicted(result, ax=ax) is ax
    assert ax.get_xlabel() == PREDICTED and ax.get_ylabel() == OBSERVED and "mg/L" in PREDICTED
    (points,) = [c for c in ax.collections if c.get_gid() == "observations"]
    assert np.allclose(points.get_offsets(), np.column_stack([result.predicted, result.observed]))
    ax2 = Figure().add_subplot()
    assert residuals(result, ax=ax2) is ax2
    assert ax2.get_xlabel() == "Time (h)" and ax2.get_ylabel() == WEIGHTED
    (dots,) = [c for c in ax2.collections if c.get_gid() == "residuals"]
    assert np.allclose(dots.get_offsets()[:, 1], result.weighted_residuals)
    assert residuals(result, ax=Figure().add_subplot(), x="predicted").get_xlabel() == PREDICTED
    with pytest.raises(PKModelError) as err:
        residuals(result, ax=ax2, x="dose")
    assert err.value.field == "x"
    with pytest.raises(PKModelError) as err:
        observed_vs_predicted("not a result", ax=ax)
    assert err.value.field == "result"


NAMES = st.sampled_from(["cl", "v1", "q", "v2", "ka", "f", "tlag", "CL", "", "volume"])
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 50), st.booleans(), st.text(max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    estimate=st.one_of(st.none(), st.lists(NAMES, max_size=4), st.text(max_size=4)),
    fixed=st.one_of(st.none(), st.dictionaries(NAMES, NUMBERS, max_size=2), st.lists(NAMES, max_size=2)),
    bounds=st.one_of(st.none(), st.dictionaries(NAMES, st.tuples(NUMBERS, NUMBERS), max_size=2)),
    error=st.one_of(st.sampled_from(["additive", "proportional", "combined", "x"]), NUMBERS),
    error_sd=st.one_of(st.none(), st.tuples(NUMBERS, NUMBERS)),
)
def test_any_options_give_a_result_or_a_pkmodel_error(estimate, fixed, bounds, error, error_sd):
    try:
        result = fit(START, GOOD, ORAL, estimate=estimate, fixed=fixed, bounds=bounds, error=error, error_sd=error_sd)
    except PKModelError:
        return
    assert set(result.parameters) | set(result.fixed) <= {"cl", "v1", "q", "v2", "ka", "f", "tlag"}
    assert np.all(np.isfinite(result.predicted))


SAMPLE = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(-3, 100))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    times=st.one_of(st.lists(SAMPLE, max_size=8), st.lists(st.floats(0, 100), max_size=8).map(sorted)),
    concs=st.lists(SAMPLE, max_size=8),
    error=st.sampled_from(["additive", "proportional"]),
)
@example(times=[0.0, 0.0, 0.0], concs=[0.0, 0.0, 1.3407807929942597e154], error="additive")  # overflowed once
def test_any_data_give_a_result_or_a_pkmodel_error(times, concs, error):
    n = min(len(times), len(concs))
    try:
        result = fit(Model(cl=5.0, v1=40.0), tidy(times[:n], concs[:n]), Regimen.single(DOSE, "iv"), error=error)
    except PKModelError:
        return
    assert np.all(np.isfinite(result.predicted)) and result.n_observations == n
