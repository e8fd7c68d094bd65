"""Properties of the analytic engine (pkmodel.engine.analytic) that hold for any linear model.

Random rate constants (1/h), regimens (boluses and zero-order infusions into depot, central or
peripheral; mg and mg/h) and output grids (h) from hypothesis. Dose and output times are
multiples of 1/4 h, so time differences are exact and a uniform grid is exactly uniform: the
comparisons below then test the arithmetic of the engine, not the rounding of clock times.
Compartments: 0 depot, 1 central, 2 peripheral.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel.engine.analytic import Events, Kinetics, evaluate

SETTINGS = settings(max_examples=15, deadline=None)
FEW = settings(max_examples=8, deadline=None)  # for the properties that make many calls
UNIT = np.eye(3)


# ----------------------------------------------------------------- strategies


def quarter_hours(lo, hi):
    return st.integers(int(4 * lo), int(4 * hi)).map(lambda k: k / 4.0)


@st.composite
def kinetics(draw, n):
    """n subjects; each is two-compartment or (k12 = k21 = 0) one-compartment."""
    ka, k10, k12, k21 = [], [], [], []
    for _ in range(n):
        ka.append(draw(st.floats(0.05, 5.0)))
        k10.append(draw(st.floats(0.01, 1.0)))
        if draw(st.booleans()):
            k12.append(draw(st.floats(0.001, 1.0)))
            k21.append(draw(st.floats(0.01, 1.0)))
        else:
            k12.append(0.0)
            k21.append(0.0)
    return Kinetics.of(np.array(ka), np.array(k10), np.array(k12), np.array(k21))


# A dose: (start h, compartment, infusion?, amount mg, infusion duration h).
dose = st.tuples(
    quarter_hours(0, 120), st.integers(0, 2), st.booleans(), st.floats(1.0, 1000.0), quarter_hours(0.25, 72)
)


def rows_of(doses):
    """Two event rows per dose (a bolus gets a no-op partner) so that every subject given the
    same number of doses has the same number of events; sorted by time (stable)."""
    rows = []
    for start, cmt, infusion, amount, duration in doses:
        if infusion:
            rate = amount / duration
            rows += [(start, cmt, 0.0, rate), (start + duration, cmt, 0.0, -rate)]
        else:
            rows += [(start, cmt, amount, 0.0), (start, cmt, 0.0, 0.0)]
    return sorted(rows, key=lambda r: r[0])


def events_of(rows):
    """Events from rows (list of rows: shared) or from a list of per-subject row lists."""
    arr = np.array(rows, dtype=float)
    t, c, a, r = np.moveaxis(arr, -1, 0)
    return Events(t, c.astype(int), a, r)


@st.composite
def uniform_grid(draw, max_len=300):
    start = draw(quarter_hours(0, 20))
    step = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
    n = draw(st.integers(2, max_len))
    return start + step * np.arange(n)


@st.composite
def scenario(draw, max_subjects=3, max_doses=6):
    n = draw(st.integers(1, max_subjects))
    kin = draw(kinetics(n))
    doses = draw(st.lists(dose, min_size=1, max_size=max_doses))
    times = draw(uniform_grid())
    return kin, doses, times


def amounts(kin, events, times, **kw):
    """(3, n_subjects, n_times): each compartment's amount (mg) or its integral (mg.h)."""
    n = kin.k10.shape[0]
    return np.stack([evaluate(kin, events, times, np.repeat(UNIT[c][:, None], n, 1), **kw) for c in range(3)])


def given_so_far(rows, t, left=False):
    """Bolus amounts plus infused amount (mg) up to each time t (at or strictly before)."""
    et, _, ea, er = (np.array(col, dtype=float) for col in zip(*rows))
    past = (et[None, :] < t[:, None]) if left else (et[None, :] <= t[:, None])
    return (past * ea).sum(1) + (past * er * (t[:, None] - et[None, :])).sum(1)


def assert_rel(got, expected, rtol, atol=1e-300):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    err = np.abs(got - expected)
    tol = rtol * np.abs(expected) + atol
    if np.any(err > tol):
        i = np.unravel_index(np.argmax(err / tol), err.shape)
        raise AssertionError(
            f"at {i}: got {got[i]!r}, expected {expected[i]!r}, rel err {err[i] / abs(expected[i] or 1e-300):.3g}"
        )


# ----------------------------------------------------------------- mass balance


@SETTINGS
@given(case=scenario(), extra=st.lists(quarter_hours(0, 200), max_size=5))
def test_mass_balance(case, extra):
    """depot + central + peripheral + k10 * AUC(central) = everything given so far (mg),
    at a grid plus every event time, right-continuous and as left limits."""
    kin, doses, grid = case
    rows = rows_of(doses)
    events = events_of(rows)
    times = np.unique(np.concatenate([grid, [r[0] for r in rows], extra]))
    for left in (False, True):
        a = amounts(kin, events, times, left=left)
        auc = evaluate(kin, events, times, np.stack([0 * kin.k10, kin.k10, 0 * kin.k10]), integral=True, left=left)
        total = given_so_far(rows, times, left=left)
        for s in range(kin.k10.shape[0]):
            assert_rel(a[:, s].sum(0) + auc[s], total, 1e-9, atol=1e-12 * total.max())
            assert np.all((a[:, s].sum(0) + auc[s])[total == 0] == 0)


# ----------------------------------------------------------------- linearity


@SETTINGS
@given(case=scenario())
def test_doubling_doses_doubles_everything(case):
    kin, doses, times = case
    rows = rows_of(doses)
    doubled = [(t, c, 2 * a, 2 * r) for t, c, a, r in rows]
    for kw in ({}, {"integral": True}, {"left": True}):
        once = amounts(kin, events_of(rows), times, **kw)
        twice = amounts(kin, events_of(doubled), times, **kw)
        assert_rel(twice, 2 * once, 1e-13)


@FEW
@given(case=scenario(max_doses=4), more=st.lists(dose, min_size=1, max_size=4))
def test_superposition_of_two_regimens(case, more):
    """The regimen made of the union of two regimens' events gives the sum of their outputs."""
    kin, doses, times = case
    a_rows, b_rows = rows_of(doses), rows_of(more)
    union = sorted(a_rows + b_rows, key=lambda r: r[0])
    for kw in ({"method": "direct"}, {"method": "grid"}, {"integral": True}, {"left": True}):
        a = amounts(kin, events_of(a_rows), times, **kw)
        b = amounts(kin, events_of(b_rows), times, **kw)
        u = amounts(kin, events_of(union), times, **kw)
        err = np.abs(u - (a + b))
        assert np.all(err <= 1e-10 * (a + b) + 1e-300), (kw, float(np.max(err / (a + b + 1e-300))))


# ----------------------------------------------------------------- time shift


@FEW
@given(case=scenario(), shift=st.floats(0.0, 1000.0), quarter_shift=quarter_hours(0, 1000))
def test_time_shift_invariance(case, shift, quarter_shift):
    """Shifting every event and output time by s (h) gives the same values."""
    kin, doses, times = case
    rows = rows_of(doses)
    base = {
        kw: amounts(kin, events_of(rows), times, **dict(kw)) for kw in ((), (("integral", True),), (("left", True),))
    }
    base_grid = amounts(kin, events_of(rows), times, method="grid")
    for s, rtol in ((quarter_shift, 1e-13), (shift, 1e-9)):
        shifted = [(t + s, c, a, r) for t, c, a, r in rows]
        for kw, expected in base.items():
            got = amounts(kin, events_of(shifted), times + s, **dict(kw))
            assert_rel(got, expected, rtol, atol=1e-12 * max(expected.max(), 1e-300))
    # Exact quarter-hour shifts keep the grid exactly uniform: the grid driver applies too.
    got = amounts(
        kin, events_of([(t + quarter_shift, c, a, r) for t, c, a, r in rows]), times + quarter_shift, method="grid"
    )
    assert_rel(got, base_grid, 1e-12)


# ----------------------------------------------------------------- non-negativity


@SETTINGS
@given(case=scenario(), extra=st.lists(st.floats(0.0, 500.0), max_size=10))
def test_amounts_are_never_negative(case, extra):
    kin, doses, grid = case
    events = events_of(rows_of(doses))
    times = np.sort(np.concatenate([grid, extra]))
    for kw in ({}, {"left": True}, {"integral": True}):
        a = amounts(kin, events, times, **kw)
        assert np.all(np.isfinite(a)) and np.all(a >= 0.0), kw
    a = amounts(kin, events, grid, method="grid")
    assert np.all(np.isfinite(a)) and np.all(a >= 0.0)


# ----------------------------------------------------------------- drivers agree


@SETTINGS
@given(case=scenario(max_subjects=5, max_doses=10), big=st.booleans())
def test_grid_and_direct_agree(case, big):
    kin, doses, times = case
    if big:  # several blocks of the grid driver and many events
        times = times[0] + (times[1] - times[0]) * np.arange(700)
    events = events_of(rows_of(doses))
    n = kin.k10.shape[0]
    weights = [np.repeat(UNIT[c][:, None], n, 1) for c in range(3)]
    weights.append(np.stack([np.full(n, 0.0), 1.0 / np.linspace(5.0, 100.0, n), np.full(n, 0.0)]))  # mg/L
    weights.append(np.ones((3, n)))
    for w in weights:
        direct = evaluate(kin, events, times, w, method="direct")
        grid = evaluate(kin, events, times, w, method="grid")
        assert_rel(grid, direct, 1e-12)


# ----------------------------------------------------------------- vectorisation


@st.composite
def population(draw):
    """n subjects with their own kinetics and their own regimen (same number of doses)."""
    n = draw(st.integers(2, 5))
    kin = draw(kinetics(n))
    k = draw(st.integers(1, 5))
    per_subject = [rows_of(draw(st.lists(dose, min_size=k, max_size=k))) for _ in range(n)]
    times = draw(uniform_grid(max_len=150))
    return kin, per_subject, times


def subject(kin, s):
    return Kinetics.of(*(x[s : s + 1] for x in (kin.ka, kin.k10, kin.k12, kin.k21)))


@FEW
@given(pop=population())
def test_vectorised_equals_subject_by_subject(pop):
    """One call for all subjects equals one call per subject: shared events, per-subject events
    (n_subjects, n_events), per-subject output times (n_subjects, n_times), every driver."""
    kin, per_subject, times = pop
    n = kin.k10.shape[0]
    w = np.stack([np.linspace(0.0, 1.0, n), 1.0 / np.linspace(5.0, 100.0, n), np.linspace(2.0, 0.5, n)])
    times2d = np.stack([np.sort(times * (1.0 + 0.25 * s)) for s in range(n)])
    shared = events_of(per_subject[0])
    own = events_of(per_subject)
    calls = [
        (shared, times, {"method": "direct"}),
        (shared, times, {"method": "grid"}),
        (shared, times, {"integral": True}),
        (shared, times, {"left": True}),
        (own, times, {"method": "direct"}),
        (own, times, {"integral": True}),
        (own, times, {"left": True}),
        (own, times2d, {}),
        (own, times2d, {"integral": True}),
        (own, times2d, {"left": True}),
    ]
    for events, t, kw in calls:
        together = evaluate(kin, events, t, w, **kw)
        assert together.shape == (n, t.shape[-1])
        for s in range(n):
            ev = (
                events
                if events.shared_times
                else Events(*(x[s] for x in (events.time, events.cmt, events.amount, events.rate)))
            )
            alone = evaluate(subject(kin, s), ev, t if t.ndim == 1 else t[s], w[:, s : s + 1], **kw)
            assert_rel(together[s], alone[0], 1e-12)


@settings(max_examples=10, deadline=None)
@given(kin=kinetics(20), doses=st.lists(dose, min_size=1, max_size=8), start=quarter_hours(0, 10))
def test_auto_driver_on_a_population(kin, doses, start):
    """20 subjects on a 400-point uniform grid: "auto" (which picks the grid driver here) equals
    "direct"."""
    events = events_of(rows_of(doses))
    times = start + 0.5 * np.arange(400)
    w = np.stack([np.zeros(20), 1.0 / np.linspace(5.0, 100.0, 20), np.zeros(20)])
    assert_rel(evaluate(kin, events, times, w), evaluate(kin, events, times, w, method="direct"), 1e-12)


def test_grid_driver_refuses_what_it_cannot_do():
    """The "grid" driver needs a uniform grid, shared event times, no integral, no left limit."""
    kin = Kinetics.of([1.0, 0.5], [0.1, 0.2], [0.3, 0.0], [0.2, 0.0])
    shared = events_of(rows_of([(0.0, 1, False, 100.0, 1.0)]))
    own = events_of([rows_of([(0.0, 1, False, 100.0, 1.0)]), rows_of([(1.0, 0, True, 50.0, 2.0)])])
    w = np.ones((3, 2))
    uniform = np.arange(0.0, 10.0, 0.5)
    with pytest.raises(ValueError):
        evaluate(kin, shared, np.array([0.0, 1.0, 3.0]), w, method="grid")
    with pytest.raises(ValueError):
        evaluate(kin, own, uniform, w, method="grid")
    for kw in ({"integral": True}, {"left": True}):
        with pytest.raises(ValueError):
            evaluate(kin, shared, uniform, w, method="grid", **kw)
