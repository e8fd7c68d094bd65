"""Checks of the ODE reference (pkmodel.engine.ode) against textbook closed forms worked by hand.

Units throughout: mg, h, 1/h, mg/h, mg*h. Compartments: 0 depot, 1 central, 2 peripheral.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel.engine.ode import ode_amounts, ode_central_auc

RTOL = 1e-8
METHODS = ["LSODA", "Radau"]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0.0)


def events(*rows):
    """(time, cmt, amount, rate) rows -> the four event arrays."""
    t, c, a, r = zip(*rows)
    return np.array(t, float), np.array(c, int), np.array(a, float), np.array(r, float)


# ---------------------------------------------------------------- one compartment, IV bolus

@pytest.mark.parametrize("method", METHODS)
def test_one_comp_iv_bolus_amount_and_auc(method):
    D, k10 = 100.0, 0.173
    t = np.array([0.0, 0.25, 1.0, 3.0, 7.5, 12.0, 24.0])
    ev = events((0.0, 1, D, 0.0))
    a = ode_amounts(0.0, k10, 0.0, 0.0, *ev, t, method=method)
    close(a[:, 1], D * np.exp(-k10 * t))
    assert np.all(a[:, 0] == 0.0) and np.all(a[:, 2] == 0.0)
    auc = ode_central_auc(0.0, k10, 0.0, 0.0, *ev, t, method=method)
    assert auc[0] == 0.0
    close(auc[1:], D / k10 * (1.0 - np.exp(-k10 * t[1:])))


# ---------------------------------------------------------------- one compartment, infusion

@pytest.mark.parametrize("method", METHODS)
def test_one_comp_infusion_during_and_after(method):
    R, T, k10 = 50.0, 2.0, 0.3
    ev = events((0.0, 1, 0.0, R), (T, 1, 0.0, -R))
    t = np.array([0.0, 0.5, 1.0, T, 2.5, 6.0, 15.0])  # includes the end of infusion exactly
    a1 = ode_amounts(0.0, k10, 0.0, 0.0, *ev, t, method=method)[:, 1]
    during = lambda s: R / k10 * (1.0 - np.exp(-k10 * s))
    expected = np.where(t <= T, during(t), during(T) * np.exp(-k10 * (t - T)))
    assert a1[0] == 0.0
    close(a1[1:], expected[1:])


@pytest.mark.parametrize("method", METHODS)
def test_one_comp_infusion_auc(method):
    R, T, k10 = 50.0, 2.0, 0.3
    ev = events((0.0, 1, 0.0, R), (T, 1, 0.0, -R))
    t = np.array([0.5, T, 5.0, 20.0])
    auc = ode_central_auc(0.0, k10, 0.0, 0.0, *ev, t, method=method)
    # Integral of R/k10 (1 - e^{-k10 s}) ds up to min(t, T), plus the decaying tail after T.
    auc_during = lambda s: R / k10 * (s - (1.0 - np.exp(-k10 * s)) / k10)
    a1_T = R / k10 * (1.0 - np.exp(-k10 * T))
    expected = np.where(t <= T, auc_during(t),
                        auc_during(T) + a1_T / k10 * (1.0 - np.exp(-k10 * (t - T))))
    close(auc, expected)


# ---------------------------------------------------------------- one compartment, oral

@pytest.mark.parametrize("method", METHODS)
def test_one_comp_oral_bateman(method):
    D, ka, k10 = 250.0, 1.3, 0.21
    t = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0])
    a = ode_amounts(ka, k10, 0.0, 0.0, *events((0.0, 0, D, 0.0)), t, method=method)
    # Late depot amounts (< 1e-4 of the dose) sit at the solver's absolute tolerance, not rtol.
    early = t <= 4.0
    close(a[early, 0], D * np.exp(-ka * t[early]))
    assert a[0, 1] == 0.0
    close(a[1:, 1], D * ka / (ka - k10) * (np.exp(-k10 * t[1:]) - np.exp(-ka * t[1:])))


# ---------------------------------------------------------------- two compartments, IV bolus

@pytest.mark.parametrize("method", METHODS)
def test_two_comp_iv_bolus_biexponential(method):
    D, k10, k12, k21 = 100.0, 0.25, 0.6, 0.15
    # alpha, beta: roots of lambda^2 - (k10 + k12 + k21) lambda + k10 k21 = 0.
    s, p = k10 + k12 + k21, k10 * k21
    alpha = (s + np.sqrt(s * s - 4.0 * p)) / 2.0
    beta = (s - np.sqrt(s * s - 4.0 * p)) / 2.0
    t = np.array([0.0, 0.2, 1.0, 3.0, 6.0, 12.0, 24.0, 48.0])
    a = ode_amounts(0.0, k10, k12, k21, *events((0.0, 1, D, 0.0)), t, method=method)
    a1 = D * ((alpha - k21) * np.exp(-alpha * t) + (k21 - beta) * np.exp(-beta * t)) / (alpha - beta)
    a2 = D * k12 * (np.exp(-beta * t) - np.exp(-alpha * t)) / (alpha - beta)
    close(a[:, 1], a1)
    assert a[0, 2] == 0.0
    close(a[1:, 2], a2[1:])


# ---------------------------------------------------------------- multiple doses

@pytest.mark.parametrize("method", METHODS)
def test_multiple_bolus_superposition_and_right_continuity(method):
    k10 = 0.1
    doses = [(0.0, 100.0), (12.0, 60.0), (24.0, 80.0)]
    # The 24 h dose is split into two events at the same time; a zero-amount event is a no-op.
    ev = events((0.0, 1, 100.0, 0.0), (12.0, 1, 60.0, 0.0), (18.0, 1, 0.0, 0.0),
                (24.0, 1, 30.0, 0.0), (24.0, 1, 50.0, 0.0))
    t = np.array([0.0, 6.0, 12.0, 12.0, 18.0, 23.999, 24.0, 30.0, 48.0])
    a1 = ode_amounts(0.0, k10, 0.0, 0.0, *ev, t, method=method)[:, 1]
    expected = sum(np.where(t >= td, D * np.exp(-k10 * np.clip(t - td, 0.0, None)), 0.0)
                   for td, D in doses)
    close(a1, expected)
    # Right-continuity: the value at 12 h includes the 12 h dose (about 30.1 + 60 mg).
    assert a1[2] > 60.0 + 100.0 * np.exp(-k10 * 12.0) - 1e-6


@pytest.mark.parametrize("method", METHODS)
def test_multiple_oral_doses_superposition(method):
    ka, k10 = 0.9, 0.12
    ev = events((0.0, 0, 200.0, 0.0), (8.0, 0, 200.0, 0.0), (16.0, 0, 200.0, 0.0))
    t = np.array([1.0, 8.0, 9.0, 16.0, 20.0, 40.0])
    a1 = ode_amounts(ka, k10, 0.0, 0.0, *ev, t, method=method)[:, 1]
    bateman = lambda s: np.where(s > 0, 200.0 * ka / (ka - k10)
                                 * (np.exp(-k10 * s) - np.exp(-ka * s)), 0.0)
    close(a1, sum(bateman(t - td) for td in (0.0, 8.0, 16.0)))


def test_outputs_before_first_event_and_initial_state():
    k10 = 0.2
    t = np.array([0.0, 1.0, 3.0, 5.0])
    a = ode_amounts(0.0, k10, 0.0, 0.0, *events((3.0, 1, 10.0, 0.0)), t)
    assert np.all(a[:2] == 0.0)
    close(a[2:, 1], 10.0 * np.exp(-k10 * (t[2:] - 3.0)))
    # A nonzero initial state (given at t = 0) is propagated, then the later dose superposes.
    a = ode_amounts(0.0, k10, 0.0, 0.0, *events((3.0, 1, 10.0, 0.0)), t, initial=[0.0, 40.0, 0.0])
    close(a[:, 1], 40.0 * np.exp(-k10 * t) + np.where(t >= 3.0, 10.0 * np.exp(-k10 * (t - 3.0)), 0.0))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("t0, width", [(0.0, 5e-324), (0.0, 1e-300), (1.0, 2.2e-16), (48.0, 1e-14)])
def test_sliver_infusion_between_close_events(method, t0, width):
    # A piece far too short for the solver must neither hang nor fail; it adds R * width mg.
    D, R, k10 = 100.0, 10.0, 0.2
    ev = events((t0, 1, D, R), (t0 + width, 1, 0.0, -R))
    t = t0 + np.array([0.0, 1.0, 6.0])
    a1 = ode_amounts(0.0, k10, 0.0, 0.0, *ev, t, method=method)[:, 1]
    close(a1, D * np.exp(-k10 * (t - t0)))


def test_empty_outputs():
    assert ode_amounts(1.0, 0.1, 0.0, 0.0, *events((0.0, 0, 1.0, 0.0)), []).shape == (0, 3)
    assert ode_central_auc(1.0, 0.1, 0.0, 0.0, *events((0.0, 0, 1.0, 0.0)), []).shape == (0,)


# ---------------------------------------------------------------- mass balance

def dosed_so_far(ev, t):
    """Bolus amounts with time <= t plus the integral of the piecewise-constant rates up to t."""
    et, _, ea, er = ev
    past = et[None, :] <= t[:, None]
    return (past * ea).sum(1) + (past * er * (t[:, None] - et[None, :])).sum(1)


def check_mass_balance(ka, k10, k12, k21, ev, t, method="LSODA"):
    a = ode_amounts(ka, k10, k12, k21, *ev, t, method=method)
    auc = ode_central_auc(ka, k10, k12, k21, *ev, t, method=method)
    close(a.sum(1) + k10 * auc, dosed_so_far(ev, t))


@pytest.mark.parametrize("method", METHODS)
def test_mass_balance_mixed_regimen(method):
    # Oral bolus, IV infusion, a depot (zero-order) infusion and an IV bolus, overlapping.
    ev = events((0.0, 0, 300.0, 0.0), (1.0, 1, 0.0, 40.0), (2.0, 0, 0.0, 25.0),
                (3.0, 1, 0.0, -40.0), (3.0, 1, 50.0, 0.0), (6.0, 0, 0.0, -25.0),
                (6.0, 2, 20.0, 0.0))
    t = np.array([0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0, 30.0])
    check_mass_balance(1.1, 0.15, 0.4, 0.2, ev, t, method)


@settings(max_examples=40, deadline=None)
@given(ka=st.floats(0.05, 5.0), k10=st.floats(0.01, 2.0), k12=st.floats(0.0, 2.0),
       k21=st.floats(0.01, 2.0),
       doses=st.lists(st.tuples(st.floats(0.0, 48.0), st.integers(0, 2),
                                st.just(0.0) | st.floats(1.0, 500.0),
                                st.just(0.0) | st.floats(0.5, 100.0),
                                st.just(0.0) | st.floats(0.1, 12.0)),
                      min_size=1, max_size=5))
def test_mass_balance_random_regimens(ka, k10, k12, k21, doses):
    # Doses are 0 or at least 1 mg: subnormal doses would only test the solver's atol.
    rows = []
    for start, cmt, amount, rate, duration in doses:
        rows.append((start, cmt, amount, rate))
        rows.append((start + duration, cmt, 0.0, -rate))
    rows.sort(key=lambda r: r[0])
    ev = events(*rows)
    t = np.unique(np.concatenate([ev[0], np.linspace(0.0, 72.0, 13)]))
    check_mass_balance(ka, k10, k12, k21, ev, t)
