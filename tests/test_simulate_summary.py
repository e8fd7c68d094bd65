"""summary()'s peak search, AUCs and t90ss against references worked independently of the engine:
hand closed forms, scipy's bounded minimiser and root finder on those closed forms (here in the
test only; the package uses no optimiser), and the solve_ivp reference of pkmodel.engine.ode.

The peaks are put between grid points on purpose (coarse grids), next to infusion ends that
fall between grid points, behind per-subject lag times and at steady state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from pkmodel import Model, Regimen, simulate
from pkmodel.dosing.dose import Dose
from pkmodel.engine.ode import ode_central_auc

K, V = 0.1, 20.0


def bateman(t, dose, ka, k, v, f=1.0):
    """One-compartment oral single dose (mg/L); 0 before the dose."""
    t = np.asarray(t, dtype=float)
    c = f * dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))
    return np.where(t >= 0, c, 0.0)


def true_peak(curve, lo, hi):
    """Maximum of a smooth ``curve`` on [lo, hi] by scipy's bounded minimiser (reference only)."""
    res = minimize_scalar(lambda t: -curve(t), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return -res.fun, res.x


def test_population_peaks_behind_per_subject_lags_between_grid_points():
    rng = np.random.default_rng(11)
    n = 30
    ka, lag = 1.4, rng.uniform(0.05, 2.5, n)
    model = Model(cl=K * V, v1=V, ka=ka, f=0.9, tlag=lag)
    times = np.arange(0.0, 36.0, 1.7)  # tmax (1.87 h after the lag) is never on it
    s = simulate(model, Regimen.single(300.0, "oral"), times).summary()
    t_peak = math.log(ka / K) / (ka - K)
    expected_c = float(bateman(t_peak, 300.0, ka, K, V, 0.9))
    np.testing.assert_allclose(s.cmax_mg_L, expected_c, rtol=1e-12)
    np.testing.assert_allclose(s.tmax_h, lag + t_peak, rtol=1e-9)


def test_repeated_oral_two_compartment_peak_matches_a_bounded_minimiser():
    m = Model(cl=5.0, v1=20.0, q=8.0, v2=50.0, ka=1.1, f=0.7, tlag=0.3)
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=6, route="oral")
    sim = simulate(m, regimen, np.arange(0.0, 96.0, 2.3))
    s = sim.summary().iloc[0]
    # The reference: the ODE-free closed form by superposition of the biexponential oral response.
    alpha, beta = m.alpha, m.beta
    k21 = m.q / m.v2

    def conc(t):
        total = 0.0
        for d in range(6):
            u = t - 12.0 * d - 0.3
            if u > 0:
                terms = [(alpha, (k21 - alpha) / ((1.1 - alpha) * (beta - alpha))),
                         (beta, (k21 - beta) / ((1.1 - beta) * (alpha - beta))),
                         (1.1, (k21 - 1.1) / ((alpha - 1.1) * (beta - 1.1)))]  # fmt: skip
                total += 0.7 * 500.0 * 1.1 / 20.0 * sum(c * math.exp(-lam * u) for lam, c in terms)
        return total

    dense = np.arange(60.0, 62.5, 0.001)
    guess = dense[np.argmax([conc(t) for t in dense])]
    cmax, tmax = true_peak(conc, guess - 0.01, guess + 0.01)
    assert s.cmax_mg_L == pytest.approx(cmax, rel=1e-10)
    assert s.tmax_h == pytest.approx(tmax, abs=1e-5)
    assert s.tmax_h not in sim.times


def test_infusions_longer_than_the_interval_peak_at_an_infusion_end_between_grid_points():
    # 29 h infusions every 12 h: up to three run at once; the concentration peaks where the last
    # one stops (t = 60 + 29 h), a kink that no grid point here touches.
    rate, length, tau, n = 20.0, 29.0, 12.0, 6
    sim = simulate(Model(cl=K * V, v1=V), Regimen.repeated(rate * length, tau, n_doses=n, duration=length),
                   np.arange(0.0, 150.0, 0.7))  # fmt: skip

    def conc(t):
        total = 0.0
        for i in range(n):
            start = i * tau
            if t > start:
                during = min(t - start, length)
                total += rate / (K * V) * (1 - math.exp(-K * during)) * math.exp(-K * (t - start - during))
        return total

    s = sim.summary().iloc[0]
    ends = [i * tau + length for i in range(n)]
    expected_t = max(ends, key=conc)
    assert s.tmax_h == expected_t and expected_t not in sim.times
    assert s.cmax_mg_L == pytest.approx(conc(expected_t), rel=1e-12)


def test_bolus_between_grid_points_is_the_peak():
    sim = simulate(Model(cl=K * V, v1=V), Regimen(tuple(Dose(time=t, amount=100.0) for t in (0.3, 12.3))),
                   np.arange(0.0, 24.0, 1.0))  # fmt: skip
    s = sim.summary().iloc[0]
    assert s.tmax_h == 12.3
    assert s.cmax_mg_L == pytest.approx(5.0 + 5.0 * math.exp(-K * 12.0), rel=1e-14)


def test_steady_state_dose_peak_and_trough_match_the_hand_closed_form():
    ka, f, dose, tau = 0.9, 0.8, 400.0, 12.0
    ss = Dose(time=0.0, amount=dose, route="oral", ss=1, interval=tau)
    regimen = Regimen((ss, *(Dose(time=tau * k, amount=dose, route="oral") for k in range(1, 4))))
    sim = simulate(Model(cl=K * V, v1=V, ka=ka, f=f), regimen, np.arange(0.0, 48.0, 0.9))
    s = sim.summary().iloc[0]
    rk, ra = math.exp(-K * tau), math.exp(-ka * tau)
    t_ss = math.log(ka * (1 - rk) / (K * (1 - ra))) / (ka - K)
    c_ss = f * dose * ka / (V * (ka - K)) * (math.exp(-K * t_ss) / (1 - rk) - math.exp(-ka * t_ss) / (1 - ra))
    assert s.cmax_mg_L == pytest.approx(c_ss, rel=1e-11)
    assert s.tmax_h % tau == pytest.approx(t_ss, abs=1e-8)
    trough = f * dose * ka / (V * (ka - K)) * (rk / (1 - rk) - ra / (1 - ra))
    assert s.cmin_mg_L == pytest.approx(trough, rel=1e-11)
    # Every period at steady state has the AUC F·dose/CL.
    assert sim.auc(12.0, 24.0)[0] == pytest.approx(f * dose / (K * V), rel=1e-12)


def test_aucs_match_the_ode_reference_with_lags_and_per_subject_events():
    m = Model(cl=np.array([4.0, 6.5]), v1=20.0, q=8.0, v2=50.0, ka=1.1, f=0.7, tlag=np.array([0.4, 1.3]))
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=5, route="oral")
    times = np.arange(0.0, 90.0, 0.5)
    s = simulate(m, regimen, times).summary()
    for i, (cl, lag) in enumerate(((4.0, 0.4), (6.5, 1.3))):
        dose_t = 12.0 * np.arange(5) + lag
        k10, k12, k21 = cl / 20.0, 8.0 / 20.0, 8.0 / 50.0
        auc = ode_central_auc(1.1, k10, k12, k21, dose_t, np.zeros(5, dtype=int), np.full(5, 350.0), np.zeros(5),
                              np.array([0.0, 48.0, 60.0, 89.5]))  # fmt: skip
        assert s.auc_mg_h_L[i] == pytest.approx((auc[3] - auc[0]) / 20.0, rel=1e-8)
        assert s.auc_tau_mg_h_L[i] == pytest.approx((auc[2] - auc[1]) / 20.0, rel=1e-8)


def test_t90ss_of_an_oral_dose_solves_the_bateman_integral():
    ka = 0.7
    s = simulate(Model(cl=K * V, v1=V, ka=ka), Regimen.repeated(100, 12, n_doses=10, route="oral")).summary()

    def fraction(t):  # AUC(0, t) / AUC(0, inf) of one Bateman dose
        return 1 - (ka * math.exp(-K * t) - K * math.exp(-ka * t)) / (ka - K)

    expected = brentq(lambda t: fraction(t) - 0.9, 0.0, 500.0, xtol=1e-14)
    assert s.t90ss_h.iloc[0] == pytest.approx(expected, rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    ka=st.floats(0.2, 5.0),
    k=st.floats(0.01, 0.5),
    step=st.floats(0.3, 3.0),
    lag=st.floats(0.0, 3.0),
)
def test_peak_is_exact_for_any_coarse_grid(ka, k, step, lag):
    if abs(ka - k) < 1e-3:
        return  # the hand formula divides by ka - k; the engine's coinciding limit is tested elsewhere
    s = simulate(Model(cl=k * V, v1=V, ka=ka, tlag=lag), Regimen.single(100.0, "oral"),
                 np.arange(0.0, 60.0, step)).summary().iloc[0]  # fmt: skip
    t_peak = math.log(ka / k) / (ka - k)
    peak = float(bateman(t_peak, 100.0, ka, k, V))
    grid = bateman(np.arange(0.0, 60.0, step) - lag, 100.0, ka, k, V)
    # The reported peak is the true one whenever the grid brackets it as a local maximum, and
    # never below the grid's own maximum or above the true peak.
    assert float(grid.max()) * (1 - 1e-13) <= s.cmax_mg_L <= peak * (1 + 1e-12)
    i = int(np.argmax(grid))
    if 0 < i < len(grid) - 1:
        assert s.cmax_mg_L == pytest.approx(peak, rel=1e-12)
        assert s.tmax_h == pytest.approx(lag + t_peak, rel=1e-8, abs=1e-8)
