"""Analytic engine (pkmodel.engine.analytic) against the independent ODE reference (engine.ode).

Each case draws rate constants (1/h), a central volume V1 (L) and a multiple-dose regimen of at
least 28 doses from a seeded numpy Generator, then compares amounts (expressed as mg/L, i.e.
divided by V1), central AUC (mg.h/L) and left limits at dose times with ``solve_ivp`` at
rtol 1e-10, atol 1e-12 mg. Acceptance: |analytic - ode| <= 1e-6 |ode| + 1e-9 (mg/L or mg.h/L).

Compartments: 0 depot, 1 central, 2 peripheral. Event rows are (time h, cmt, amount mg,
rate change mg/h); an infusion is +r at its start and -r at its end. A lag time shifts the
dose's event time.
"""

from dataclasses import dataclass

import numpy as np
import pytest

from pkmodel.engine.analytic import Events, Kinetics, evaluate
from pkmodel.engine.ode import ode_amounts, ode_central_auc

RTOL = 1e-6
ATOL = 1e-9  # mg/L (or mg.h/L for AUC)

KINDS = ("iv_bolus", "infusion", "oral_lag", "mixed", "peripheral", "irregular")
SEEDS = range(24)  # 4 cases of each kind


@dataclass
class Case:
    kind: str
    ka: np.ndarray
    k10: np.ndarray
    k12: np.ndarray
    k21: np.ndarray
    v1: np.ndarray
    rows: list  # per subject: sorted list of (time, cmt, amount, rate)
    shared: bool  # all subjects have the same event list
    grid: np.ndarray | None  # uniform output grid (contains the dose times when possible)
    times: np.ndarray  # non-uniform outputs: random times, every event time, tiny offsets

    @property
    def n(self):
        return len(self.k10)

    @property
    def kinetics(self):
        return Kinetics.of(self.ka, self.k10, self.k12, self.k21)

    @property
    def events(self):
        arr = np.array(self.rows, dtype=float)  # (n_subjects, n_events, 4)
        if self.shared:
            arr = arr[0]
        t, c, a, r = np.moveaxis(arr, -1, 0)
        return Events(t, c.astype(int), a, r)

    def event_arrays(self, s):
        t, c, a, r = (np.array(col) for col in zip(*self.rows[s]))
        return t.astype(float), c.astype(int), a.astype(float), r.astype(float)


def _log_uniform(rng, lo, hi, size):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _infusion(rows, start, cmt, amount, duration):
    rate = amount / duration
    rows.append((start, cmt, 0.0, rate))
    rows.append((start + duration, cmt, 0.0, -rate))


def _regimen(kind, rng, lag):
    """Event rows of one subject (unsorted) and the dosing interval (h)."""
    tau = float(rng.choice([6.0, 8.0, 12.0, 24.0]))
    n_doses = int(rng.integers(28, 36))
    rows = []
    if kind == "iv_bolus":
        for i in range(n_doses):
            rows.append((i * tau, 1, float(rng.uniform(50.0, 1000.0)), 0.0))
    elif kind == "infusion":
        # Durations from a quarter of the interval to 2.5 intervals: most infusions overlap the
        # next one, several end exactly at the next start, and one extra overlaps them all.
        for i in range(n_doses):
            duration = float(rng.choice([0.25 * tau, tau, 1.5 * tau, 2.5 * tau, rng.uniform(0.1, 2.0 * tau)]))
            _infusion(rows, i * tau, 1, float(rng.uniform(100.0, 800.0)), duration)
        _infusion(rows, 0.5 * tau, 1, 2000.0, 10.0 * tau)
    elif kind == "oral_lag":
        for i in range(n_doses):
            rows.append((i * tau + lag, 0, float(rng.uniform(100.0, 600.0)), 0.0))
    elif kind == "mixed":
        # IV loading bolus and a 1 h loading infusion, then oral doses with lag, a few IV
        # infusions longer than the interval, a zero-order input into the depot and IV boluses.
        rows.append((0.0, 1, 500.0, 0.0))
        _infusion(rows, 0.0, 1, 300.0, 1.0)
        for i in range(1, n_doses + 1):
            rows.append((i * tau + lag, 0, float(rng.uniform(100.0, 400.0)), 0.0))
            if i % 5 == 0:
                _infusion(rows, i * tau, 1, 200.0, 1.7 * tau)
            if i % 7 == 3:
                rows.append((i * tau, 1, 150.0, 0.0))
        _infusion(rows, 2.0 * tau, 0, 400.0, 4.5 * tau)
    elif kind == "peripheral":
        for i in range(n_doses):
            rows.append((i * tau, 2, float(rng.uniform(50.0, 500.0)), 0.0))
            if i % 3 == 0:
                rows.append((i * tau, 1, 100.0, 0.0))  # same time, other compartment
        _infusion(rows, 3.0 * tau, 2, 300.0, 2.0 * tau)
    elif kind == "irregular":
        # Random times (not on any grid), every route, duplicated event times.
        times = np.sort(rng.uniform(0.0, n_doses * tau, n_doses))
        times[5] = times[4]
        for i, t in enumerate(times):
            route = i % 4
            if route == 0:
                rows.append((float(t), 1, float(rng.uniform(10.0, 500.0)), 0.0))
            elif route == 1:
                rows.append((float(t) + lag, 0, float(rng.uniform(10.0, 500.0)), 0.0))
            elif route == 2:
                _infusion(rows, float(t), 1, float(rng.uniform(10.0, 500.0)), float(rng.uniform(0.05, 3.0 * tau)))
            else:
                rows.append((float(t), 2, float(rng.uniform(10.0, 200.0)), 0.0))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return rows, tau, n_doses


def make_case(seed):
    rng = np.random.default_rng(20240 + seed)
    kind = KINDS[seed % len(KINDS)]
    block = seed // len(KINDS)  # 0..3: every kind appears once per block
    # Two subjects; blocks 1 and 4 (when there is a fifth) are one-compartment models (k12 = k21 = 0).
    n = 2
    ka = _log_uniform(rng, 0.05, 5.0, n)
    k10 = _log_uniform(rng, 0.01, 1.0, n)
    k12 = rng.uniform(0.0, 1.0, n)
    k21 = _log_uniform(rng, 0.01, 1.0, n)
    if block in (1, 4):
        k12[:] = 0.0
        k21[:] = 0.0
    v1 = rng.uniform(5.0, 100.0, n)
    # Lags: on the 0.25 h grid and shared, or (blocks 1 and 3) random and per subject; then the
    # subjects' event times differ and only the "direct" driver applies.
    per_subject_lag = kind in ("oral_lag", "mixed", "irregular") and block in (1, 3)
    if per_subject_lag:
        lags = rng.uniform(0.05, 2.0, n)
    else:
        lags = np.full(n, float(rng.choice([0.0, 0.25, 0.75, 1.5])))
    rows = []
    regimen_rng_state = rng.bit_generator.state
    for s in range(n):
        rng.bit_generator.state = regimen_rng_state  # same regimen, only the lag differs
        r, tau, n_doses = _regimen(kind, rng, float(lags[s]))
        rows.append(sorted(r, key=lambda row: row[0]))
    shared = not per_subject_lag
    end = (n_doses + 3) * tau
    ev_times = np.unique(np.concatenate([[row[0] for row in r] for r in rows]))
    grid = None
    if shared and kind != "irregular":
        # Dose times are multiples of 0.25 h, hence on this grid; start 0 or a few steps later.
        step = 0.25
        start = float(rng.choice([0.0, 2.0 * step, 7.0 * step]))
        grid = start + step * np.arange(round((end - start) / step) + 1)
        starts = np.array([row[0] for row in rows[0] if row[2] > 0 or row[3] > 0])
        assert np.all(np.isin(starts[starts >= start], grid))
    times = np.sort(
        np.concatenate(
            [
                rng.uniform(0.0, end, 150),
                ev_times,
                ev_times + 1e-7,
                np.maximum(ev_times - 1e-7, 0.0),
                [0.0, end],
            ]
        )
    )
    return Case(kind, ka, k10, k12, k21, v1, rows, shared, grid, times)


CASES = {seed: make_case(seed) for seed in SEEDS}


def unit_weights(case, compartment):
    """Weights (3, n_subjects) giving amount_i / V1 (mg/L)."""
    w = np.zeros((3, case.n))
    w[compartment] = 1.0 / case.v1
    return w


def assert_close(got, ode, what):
    got, ode = np.asarray(got), np.asarray(ode)
    assert got.shape == ode.shape
    assert np.all(np.isfinite(got)), what
    err = np.abs(got - ode)
    tol = RTOL * np.abs(ode) + ATOL
    if np.any(err > tol):
        i = np.unravel_index(np.argmax(err / tol), err.shape)
        pytest.fail(f"{what}: at index {i} analytic {got[i]!r}, ode {ode[i]!r}, |diff| {err[i]:.3g} > tol {tol[i]:.3g}")


def ode_reference(case, s, times):
    """ODE amounts (n_times, 3) in mg for subject s."""
    return ode_amounts(case.ka[s], case.k10[s], case.k12[s], case.k21[s], *case.event_arrays(s), times)


@pytest.fixture(scope="module")
def ode_cache():
    return {}


def ode_on_times(ode_cache, seed):
    """ODE amounts on the case's non-uniform times and (if any) its grid, per subject."""
    if seed not in ode_cache:
        case = CASES[seed]
        out = []
        for s in range(case.n):
            both = case.times if case.grid is None else np.concatenate([case.times, case.grid])
            order = np.argsort(both, kind="stable")
            amounts = np.empty((len(both), 3))
            amounts[order] = ode_reference(case, s, both[order])
            out.append((amounts[: len(case.times)], amounts[len(case.times) :]))
        ode_cache[seed] = out
    return ode_cache[seed]


def _check_case_description(case):
    n_doses = sum(1 for row in case.rows[0] if row[2] > 0 or row[3] > 0)
    assert n_doses >= 28


@pytest.mark.parametrize("seed", SEEDS)
def test_amounts_direct_vs_ode(seed, ode_cache):
    case = CASES[seed]
    _check_case_description(case)
    ode = ode_on_times(ode_cache, seed)
    for cmt in range(3):
        got = evaluate(case.kinetics, case.events, case.times, unit_weights(case, cmt), method="direct")
        for s in range(case.n):
            assert_close(got[s], ode[s][0][:, cmt] / case.v1[s], f"{case.kind} seed {seed} subject {s} cmt {cmt}")
    # Concentration in the central compartment via "auto" too (the public default).
    got = evaluate(case.kinetics, case.events, case.times, unit_weights(case, 1))
    for s in range(case.n):
        assert_close(got[s], ode[s][0][:, 1] / case.v1[s], f"{case.kind} seed {seed} subject {s} auto")


@pytest.mark.parametrize("seed", [s for s in SEEDS if CASES[s].grid is not None])
@pytest.mark.parametrize("method", ["grid", "direct"])
def test_amounts_on_uniform_grid_vs_ode(seed, method, ode_cache):
    case = CASES[seed]
    ode = ode_on_times(ode_cache, seed)
    for cmt in range(3):
        got = evaluate(case.kinetics, case.events, case.grid, unit_weights(case, cmt), method=method)
        for s in range(case.n):
            assert_close(
                got[s], ode[s][1][:, cmt] / case.v1[s], f"{case.kind} seed {seed} {method} subject {s} cmt {cmt}"
            )


@pytest.mark.parametrize("seed", SEEDS)
def test_central_auc_vs_ode(seed):
    case = CASES[seed]
    # Every event time, and random times in between.
    rng = np.random.default_rng(seed)
    ev_times = [row[0] for r in case.rows for row in r]
    times = np.unique(np.concatenate([ev_times, rng.choice(case.times, 40, replace=False)]))
    got = evaluate(case.kinetics, case.events, times, unit_weights(case, 1), integral=True)
    for s in range(case.n):
        auc = ode_central_auc(case.ka[s], case.k10[s], case.k12[s], case.k21[s], *case.event_arrays(s), times)
        assert_close(got[s], auc / case.v1[s], f"{case.kind} seed {seed} subject {s} AUC")


@pytest.mark.parametrize("seed", SEEDS)
def test_left_limits_at_dose_times_vs_ode(seed, ode_cache):
    """left=True at each dose time is the value just before the dose: the ODE run with only the
    events strictly before that time, evaluated at it (for a few dose times), and the ODE value
    at the dose time minus the boluses given at that time (for all of them)."""
    case = CASES[seed]
    dose_times = np.unique([row[0] for r in case.rows for row in r])
    kin, events = case.kinetics, case.events
    left = {c: evaluate(kin, events, dose_times, unit_weights(case, c), left=True) for c in range(3)}
    right = {c: evaluate(kin, events, dose_times, unit_weights(case, c)) for c in range(3)}
    for s in range(case.n):
        t, c, a, r = case.event_arrays(s)
        ode_right = ode_reference(case, s, dose_times)
        jump = np.zeros((len(dose_times), 3))
        for ti, ci, ai in zip(t, c, a):
            jump[dose_times == ti, ci] += ai
        for cmt in range(3):
            what = f"{case.kind} seed {seed} subject {s} cmt {cmt}"
            assert_close(left[cmt][s], (ode_right[:, cmt] - jump[:, cmt]) / case.v1[s], what + " left (jump)")
            assert_close(right[cmt][s], ode_right[:, cmt] / case.v1[s], what + " right at dose times")
        # Independent runs for three dose times: the first with drug on board, a middle one and the last.
        own = np.unique(t)
        for td in (own[1], own[len(own) // 2], own[-1]):
            keep = t < td
            before = ode_amounts(
                case.ka[s], case.k10[s], case.k12[s], case.k21[s], t[keep], c[keep], a[keep], r[keep], [td]
            )[0]
            j = np.searchsorted(dose_times, td)
            for cmt in range(3):
                assert_close(
                    left[cmt][s, j], before[cmt] / case.v1[s], f"{case.kind} seed {seed} left at {td} cmt {cmt}"
                )


@pytest.mark.parametrize("seed", [s for s in SEEDS if not CASES[s].shared])
def test_per_subject_output_times_vs_ode(seed):
    """Per-subject output times (n_subjects, n_times): each subject's own event times, both
    right-continuous and as left limits."""
    case = CASES[seed]
    times2d = np.array([[row[0] for row in r] for r in case.rows])
    for s in range(case.n):
        assert np.all(np.diff(times2d[s]) >= 0)
    w = unit_weights(case, 1)
    got = evaluate(case.kinetics, case.events, times2d, w)
    got_left = evaluate(case.kinetics, case.events, times2d, w, left=True)
    for s in range(case.n):
        t, c, a, _ = case.event_arrays(s)
        ode = ode_reference(case, s, times2d[s])[:, 1]
        jump = np.array([a[(t == ti) & (c == 1)].sum() for ti in times2d[s]])
        assert_close(got[s], ode / case.v1[s], f"{case.kind} seed {seed} subject {s} per-subject times")
        assert_close(got_left[s], (ode - jump) / case.v1[s], f"{case.kind} seed {seed} subject {s} per-subject left")


# ----------------------------------------------------------------- rate changes other than start/stop

RATE_STEPS = {
    # Step up while running, then one stop of the whole rate: +5, +5, -10 (mg/h).
    "step_up": [(0.0, 1, 0.0, 5.0), (2.0, 1, 0.0, 5.0), (6.0, 1, 0.0, -10.0)],
    # Two overlapping infusions into the central compartment and one into the depot.
    "overlap": [
        (0.0, 1, 0.0, 4.0),
        (1.0, 0, 0.0, 7.0),
        (2.0, 1, 0.0, 6.0),
        (3.0, 1, 0.0, -4.0),
        (5.0, 0, 0.0, -7.0),
        (9.0, 1, 0.0, -6.0),
    ],
}
TAPERS = {
    # Taper: 10 mg/h, lowered to 5 mg/h at 2 h, stopped at 6 h (+10, -5, -5).
    "taper": [(0.0, 1, 0.0, 10.0), (2.0, 1, 0.0, -5.0), (6.0, 1, 0.0, -5.0)],
    # The same into the depot, with an oral bolus on top.
    "depot_taper": [(0.0, 0, 200.0, 0.0), (0.0, 0, 0.0, 30.0), (4.0, 0, 0.0, -20.0), (10.0, 0, 0.0, -10.0)],
}


def _check_rate_rows(rows, seed):
    rng = np.random.default_rng(seed)
    ka = _log_uniform(rng, 0.05, 5.0, 1)[0]
    k10 = _log_uniform(rng, 0.01, 1.0, 1)[0]
    k12, k21 = (rng.uniform(0.0, 1.0), _log_uniform(rng, 0.01, 1.0, 1)[0]) if seed % 2 else (0.0, 0.0)
    t, c, a, r = (np.array(col) for col in zip(*rows))
    events = Events(t.astype(float), c.astype(int), a.astype(float), r.astype(float))
    times = np.arange(0.0, 24.25, 0.25)  # contains every event time
    ode = ode_amounts(ka, k10, k12, k21, events.time, events.cmt, events.amount, events.rate, times)
    kin = Kinetics.of([ka], [k10], [k12], [k21])
    for cmt in range(3):
        w = np.zeros((3, 1))
        w[cmt] = 1.0
        for method in ("direct", "grid"):
            got = evaluate(kin, events, times, w, method=method)[0]
            assert_close(got, ode[:, cmt], f"seed {seed} cmt {cmt} {method}")
    auc = ode_central_auc(ka, k10, k12, k21, events.time, events.cmt, events.amount, events.rate, times)
    assert_close(
        evaluate(kin, events, times, np.array([[0.0], [1.0], [0.0]]), integral=True)[0], auc, f"seed {seed} AUC"
    )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(RATE_STEPS))
def test_rate_changes_vs_ode(name, seed):
    _check_rate_rows(RATE_STEPS[name], seed)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(TAPERS))
def test_tapered_infusion_vs_ode(name, seed):
    """A rate decrease that does not stop the infusion (regression: an earlier engine counted
    rate changes by sign and read +10, -5 as a stop, e.g. one compartment, k10 0.2/h, central
    events (0 h, +10), (2 h, -5), (6 h, -5) mg/h gave A1(4 h) 11.0496 mg instead of 19.2916 mg
    and A1(20 h) -23.029 mg instead of 1.28756 mg)."""
    _check_rate_rows(TAPERS[name], seed)
