"""The dosing rules of events.py, the summary over the simulated window, the size limits checked
before allocating, and exact infusion rates: every expectation is a closed form worked by hand.

Units: mg, L, h, mg/L, mg·h/L, 1/h.
"""

import math
import tracemalloc
import warnings

import numpy as np
import pytest

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.dosing import events
from pkmodel.dosing.dose import Dose
from pkmodel.engine.propagation import Events, _rates_after_events
from pkmodel.limits import MAX_CELLS, MAX_TIME_H, MAX_TIMES
from pkmodel.simulation.simulate import Simulation, default_times

K, V = 0.1, 20.0  # one compartment: CL = 2 L/h


def one_comp(**kw):
    return Model(cl=K * V, v1=V, **kw)


def bateman_auc(f_dose, ka, k, v, a, b):
    """Integral from a to b (h after the dose, a, b >= 0) of one oral dose's concentration."""
    c = f_dose * ka / (v * (ka - k))
    return c * ((math.exp(-k * a) - math.exp(-k * b)) / k - (math.exp(-ka * a) - math.exp(-ka * b)) / ka)


# --- the rules ------------------------------------------------------------------------------------


def test_f_rule_own_f_else_model_f_for_oral_else_one():
    doses = (Dose(0, 100, "oral"), Dose(1, 100, "oral", f=0.5), Dose(2, 100, "iv"), Dose(3, 100, "iv", f=0.25))
    np.testing.assert_array_equal(events.bioavailability(doses, 0.8), [0.8, 0.5, 1.0, 0.25])
    np.testing.assert_array_equal(events.bioavailable_amounts(doses, 0.8), [80.0, 50.0, 100.0, 25.0])
    per_subject = events.bioavailable_amounts(doses, np.array([0.6, 0.9]))
    np.testing.assert_array_equal(per_subject, [[60.0, 50.0, 100.0, 25.0], [90.0, 50.0, 100.0, 25.0]])


def test_lag_rule_shifts_arrival_and_infusion_end():
    doses = (
        Dose(0, 100, "oral"),
        Dose(10, 100, "oral", tlag=2.0),
        Dose(20, 100, "iv", duration=3.0),
        Dose(30, 100, "iv", rate=40.0, f=0.5, tlag=1.0),
    )
    np.testing.assert_array_equal(events.arrival_times(doses, 0.5), [0.5, 12.0, 20.0, 31.0])
    # A fixed rate keeps its rate and lasts F·amount/rate: 0.5·100/40 = 1.25 h.
    np.testing.assert_array_equal(events.durations(doses, 0.7), [0.0, 0.0, 3.0, 1.25])
    np.testing.assert_array_equal(events.infusion_ends(doses, 0.7, 0.5), [0.5, 12.0, 23.0, 32.25])


def test_bolus_arrivals_of_a_lagged_steady_state_dose():
    # Lag 30 h, ii 12 h: the doses of the pattern given 12 and 24 h earlier arrive at 18 and 6 h.
    dose = Dose(0, 100, "oral", ss=1, interval=12.0)
    assert events.bolus_arrival_times(dose, 30.0) == {30.0, 18.0, 6.0}
    assert events.bolus_arrival_times(Dose(0, 100, "iv", duration=1.0), 0.0) == set()


def test_default_grid_has_the_end_of_every_iv_infusion_including_rate_doses():
    regimen = Regimen((Dose(0, 100, "iv", rate=40.0), Dose(12, 100, "iv", rate=40.0, f=0.5), Dose(24, 10, "iv")))
    grid = default_times(one_comp(), regimen)
    # 100/40 = 2.5 h; 0.5·100/40 = 1.25 h after 12 h; the bolus at 24 h.
    assert {2.5, 13.25, 24.0} <= set(grid.tolist())


# --- summary and per-dose F (issue 7 item 4) ------------------------------------------------------


def test_summary_uses_each_doses_own_f():
    ka, cl, v, tau = 1.0, 10.0, 20.0, 24.0
    model = Model(cl=cl, v1=v, ka=ka)
    regimen = Regimen(tuple(Dose(tau * i, 500, "oral", f=0.5) for i in range(14)), interval=tau)
    s = simulate(model, regimen, np.arange(0, 14 * tau + 0.5, 0.5)).summary().iloc[0]
    k = cl / v
    assert s.cavg_ss_mg_L == pytest.approx(0.5 * 500 / (cl * tau), rel=1e-14)  # 1.0417, not 2.08
    last = 13 * tau
    auc_tau = sum(bateman_auc(250.0, ka, k, v, last - tau * i, last + tau - tau * i) for i in range(14))
    assert s.auc_tau_mg_h_L == pytest.approx(auc_tau, rel=1e-12)
    assert s.cavg_mg_L == pytest.approx(auc_tau / tau, rel=1e-12)
    first = bateman_auc(250.0, ka, k, v, 0.0, tau)
    assert s.accumulation == pytest.approx(250.0 / cl / first, rel=1e-12)
    assert np.isfinite(s.t90ss_h)


def test_two_oral_doses_with_own_f_have_their_period_metrics():
    ka, cl, v, tau = 1.0, 10.0, 20.0, 24.0
    model = Model(cl=cl, v1=v, ka=ka, f=0.9)
    regimen = Regimen((Dose(0, 500, "oral", f=0.5), Dose(tau, 500, "oral", f=0.5)), interval=tau)
    s = simulate(model, regimen, np.arange(0, 2 * tau + 0.5, 0.5)).summary().iloc[0]
    k = cl / v
    auc_tau = bateman_auc(250.0, ka, k, v, tau, 2 * tau) + bateman_auc(250.0, ka, k, v, 0.0, tau)
    assert s.auc_tau_mg_h_L == pytest.approx(auc_tau, rel=1e-12)
    assert s.cavg_ss_mg_L == pytest.approx(250.0 / (cl * tau), rel=1e-14)


# --- summary over the simulated window ------------------------------------------------------------


def test_summary_describes_only_the_simulated_day_of_a_14_day_regimen():
    dose, tau = 100.0, 12.0
    regimen = Regimen.repeated(dose, tau, over="14 d")
    s = simulate(one_comp(), regimen, np.arange(0, 24.0 + 1e-9, 0.5)).summary().iloc[0]
    # Doses at 0, 12 and 24 h are inside; the last full interval is [12, 24].
    assert s.cmin_mg_L == pytest.approx(dose / V * (math.exp(-K * 24) + math.exp(-K * 12)), rel=1e-13)
    auc = sum(dose / (K * V) * (math.exp(-K * (12 - t)) - math.exp(-K * (24 - t))) for t in (0.0, 12.0))
    assert s.auc_tau_mg_h_L == pytest.approx(auc, rel=1e-12)
    assert s.cavg_mg_L == pytest.approx(auc / tau, rel=1e-12)


def test_summary_window_ending_inside_an_interval_uses_the_last_full_one():
    regimen = Regimen.repeated(100.0, 12.0, over="14 d")
    s = simulate(one_comp(), regimen, np.arange(0, 30.0 + 1e-9, 0.5)).summary().iloc[0]
    auc = sum(100 / (K * V) * (math.exp(-K * (12 - t)) - math.exp(-K * (24 - t))) for t in (0.0, 12.0))
    assert s.auc_tau_mg_h_L == pytest.approx(auc, rel=1e-12)
    assert s.cmin_mg_L == pytest.approx(5 * (math.exp(-2.4) + math.exp(-1.2)), rel=1e-13)


def test_summary_of_a_window_without_a_full_interval_is_nan():
    s = simulate(one_comp(), Regimen.repeated(100.0, 12.0, over="14 d"), np.arange(0, 10.5, 0.5)).summary().iloc[0]
    for name in ("cmin_mg_L", "auc_tau_mg_h_L", "cavg_mg_L", "cavg_ss_mg_L", "accumulation", "t90ss_h"):
        assert math.isnan(s[name]), name
    assert s.auc_mg_h_L == pytest.approx(100 / (K * V) * (1 - math.exp(-K * 10)), rel=1e-12)


def test_summary_of_a_window_starting_late():
    s = simulate(one_comp(), Regimen.repeated(100.0, 12.0, over="14 d"), np.arange(100, 130.5, 0.5)).summary().iloc[0]
    # Doses at 108 and 120 h inside; last full interval [108, 120]; trough just before 120 h.
    trough = sum(5 * math.exp(-K * (120 - 12 * i)) for i in range(10))
    assert s.cmin_mg_L == pytest.approx(trough, rel=1e-13)
    auc = sum(100 / (K * V) * (math.exp(-K * max(108 - 12 * i, 0)) - math.exp(-K * (120 - 12 * i))) for i in range(10))
    assert s.auc_tau_mg_h_L == pytest.approx(auc, rel=1e-12)


# --- refusing before allocating (issue 7 item 5) ----------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        Model(cl="1e-300 L/h", v1=20),
        Model(cl=1.0, v1="1e12 L"),
        Model(cl="1e-6 L/h", v1=20),
        # 5 half-lives of 1.4e4 h end within MAX_TIME_H, but a minute step gives 4e6 points.
        Model(cl=1.0, v1=2e4, ka=100.0),
    ],
)
def test_default_grid_refuses_instead_of_allocating(model):
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=4, route="oral" if model.ka else "iv")
    with pytest.raises(PKModelError) as err:
        simulate(model, regimen)
    if err.value.field == "model":  # CL 1e-300 L/h: a rate constant below the engine's range
        assert "rate constants" in str(err.value)
        return
    assert err.value.field == "times"
    assert "explicitly" in str(err.value)
    assert f"{MAX_TIME_H:g}" in str(err.value) or str(MAX_TIMES) in str(err.value)


def test_output_times_beyond_the_horizon_are_refused():
    with pytest.raises(PKModelError) as err:
        simulate(one_comp(ka=1.0), Regimen.single(100, "oral"), [0.0, 1e155])
    assert err.value.field == "times" and "MAX_TIME_H" in str(err.value)
    sim = simulate(one_comp(), Regimen.single(100), [0.0, 1.0])
    with pytest.raises(PKModelError):
        sim.at([2e6])
    with pytest.raises(PKModelError):
        sim.auc(0, 1e150)


def test_doses_beyond_the_horizon_are_refused():
    # A dose time past the horizon is refused where the dose is made; an infusion whose rate makes
    # it end past the horizon only when F and the rate meet, in simulate().
    with pytest.raises(PKModelError) as err:
        Regimen.single(100, time=2 * MAX_TIME_H)
    assert err.value.field == "time"
    with pytest.raises(PKModelError) as err:
        simulate(one_comp(), Regimen.single(100, rate="1e-9 mg/h"), [0.0, 1.0])  # an infusion lasting 1e11 h
    assert err.value.field == "regimen"


def test_too_many_cells_are_refused_before_any_array_is_built():
    n = 20_000
    model = Model(cl=np.full(n, 2.0), v1=20.0)
    times = np.arange(10_000, dtype=float)
    assert n * len(times) > MAX_CELLS
    tracemalloc.start()
    try:
        with pytest.raises(PKModelError) as err:
            simulate(model, Regimen.repeated(100, 12, n_doses=3), times)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # the refused matrix alone would be 1.6 GB
    assert "20000 subjects" in str(err.value) and "coarser grid" in str(err.value)


def test_too_many_output_times_are_refused():
    with pytest.raises(PKModelError) as err:
        simulate(one_comp(), Regimen.single(100), np.linspace(0, 100, MAX_TIMES + 1))
    assert err.value.field == "times"


@pytest.mark.parametrize("method", ["bogus", "", None, 3, "GRID"])
def test_unknown_methods_are_refused(method):
    with pytest.raises(PKModelError) as err:
        simulate(one_comp(), Regimen.single(100), [0.0, 1.0], method=method)
    assert err.value.field == "method"


def test_grid_method_needs_an_even_grid():
    with pytest.raises(PKModelError) as err:
        simulate(one_comp(), Regimen.single(100), [0.0, 1.0, 5.0], method="grid")
    assert err.value.field == "method"
    sim = simulate(one_comp(), Regimen.single(100), np.arange(0, 10.0, 0.5), method="grid")
    np.testing.assert_allclose(sim.concentration[0], 5 * np.exp(-K * np.arange(0, 10.0, 0.5)), rtol=1e-13)


# --- no spurious warnings (issue 7 item 4) --------------------------------------------------------


def test_outputs_long_before_the_first_dose_raise_no_warning():
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        sim = simulate(Model(cl=10, v1=2), Regimen.single(100, time=168), [0, 168, 170])
        conc = sim.concentration[0]
        auc = sim.auc(0, 170)[0]
    np.testing.assert_allclose(conc, [0.0, 50.0, 50.0 * math.exp(-10.0)], rtol=1e-14)
    assert auc == pytest.approx(10.0 * (1 - math.exp(-10.0)), rel=1e-13)


# --- exact infusion rates (issue 7 item 4) --------------------------------------------------------


def test_rates_after_events_are_exact_when_a_slow_infusion_outlives_a_fast_one():
    ev = Events(
        time=np.array([0.0, 1.0, 2.0, 3.0]),
        cmt=np.array([1, 1, 1, 1]),
        amount=np.zeros(4),
        rate=np.array([1e-3, 1e8, -1e8, -1e-3]),
    )
    rates = _rates_after_events(ev, 1)[:, 1, 0]
    assert rates.tolist() == [1e-3, 1e8 + 1e-3, 1e-3, 0.0]


def test_slow_infusion_overlapping_a_fast_one_matches_the_closed_form():
    k = 10.0  # fast elimination: the big infusion is gone (e^-1000 = 0) long before the end
    v, slow = 1.0, 1e-3
    model = Model(cl=k * v, v1=v)
    regimen = Regimen((Dose(0, slow * 200, "iv", duration=200.0), Dose(10, 1e8, "iv", duration=1.0)))
    t = np.array([5.0, 150.0, 199.0])
    sim = simulate(model, regimen, t)
    expected = slow / (k * v) * (1 - np.exp(-k * t))
    # A running sum would leave the slow rate off by ~1e-8 mg/h, a relative error of ~1e-5.
    np.testing.assert_allclose(sim.concentration[0], expected, rtol=1e-13)


# --- lazy, short to print (issue 8 item 5) --------------------------------------------------------


def test_simulation_computes_nothing_until_asked_and_caches_the_concentration():
    sim = simulate(one_comp(), Regimen.repeated(100, 12, n_doses=3), [0.0, 12.0, 24.0])
    assert isinstance(sim, Simulation)
    # The rate constants (one set per subject) are the front door's, from its scale check; the
    # events, states and curves wait until asked for.
    assert not {"concentration", "_events", "_states"} & set(vars(sim))
    conc = sim.concentration
    assert sim.concentration is conc
    np.testing.assert_allclose(conc[0], [5.0, 5 + 5 * math.exp(-1.2), 5 + 5 * math.exp(-1.2) + 5 * math.exp(-2.4)])


def test_simulation_prints_short():
    regimen = Regimen.repeated("1 mg", "1 h", n_doses=5000)
    sim = simulate(Model(cl=2.0, v1=20.0, name="demo"), regimen, np.arange(0, 10.0, 0.5))
    text = repr(sim)
    assert len(text) < 200 and "1 subject" in text and "20 times from 0 to 9.5 h" in text
    html = sim._repr_html_()
    assert len(html) < 3000
    assert "1 subject(s) × 20 times" in html and "0 to 9.5 h" in html
    # First rows: 0.05 mg/L at 0 h (the first 1 mg bolus in 20 L).
    assert "<td>0</td><td>0.05</td>" in html


def test_grid_method_with_per_subject_dose_times_is_refused_on_use():
    model = Model(cl=2.0, v1=20.0, ka=1.0, tlag=np.array([0.0, 0.5]))
    sim = simulate(model, Regimen.single(100, "oral"), np.arange(0, 10.0, 0.5), method="grid")
    with pytest.raises(PKModelError) as err:
        _ = sim.concentration
    assert err.value.field == "method"


def test_steady_state_dose_with_a_lag_of_millions_of_intervals_is_refused():
    regimen = Regimen((Dose(0, 100, "oral", ss=1, interval=1e-3),))
    with pytest.raises(PKModelError) as err:
        simulate(Model(cl=2.0, v1=20.0, ka=1.0, tlag=1000.0), regimen, [0.0, 1.0])
    assert err.value.field == "interval"
    with pytest.raises(PKModelError):
        events.bolus_arrival_times(regimen.doses[0], 1000.0)
