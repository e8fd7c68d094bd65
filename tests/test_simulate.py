"""simulate() and its summary against closed forms worked by hand."""

import math

import numpy as np
import pytest

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.simulation.simulate import default_times

K, V = 0.1, 20.0  # one compartment: CL = 2 L/h


def one_comp(**kw):
    return Model(cl=K * V, v1=V, **kw)


def test_repeated_iv_bolus_is_the_superposition_of_single_doses():
    dose, tau, n = 100.0, 12.0, 10
    t = np.linspace(0, 150, 301)
    sim = simulate(one_comp(), Regimen.repeated(dose, tau, n_doses=n), t)
    expected = sum(np.where(t >= i * tau, dose / V * np.exp(-K * (t - i * tau)), 0.0) for i in range(n))
    np.testing.assert_allclose(sim.concentration[0], expected, rtol=1e-12, atol=1e-14)


def test_steady_state_metrics_of_iv_bolus_regimen():
    dose, tau = 100.0, 12.0
    r = math.exp(-K * tau)
    sim = simulate(one_comp(), Regimen.repeated(dose, tau, n_doses=40))
    s = sim.summary().iloc[0]
    cmax_ss = dose / V / (1 - r)  # after 40 doses r**40 = 1.4e-21: at steady state
    assert s.cmax_mg_L == pytest.approx(cmax_ss, rel=1e-12)
    assert s.cmin_mg_L == pytest.approx(cmax_ss * r, rel=1e-12)
    assert s.auc_tau_mg_h_L == pytest.approx(dose / (K * V), rel=1e-12)
    assert s.cavg_mg_L == pytest.approx(dose / (K * V * tau), rel=1e-12)
    assert s.cavg_ss_mg_L == pytest.approx(dose / (K * V * tau), rel=1e-15)
    assert s.accumulation == pytest.approx(1 / (1 - r), rel=1e-12)
    # Fraction of steady state 1 - e^(-kt) reaches 0.9 at ln(10)/k.
    assert s.t90ss_h == pytest.approx(math.log(10) / K, rel=1e-8)
    # AUC over the whole grid: every dose's AUC up to the last output time.
    t_end = sim.times[-1]
    expected = sum(dose / (K * V) * (1 - math.exp(-K * (t_end - i * tau))) for i in range(40))
    assert s.auc_mg_h_L == pytest.approx(expected, rel=1e-12)


def test_oral_peak_is_found_between_coarse_grid_points():
    ka, f, dose = 1.3, 0.8, 500.0
    sim = simulate(one_comp(ka=ka, f=f), Regimen.single(dose, "oral"), np.arange(0, 48.0, 1.0))
    tmax = math.log(ka / K) / (ka - K)
    cmax = f * dose * ka / (V * (ka - K)) * (math.exp(-K * tmax) - math.exp(-ka * tmax))
    s = sim.summary().iloc[0]
    assert s.tmax_h == pytest.approx(tmax, abs=1e-6)
    assert s.cmax_mg_L == pytest.approx(cmax, rel=1e-12)
    assert math.isnan(s.cmin_mg_L) and math.isnan(s.accumulation)
    # Single-dose AUC to 48 h by the Bateman integral.
    auc = f * dose * ka / (V * (ka - K)) * ((1 - math.exp(-K * 47)) / K - (1 - math.exp(-ka * 47)) / ka)
    assert s.auc_mg_h_L == pytest.approx(auc, rel=1e-12)


def test_lag_time_delays_the_whole_curve():
    ka, lag, dose = 0.9, 0.75, 250.0
    t = np.arange(0, 24, 0.25)
    sim = simulate(one_comp(ka=ka, tlag=lag), Regimen.single(dose, "oral"), t)
    s = np.clip(t - lag, 0, None)
    expected = dose * ka / (V * (ka - K)) * (np.exp(-K * s) - np.exp(-ka * s))
    np.testing.assert_allclose(sim.concentration[0], expected, rtol=1e-12, atol=1e-15)
    assert np.all(sim.concentration[0][t <= lag] == 0.0)


def test_infusion_rises_and_falls_as_worked_by_hand():
    dose, length = 600.0, 2.0
    rate = dose / length
    t = np.array([0.0, 1.0, 2.0, 5.0])
    sim = simulate(one_comp(), Regimen.single(dose, "iv", duration=length), t)
    during = rate / (K * V) * (1 - np.exp(-K * t[:3]))
    after = during[-1] * math.exp(-K * 3.0)
    np.testing.assert_allclose(sim.concentration[0], [*during, after], rtol=1e-13)


def test_two_compartment_bolus_is_biexponential():
    m = Model(cl=5.0, v1=20.0, q=8.0, v2=50.0)
    t = np.linspace(0, 72, 145)
    sim = simulate(m, Regimen.single(100.0), t)
    expected = 100 * (m.coef_a * np.exp(-m.alpha * t) + m.coef_b * np.exp(-m.beta * t))
    np.testing.assert_allclose(sim.concentration[0], expected, rtol=1e-12)


def test_population_rows_equal_single_subject_runs():
    rng = np.random.default_rng(7)
    cl = 5.0 * np.exp(0.3 * rng.standard_normal(40))
    v1 = 20.0 * np.exp(0.3 * rng.standard_normal(40))
    tlag = rng.uniform(0, 1, 40)
    pop = Model(cl=cl, v1=v1, q=3.0, v2=40.0, ka=1.2, f=0.7, tlag=tlag)
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=6, route="oral")
    times = np.arange(0, 96, 0.5)
    sim = simulate(pop, regimen, times)
    assert sim.concentration.shape == (40, len(times))
    for i in (0, 17, 39):
        one = simulate(Model(cl=cl[i], v1=v1[i], q=3.0, v2=40.0, ka=1.2, f=0.7, tlag=tlag[i]), regimen, times)
        np.testing.assert_allclose(sim.concentration[i], one.concentration[0], rtol=1e-13, atol=1e-15)
    summary = sim.summary()
    assert len(summary) == 40 and summary.index.name == "subject"
    data = sim.data
    assert list(data.columns) == ["subject", "time_h", "conc_mg_L", "depot_mg", "central_mg", "peripheral_mg"]
    assert len(data) == 40 * len(times)


def test_data_table_amounts_match_concentration():
    m = Model(cl=5.0, v1=20.0, q=8.0, v2=50.0, ka=1.0, f=0.9)
    sim = simulate(m, Regimen.single("1 g", "oral"), np.linspace(0, 24, 49))
    d = sim.data
    assert list(d.columns) == ["time_h", "conc_mg_L", "depot_mg", "central_mg", "peripheral_mg"]
    np.testing.assert_allclose(d.central_mg / 20.0, d.conc_mg_L, rtol=1e-14)
    # What has not been eliminated is still in the body: F * dose - CL * AUC.
    auc = np.array([sim.auc(0, t)[0] for t in d.time_h])
    body = d.depot_mg + d.central_mg + d.peripheral_mg
    np.testing.assert_allclose(body, 900.0 - 5.0 * auc, rtol=1e-10, atol=1e-9)


def test_default_grid_covers_regimen_and_washout_and_hits_bolus_times():
    m = one_comp()
    regimen = Regimen.repeated("100 mg", "8 h", n_doses=5)
    t = default_times(m, regimen)
    assert t[0] == 0 and t[-1] >= 32 + 5 * math.log(2) / K
    assert set(regimen.dose_times) <= set(t)
    assert np.all(np.diff(t) <= 0.8 + 1e-12)


def test_trough_is_the_left_limit_at_the_dose_time():
    sim = simulate(one_comp(), Regimen.repeated(100.0, 12.0, n_doses=2), [0.0, 12.0])
    assert sim.at([12.0], left=True)[0, 0] == pytest.approx(5 * math.exp(-1.2), rel=1e-14)
    assert sim.concentration[0, 1] == pytest.approx(5 * math.exp(-1.2) + 5, rel=1e-14)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Regimen.single(-5), "amount"),
        (lambda: Regimen.single(float("nan")), "amount"),
        (lambda: Regimen.single("12 h"), "amount"),
        (lambda: Regimen.single(100, route="rectal"), "route"),
        (lambda: Regimen.repeated(100, "0 h", n_doses=3), "interval"),
        (lambda: Regimen.repeated(100, 12, n_doses=0), "n_doses"),
        (lambda: simulate(one_comp(), Regimen.single(100), [0, 5, 2]), "times"),
        (lambda: simulate(one_comp(), Regimen.single(100), [-1, 5]), "times"),
        (lambda: simulate(one_comp(), Regimen.single(100, "oral")), "ka"),
    ],
)
def test_bad_input_raises_with_the_field_named(make, field):
    with pytest.raises(PKModelError) as err:
        make()
    assert err.value.field == field


def test_regimen_reads_as_a_sentence():
    assert str(Regimen.repeated("500 mg", "12 h", over="14 d")) == "500 mg IV every 12 h, 28 doses (14 d)"
    assert str(Regimen.single("1 g", "oral")) == "1000 mg oral"


def test_per_subject_bioavailability_with_a_shared_lag():
    """Per-subject F (an array) with a scalar lag: each subject's total exposure is F·D/CL (the
    closed form of a one-compartment oral dose), and each curve is its F times the F = 1 curve
    (linearity). A regression: events of (n_subjects, n_doses) arrival times next to (n_doses,)
    ones used to fail to line up."""
    from pkmodel import Model, Regimen, simulate

    f = np.array([0.5, 0.6, 0.75])
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=3, route="oral")
    sim = simulate(Model(cl=5.0, v1=40.0, ka=1.2, f=f, tlag=0.25), regimen, times=np.linspace(0, 400, 801))
    np.testing.assert_allclose(sim.auc(0, 400), f * 1500.0 / 5.0, rtol=1e-9)
    one = simulate(Model(cl=5.0, v1=40.0, ka=1.2, f=1.0, tlag=0.25), regimen, times=np.linspace(0, 400, 801))
    np.testing.assert_allclose(sim.concentration, f[:, None] * one.concentration, rtol=1e-12, atol=1e-15)
