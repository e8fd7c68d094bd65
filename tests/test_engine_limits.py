"""The analytic engine at coinciding and nearly coinciding eigenvalues, and at very large times.

Textbook formulas divide by ``ka - k``, ``ka - alpha`` or ``alpha - beta``; the engine must stay
exact in those limits (design.md, "Numerical method"). References are closed forms worked by hand
below (evaluated in mpmath at 50 digits where they cancel), an mpmath matrix exponential, and the
ODE reference (at 1e-6). Every engine call runs with warnings as errors and numpy raising on
division by zero, overflow and invalid operations (underflow to zero at very large times is the
correct answer and is allowed).

Units: mg, L, h, 1/h, mg/h; compartments 0 depot, 1 central, 2 peripheral.
"""

import warnings
from contextlib import contextmanager

import mpmath
import numpy as np
import pytest

from pkmodel.engine.analytic import Events, Kinetics, evaluate
from pkmodel.engine.ode import ode_amounts

RTOL = 1e-10
ODE_RTOL = 1e-6
D = 100.0  # mg
V = 10.0  # L
TIMES = np.array([0.0, 0.01, 0.25, 1.0, 2.5, 6.0, 12.0, 24.0, 48.0])  # h
mpmath.mp.dps = 50


@contextmanager
def strict():
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def kin1(ka, k10, k12, k21):
    return Kinetics.of(np.array([ka], float), np.array([k10], float), np.array([k12], float), np.array([k21], float))


def bolus(cmt, amount=D, time=0.0):
    return Events(np.array([time]), np.array([cmt]), np.array([amount]), np.array([0.0]))


def rows_events(rows):
    t, c, a, r = (np.array(col) for col in zip(*rows))
    return Events(t.astype(float), c.astype(int), a.astype(float), r.astype(float))


def run(kin, events, times, cmt, **kw):
    """Amount (mg) in compartment ``cmt`` (or its integral) of the single subject, strictly."""
    w = np.zeros((3, 1))
    w[cmt] = 1.0
    with strict():
        out = evaluate(kin, events, np.asarray(times, float), w, **kw)
    assert out.shape == (1, len(times))
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
    return out[0]


def conc(kin, events, times, **kw):
    """Central concentration (mg/L), strictly; checked with both drivers where "grid" applies."""
    with strict():
        out = evaluate(kin, events, np.asarray(times, float), np.array([[0.0], [1.0 / V], [0.0]]), **kw)
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
    return out[0]


def close(got, expected, rtol=RTOL, atol=0.0):
    expected = np.array([float(x) for x in np.atleast_1d(expected)])
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def mp(x):
    return mpmath.mpf(float(x))


def eigen_mp(k10, k12, k21):
    """alpha >= beta in mpmath from the float rate constants."""
    k10, k12, k21 = mp(k10), mp(k12), mp(k21)
    s = k10 + k12 + k21
    root = mpmath.sqrt((k10 + k12 - k21) ** 2 + 4 * k12 * k21)
    return (s + root) / 2, (s - root) / 2


def expm_reference(ka, k10, k12, k21, cmt, amount, t):
    """Amounts (mg) after a bolus into ``cmt`` at 0: expm(K t) e_cmt * amount, in mpmath."""
    ka, k10, k12, k21 = map(mp, (ka, k10, k12, k21))
    K = mpmath.matrix([[-ka, 0, 0], [ka, -(k10 + k12), k21], [0, k12, -k21]])
    E = mpmath.expm(K * mp(t))
    return [E[i, cmt] * mp(amount) for i in range(3)]


# ================================================================= one compartment, by hand


K = 0.2  # 1/h


def one_comp_iv(t, k=K):
    """C(t) = D/V e^{-k t}."""
    return [mp(D) / mp(V) * mpmath.exp(-mp(k) * mp(x)) for x in t]


def bateman(t, ka, k=K):
    """C(t) = D ka / (V (ka - k)) (e^{-k t} - e^{-ka t}), ka != k (mpmath: no cancellation issue)."""
    ka, k = mp(ka), mp(k)
    return [mp(D) * ka / (mp(V) * (ka - k)) * (mpmath.exp(-k * mp(x)) - mpmath.exp(-ka * mp(x))) for x in t]


def confluent_bateman(t, k=K):
    """ka = k: C(t) = t ka D/V e^{-k t}."""
    return [mp(x) * mp(k) * mp(D) / mp(V) * mpmath.exp(-mp(k) * mp(x)) for x in t]


@pytest.mark.parametrize("method", ["direct", "grid"])
def test_one_compartment_iv_bolus(method):
    times = np.arange(0.0, 48.25, 0.25)
    close(conc(kin1(1.0, K, 0.0, 0.0), bolus(1), times, method=method), one_comp_iv(times))


def test_one_compartment_oral_bateman():
    kin = kin1(1.1, K, 0.0, 0.0)
    close(conc(kin, bolus(0), TIMES), bateman(TIMES, 1.1))
    close(run(kin, bolus(0), TIMES, 0), [D * mpmath.exp(-mp(1.1) * mp(x)) for x in TIMES])


@pytest.mark.parametrize("method", ["direct", "grid"])
def test_one_compartment_oral_ka_equal_k(method):
    """ka = k exactly: the Bateman function's 0/0 limit t ka D/V e^{-kt}."""
    times = np.arange(0.0, 48.25, 0.25)
    close(conc(kin1(K, K, 0.0, 0.0), bolus(0), times, method=method), confluent_bateman(times))


def test_one_compartment_oral_ka_equal_k_auc_and_left():
    """AUC of the confluent form: D/V (1 - e^{-kt} (1 + k t)) / k, and the left limit at a
    second dose is the first dose's curve."""
    kin = kin1(K, K, 0.0, 0.0)
    t = TIMES[1:]
    expected = [mp(D) / mp(V) * (1 - mpmath.exp(-mp(K) * mp(x)) * (1 + mp(K) * mp(x))) / mp(K) for x in t]
    close(conc(kin, bolus(0), t, integral=True), expected)
    ev = rows_events([(0.0, 0, D, 0.0), (6.0, 0, D, 0.0)])
    close(conc(kin, ev, [6.0], left=True), confluent_bateman([6.0]))
    close(
        conc(kin, ev, [6.0, 9.0]), [a + b for a, b in zip(confluent_bateman([6.0, 9.0]), confluent_bateman([0.0, 3.0]))]
    )


@pytest.mark.parametrize("eps", [3e-16, 1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, -1e-8, -1e-12])
def test_one_compartment_oral_ka_near_k(eps):
    """ka = k (1 + eps): the Bateman function evaluated in mpmath (50 digits absorb the
    cancellation of e^{-kt} - e^{-ka t}), continuous into the confluent form."""
    ka = K * (1.0 + eps)
    assert ka != K
    got = conc(kin1(ka, K, 0.0, 0.0), bolus(0), TIMES)
    close(got[1:], bateman(TIMES[1:], ka))
    close(got, confluent_bateman(TIMES), rtol=1e-10 + 50 * abs(eps))


@pytest.mark.parametrize("ka", [K, 0.7])
def test_one_compartment_infusion_into_central_and_depot(ka):
    """Constant rate R for T h into the central compartment: C = R/(kV) (1 - e^{-kt}) while it
    runs, then decays; the same infusion into the depot (ka = k included) matches the ODE."""
    R, T = 40.0, 3.0
    ev = rows_events([(0.0, 1, 0.0, R), (T, 1, 0.0, -R)])
    times = np.array([0.0, 0.5, T, 5.0, 24.0])
    kin = kin1(ka, K, 0.0, 0.0)
    during = lambda x: mp(R) / (mp(K) * mp(V)) * -mpmath.expm1(-mp(K) * mp(x))
    expected = [during(x) if x <= T else during(T) * mpmath.exp(-mp(K) * (mp(x) - mp(T))) for x in times]
    close(conc(kin, ev, times), expected)
    ev = rows_events([(0.0, 0, 0.0, R), (T, 0, 0.0, -R)])
    ode = ode_amounts(ka, K, 0.0, 0.0, *_arrays(ev), times)[:, 1] / V
    close(conc(kin, ev, times), ode, rtol=ODE_RTOL, atol=1e-12)


def _arrays(ev):
    return ev.time, ev.cmt, ev.amount, ev.rate


def test_k12_zero_with_k21_equal_k10_is_exactly_confluent():
    """k12 = 0 and k21 = k10 make alpha = beta = k10 exactly (zero discriminant). A bolus into
    the peripheral compartment then leaves it as Dp e^{-k21 t} and reaches the central
    compartment as Dp k21 t e^{-k10 t}; an oral dose with ka = k10 adds t ka D e^{-k10 t}."""
    kin = kin1(K, K, 0.0, K)
    # beta = k10 k21 / alpha is rounded, so it may sit an ulp away from alpha (either side).
    assert kin.alpha[0] == K and kin.beta[0] == pytest.approx(K, rel=1e-15)
    ev = rows_events([(0.0, 0, D, 0.0), (0.0, 2, 30.0, 0.0)])
    t = TIMES
    close(run(kin, ev, t, 2), [30 * mpmath.exp(-mp(K) * mp(x)) for x in t])
    expected = [(30 + mp(D)) * mp(K) * mp(x) * mpmath.exp(-mp(K) * mp(x)) for x in t]
    close(run(kin, ev, t, 1), expected)


# ================================================================= two compartments


K10, K12, K21 = 0.3, 0.4, 0.2  # 1/h: well separated alpha ~ 0.83, beta ~ 0.073


def alpha_beta(k10=K10, k12=K12, k21=K21):
    kin = kin1(1.0, k10, k12, k21)
    return float(kin.alpha[0]), float(kin.beta[0])


def two_comp_oral_generic(t, ka, k10=K10, k12=K12, k21=K21):
    """Central amount (mg) after an oral dose D, three distinct rates, in mpmath:
    ka D [ (k21-ka) e^{-ka t}/((a-ka)(b-ka)) + (k21-a) e^{-a t}/((ka-a)(b-a)) + (k21-b) e^{-b t}/((ka-b)(a-b)) ]."""
    a, b = eigen_mp(k10, k12, k21)
    ka, k21 = mp(ka), mp(k21)
    out = []
    for x in t:
        x = mp(x)
        out.append(
            ka
            * mp(D)
            * (
                (k21 - ka) * mpmath.exp(-ka * x) / ((a - ka) * (b - ka))
                + (k21 - a) * mpmath.exp(-a * x) / ((ka - a) * (b - a))
                + (k21 - b) * mpmath.exp(-b * x) / ((ka - b) * (a - b))
            )
        )
    return out


def test_two_compartment_generic_reference_agrees_with_expm():
    """The hand formulas above, checked once against the mpmath matrix exponential."""
    for x in (0.3, 5.0, 30.0):
        ref = expm_reference(1.3, K10, K12, K21, 0, D, x)[1]
        assert abs(two_comp_oral_generic([x], 1.3)[0] - ref) < mpmath.mpf(10) ** -40 * ref


def test_ka_exactly_alpha():
    """ka = alpha: A1 = ka D [t e^{-a t} + g e^{-b t} (1 - e^{-d t} (1 + d t)) / d^2] and
    A2 = ka D k12 e^{-b t} (1 - e^{-d t} (1 + d t)) / d^2, with d = a - b, g = k21 - b."""
    a_f, _ = alpha_beta()
    kin = kin1(a_f, K10, K12, K21)
    assert kin.ka[0] == kin.alpha[0]
    a, b = eigen_mp(K10, K12, K21)
    d, g, ka = a - b, mp(K21) - b, mp(a_f)
    t = TIMES[1:]
    conv3 = [mpmath.exp(-b * mp(x)) * (1 - mpmath.exp(-d * mp(x)) * (1 + d * mp(x))) / d**2 for x in t]
    a1 = [ka * mp(D) * (mp(x) * mpmath.exp(-a * mp(x)) + g * c) for x, c in zip(t, conv3)]
    a2 = [ka * mp(D) * mp(K12) * c for c in conv3]
    close(run(kin, bolus(0), t, 1), a1)
    close(run(kin, bolus(0), t, 2), a2)
    close(run(kin, bolus(0), t, 1), [expm_reference(a_f, K10, K12, K21, 0, D, x)[1] for x in t])


def test_ka_exactly_beta():
    """ka = beta: A1 = ka D [(e^{-b t} - e^{-a t}) / d + g e^{-a t} (e^{d t} (d t - 1) + 1) / d^2]."""
    _, b_f = alpha_beta()
    kin = kin1(b_f, K10, K12, K21)
    assert kin.ka[0] == kin.beta[0]
    a, b = eigen_mp(K10, K12, K21)
    d, g, ka = a - b, mp(K21) - b, mp(b_f)
    t = TIMES[1:]
    a1 = [
        ka
        * mp(D)
        * (
            (mpmath.exp(-b * mp(x)) - mpmath.exp(-a * mp(x))) / d
            + g * mpmath.exp(-a * mp(x)) * (mpmath.exp(d * mp(x)) * (d * mp(x) - 1) + 1) / d**2
        )
        for x in t
    ]
    close(run(kin, bolus(0), t, 1), a1)
    close(run(kin, bolus(0), t, 2), [expm_reference(b_f, K10, K12, K21, 0, D, x)[2] for x in t])


@pytest.mark.parametrize("which", ["alpha", "beta"])
@pytest.mark.parametrize("eps", [1e-15, 1e-12, 1e-8, -1e-8, 1e-5, 1e-2])
def test_ka_near_alpha_or_beta(which, eps):
    """ka = alpha (1 + eps) or beta (1 + eps): the generic three-exponential formula in mpmath."""
    a_f, b_f = alpha_beta()
    ka = (a_f if which == "alpha" else b_f) * (1.0 + eps)
    t = TIMES[1:]
    close(run(kin1(ka, K10, K12, K21), bolus(0), t, 1), two_comp_oral_generic(t, ka))


@pytest.mark.parametrize("which", ["alpha", "beta", "alpha(1+1e-8)"])
def test_ka_at_eigenvalue_multiple_doses_vs_ode(which):
    """Oral doses with lag, an IV infusion and a peripheral bolus at ka = alpha, beta, alpha(1+1e-8),
    both drivers, AUC and left limits, against the ODE."""
    a_f, b_f = alpha_beta()
    ka = {"alpha": a_f, "beta": b_f, "alpha(1+1e-8)": a_f * (1 + 1e-8)}[which]
    rows = [(12.0 * i + 0.5, 0, 250.0, 0.0) for i in range(6)]
    rows += [(3.0, 1, 0.0, 50.0), (40.0, 1, 0.0, -50.0), (30.0, 2, 80.0, 0.0)]
    rows.sort(key=lambda r: r[0])
    ev = rows_events(rows)
    grid = np.arange(0.0, 96.25, 0.25)
    kin = kin1(ka, K10, K12, K21)
    ode = ode_amounts(ka, K10, K12, K21, *_arrays(ev), grid)
    for cmt in range(3):
        for method in ("direct", "grid"):
            close(run(kin, ev, grid, cmt, method=method), ode[:, cmt], rtol=ODE_RTOL, atol=1e-9)
    dose_times = np.unique(ev.time)
    left = run(kin, ev, dose_times, 1, left=True)
    ode_left = [
        ode_amounts(ka, K10, K12, K21, *(x[ev.time < td] for x in _arrays(ev)), [td])[0, 1] for td in dose_times[1:]
    ]
    close(left[1:], ode_left, rtol=ODE_RTOL, atol=1e-9)
    # Mass balance with the exact AUC: everything given = amounts + k10 AUC(central).
    t_end = np.array([96.0])
    given = 6 * 250.0 + 80.0 + 50.0 * 37.0
    total = sum(run(kin, ev, t_end, c)[0] for c in range(3)) + K10 * run(kin, ev, t_end, 1, integral=True)[0]
    assert total == pytest.approx(given, rel=1e-12)


# ---------------------------------------------------------------- alpha ~ beta


@pytest.mark.parametrize("product", [1e-20, 1e-30, 1e-200])
def test_alpha_nearly_equal_beta_iv_bolus(product):
    """k10 + k12 = k21 and k12 k21 = product (tiny discriminant (a-b)^2 = 4 k12 k21):
    A1 = D e^{-c t} cosh(s t), A2 = D k12 e^{-c t} sinh(s t)/s, c = (k10+k12+k21)/2, s = sqrt(k12 k21)."""
    k21 = 0.4
    k12 = product / k21
    k10 = k21 - k12  # = 0.4 in floating point; the residue is below every tolerance here
    kin = kin1(1.0, k10, k12, k21)
    assert abs(kin.alpha[0] - kin.beta[0]) < 1e-9  # to rounding: beta = k10 k21 / alpha
    s = mpmath.sqrt(mp(k12) * mp(k21))
    c = (mp(k10) + mp(k12) + mp(k21)) / 2
    t = TIMES
    close(run(kin, bolus(1), t, 1), [mp(D) * mpmath.exp(-c * mp(x)) * mpmath.cosh(s * mp(x)) for x in t])
    a2 = [mp(D) * mp(k12) * mpmath.exp(-c * mp(x)) * (mpmath.sinh(s * mp(x)) / s if x else 0) for x in t]
    close(run(kin, bolus(1), t, 2), a2)
    # A peripheral bolus: A1 = Dp k21 e^{-c t} sinh(s t)/s, A2 = Dp e^{-c t} cosh(s t).
    a1 = [30 * mp(k21) * mpmath.exp(-c * mp(x)) * (mpmath.sinh(s * mp(x)) / s if x else 0) for x in t]
    close(run(kin, bolus(2, 30.0), t, 1), a1)
    close(run(kin, bolus(2, 30.0), t, 2), [30 * mpmath.exp(-c * mp(x)) * mpmath.cosh(s * mp(x)) for x in t])


@pytest.mark.parametrize("product", [1e-20, 1e-200])
def test_alpha_nearly_equal_beta_and_ka_equal_too(product):
    """ka = c = (alpha + beta)/2 as well (three nearly coinciding rates):
    A1 = ka D e^{-c t} sinh(s t)/s, by convolving ka e^{-ka t} with e^{-c t} cosh(s t)."""
    k21 = 0.4
    k12 = product / k21
    k10 = k21 - k12
    ka = 0.4
    kin = kin1(ka, k10, k12, k21)
    s = mpmath.sqrt(mp(k12) * mp(k21))
    c = (mp(k10) + mp(k12) + mp(k21)) / 2
    t = TIMES[1:]
    close(run(kin, bolus(0), t, 1), [mp(ka) * mp(D) * mpmath.exp(-c * mp(x)) * mpmath.sinh(s * mp(x)) / s for x in t])


def test_alpha_nearly_equal_beta_regimen_vs_ode():
    k21 = 0.4
    k12 = 1e-20 / k21
    k10 = k21 - k12
    for ka in (0.4, 1.5):
        rows = sorted(
            [(8.0 * i, 0, 100.0, 0.0) for i in range(5)]
            + [(2.0, 1, 0.0, 30.0), (20.0, 1, 0.0, -30.0), (10.0, 2, 40.0, 0.0)],
            key=lambda r: r[0],
        )
        ev = rows_events(rows)
        grid = np.arange(0.0, 60.25, 0.25)
        ode = ode_amounts(ka, k10, k12, k21, *_arrays(ev), grid)
        kin = kin1(ka, k10, k12, k21)
        for cmt in range(3):
            for method in ("direct", "grid"):
                close(run(kin, ev, grid, cmt, method=method), ode[:, cmt], rtol=ODE_RTOL, atol=1e-9)


# ---------------------------------------------------------------- Q -> 0


@pytest.mark.parametrize("q", [1e-12, 1e-14, 1e-300])
def test_vanishing_intercompartmental_clearance_is_one_compartment(q):
    """k12 = k21 = q -> 0: the one-compartment closed forms (the true difference is of order
    q t, below 1e-10 relative up to 48 h), and a peripheral amount of about D q (1 - e^{-kt})/k."""
    kin = kin1(1.1, K, q, q)
    t = TIMES
    close(conc(kin, bolus(1), t), one_comp_iv(t))
    close(conc(kin, bolus(0), t), bateman(t, 1.1))
    close(conc(kin1(K, K, q, q), bolus(0), t), confluent_bateman(t))
    a2 = run(kin, bolus(1), t, 2)
    close(a2[1:], [mp(D) * mp(q) * -mpmath.expm1(-mp(K) * mp(x)) / mp(K) for x in t[1:]], rtol=1e-9)
    # Infusion: R/(kV) (1 - e^{-kt}).
    ev = rows_events([(0.0, 1, 0.0, 20.0), (100.0, 1, 0.0, -20.0)])
    close(conc(kin, ev, t), [mp(20) / (mp(K) * mp(V)) * -mpmath.expm1(-mp(K) * mp(x)) for x in t])


# ================================================================= very large times


@pytest.mark.parametrize(
    "params",
    [
        (1.0, 0.05, 0.0, 0.0),  # one compartment: e^{-500}, tiny but representable
        (0.05, 0.01, 0.5, 0.05),  # slow beta
        (5.0, 1.0, 1.0, 0.01),  # everything underflows to 0 except through beta
        (5.0, 1.0, 0.0, 0.0),  # underflows to exactly 0
        (1.0, 1.0, 0.0, 0.0),  # ka = k at large t
    ],
)
@pytest.mark.parametrize("method", ["direct", "grid"])
def test_very_large_times_are_finite_and_tiny(params, method):
    ka, k10, k12, _ = params
    kin = kin1(*params)
    rows = sorted(
        [(24.0 * i, 0, 100.0, 0.0) for i in range(3)]
        + [(0.0, 1, 50.0, 0.0), (1.0, 1, 0.0, 10.0), (5.0, 1, 0.0, -10.0)],
        key=lambda r: r[0],
    )
    ev = rows_events(rows)
    times = np.linspace(0.0, 1e4, 401)
    for cmt in range(3):
        out = run(kin, ev, times, cmt, method=method)
        assert out[-1] <= out.max() * 1e-3 or out.max() == 0.0
    central = run(kin, ev, times, 1, method=method)
    if k12 == 0:  # one compartment: the last dose's terms, by hand (all doses are long past)
        t = mp(1e4)
        last = [
            mp(100)
            * mp(ka)
            / (mp(ka) - mp(k10))
            * (mpmath.exp(-mp(k10) * (t - 24 * i)) - mpmath.exp(-mp(ka) * (t - 24 * i)))
            if ka != k10
            else mp(100) * mp(ka) * (t - 24 * i) * mpmath.exp(-mp(k10) * (t - 24 * i))
            for i in range(3)
        ]
        iv = mp(50) * mpmath.exp(-mp(k10) * t)
        inf = mp(10) / mp(k10) * (mpmath.exp(-mp(k10) * (t - 5)) - mpmath.exp(-mp(k10) * (t - 1)))
        expected = float(sum(last) + iv + inf)
        if expected > 1e-290:
            assert central[-1] == pytest.approx(expected, rel=1e-9)
        else:
            assert central[-1] < 1e-290
    # By 1e4 h everything given has been eliminated: k10 AUC(central) = 3 x 100 + 50 + 10 x 4 = 390 mg.
    auc = run(kin, ev, [1e4, 1e5], 1, integral=True)
    if k10 * 1e4 > 50 and (k12 == 0 or run(kin, ev, [1e4], 1)[0] < 1e-12):
        assert auc * k10 == pytest.approx([390.0, 390.0], rel=1e-10)


def test_huge_single_time_and_left_limit():
    kin = kin1(0.5, 0.1, 0.3, 0.2)
    ev = rows_events([(0.0, 0, 100.0, 0.0), (1e4, 1, 10.0, 0.0)])
    out = run(kin, ev, [1e4, 2e4, 1e6], 1)
    assert out[0] == pytest.approx(10.0, rel=1e-12)  # the earlier dose has long gone
    assert 0.0 <= out[2] < out[1] < 1e-100 or out[1] == 0.0
    assert run(kin, ev, [1e4], 1, left=True)[0] < 1e-20


# ================================================================= no doses at all


def test_no_events_give_zeros():
    """A subject without doses (regression: evaluate() used to raise IndexError on zero events)."""
    ev = Events(np.zeros(0), np.zeros(0, int), np.zeros(0), np.zeros(0))
    for kw in ({"method": "direct"}, {"method": "grid"}, {"integral": True}, {"left": True}):
        times = np.arange(0.0, 10.0, 0.5) if kw.get("method") == "grid" else TIMES
        assert np.all(run(kin1(1.0, K10, K12, K21), ev, times, 1, **kw) == 0.0)


def test_outputs_before_the_first_dose_are_zero():
    ev = bolus(0, time=10.0)
    for method in ("direct", "grid"):
        out = run(kin1(1.0, K10, K12, K21), ev, np.arange(0.0, 20.0, 0.5), 1, method=method)
        assert np.all(out[:21] == 0.0) and np.all(out[21:] > 0.0)


def test_degenerate_and_regular_subjects_in_one_call():
    """Subjects at every limit above, side by side in one vectorised call, each equal to its own
    call (the coinciding-point branches are chosen element by element)."""
    a_f, b_f = alpha_beta()
    params = [
        (1.3, K10, K12, K21),
        (a_f, K10, K12, K21),
        (b_f, K10, K12, K21),
        (a_f * (1 + 1e-8), K10, K12, K21),
        (0.4, 0.4, 2.5e-20, 0.4),
        (1.1, K, 1e-12, 1e-12),
        (K, K, 0.0, 0.0),
        (K, K, 0.0, K),
        (1.1, K, 0.0, 0.0),
    ]
    kin = Kinetics.of(*(np.array(col) for col in zip(*params)))
    rows = [(0.0, 0, D, 0.0), (1.0, 1, 0.0, 20.0), (3.0, 1, 0.0, -20.0), (5.0, 2, 30.0, 0.0), (12.0, 0, D, 0.0)]
    ev = rows_events(rows)
    n = len(params)
    w = np.stack([np.full(n, 0.5), np.full(n, 1.0 / V), np.full(n, 2.0)])
    grid = np.arange(0.0, 48.0, 0.25)
    for times, kw in ((grid, {"method": "direct"}), (grid, {"method": "grid"}), (TIMES, {"integral": True})):
        with strict():
            together = evaluate(kin, ev, times, w, **kw)
        for s, p in enumerate(params):
            with strict():
                alone = evaluate(kin1(*p), ev, times, w[:, s : s + 1], **kw)[0]
            np.testing.assert_allclose(together[s], alone, rtol=1e-13, atol=0.0)
