"""Regimens held as columns (issue 9 item 5): the columns give the same doses as Dose values built
one by one, the same engine events as the rules applied dose by dose, and the same concentrations
as hand-worked closed forms and the ODE reference. No timings here (benchmarks/ measures them).

Units: mg, L, h, mg/L, 1/h.
"""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.dosing import events
from pkmodel.dosing.columns import DoseColumns
from pkmodel.dosing.dose import Dose
from pkmodel.engine.analytic import CENTRAL
from pkmodel.engine.ode import ode_amounts

K, V, KA = 0.1, 20.0, 1.2


# --- the rules dose by dose: the reference the columns are checked against ----------------------


def events_dose_by_dose(model: Model, regimen: Regimen, n: int):
    """Engine events built one dose at a time from the Dose values, with each rule written out
    here (F, lag, rate/duration, reset, steady state), every column (n, n_events)."""
    model_f = np.broadcast_to(np.asarray(model.f, dtype=float), (n,))
    model_lag = np.broadcast_to(np.asarray(model.tlag, dtype=float), (n,))
    rows = []  # (time (n,), cmt, amount (n,), rate (n,), origin, reset)
    given = []
    for d in regimen.doses:
        oral = d.route == "oral"
        f = np.full(n, d.f) if d.f is not None else (model_f if oral else np.ones(n))
        lag = np.full(n, d.tlag) if d.tlag is not None else (model_lag if oral else np.zeros(n))
        amount = f * d.amount
        length = amount / d.rate if d.rate is not None else np.full(n, d.duration)
        infusion = d.duration > 0 or d.rate is not None
        rate = amount / np.where(length > 0, length, 1.0) if infusion else np.zeros(n)
        cmt = events.COMPARTMENT[d.route]
        rows.append((d.time + lag, cmt, np.zeros(n) if infusion else amount, rate, d.time, False))
        given.append((d, amount, lag, length, infusion, cmt, rate))
    for d, amount, lag, length, infusion, cmt, rate in given:
        if infusion:
            rows.append((d.time + lag + length, cmt, np.zeros(n), -rate, d.time, False))
    for d, amount, lag, length, *_ in given:
        if d.reset or d.ss == 1:
            rows = [r for r in rows if not (r[4] < d.time and np.all(r[0] >= d.time))]
            rows.append((np.full(n, d.time), CENTRAL, np.zeros(n), np.zeros(n), d.time, True))
        if d.ss:
            # The lag as the arrival minus the dose time (as the engine sees it), not as given.
            ss = events._steady_state_events(model, d, n, amount, (d.time + lag) - d.time, length)
            for j in range(len(ss.cmt)):
                def col(a, j=j):
                    return np.broadcast_to(a, (n, len(ss.cmt)))[:, j]
                rows.append((col(ss.time), int(ss.cmt[j]), col(ss.amount), col(ss.rate), d.time, False))
    time = np.stack([r[0] for r in rows], axis=1)
    reset = np.broadcast_to(np.array([r[5] for r in rows]), time.shape)
    order = np.lexsort((~reset, time))
    take = lambda a: np.take_along_axis(np.broadcast_to(a, time.shape), order, axis=1)  # noqa: E731
    return (
        take(time),
        take(np.array([r[1] for r in rows])),
        take(np.stack([r[2] for r in rows], axis=1)),
        take(np.stack([r[3] for r in rows], axis=1)),
        take(reset),
    )


def assert_same_events(model: Model, regimen: Regimen, n: int) -> None:
    got = events.regimen_events(model, regimen, n)
    expected = events_dose_by_dose(model, regimen, n)
    shape = expected[0].shape
    reset = np.zeros(shape, dtype=bool) if got.reset is None else got.reset
    for a, b in zip((got.time, got.cmt, got.amount, got.rate, reset), expected, strict=True):
        np.testing.assert_array_equal(np.broadcast_to(a, shape), b)


@st.composite
def doses(draw):
    time = draw(st.sampled_from([0.0, 1.5, 6.0, 12.0, 24.0, 30.0, 50.0]))
    reset = draw(st.booleans()) and draw(st.booleans())
    amount = 0.0 if reset and draw(st.booleans()) else draw(st.floats(1.0, 1000.0))
    route = draw(st.sampled_from(["iv", "oral", "peripheral"]))
    how = draw(st.sampled_from(["bolus", "duration", "rate"]))
    ss = draw(st.sampled_from([0, 0, 1, 2]))
    return Dose(
        time,
        amount,
        route,
        duration=draw(st.floats(0.5, 30.0)) if how == "duration" else 0.0,  # up to longer than the interval
        rate=draw(st.floats(5.0, 200.0)) if how == "rate" else None,
        ss=ss,
        interval=draw(st.sampled_from([4.0, 12.0, 24.0])) if ss else None,
        f=draw(st.none() | st.floats(0.1, 1.0)),
        tlag=draw(st.none() | st.floats(0.0, 30.0)),
        reset=reset,
    )


models = st.sampled_from(
    [
        Model(cl=K * V, v1=V, ka=KA),
        Model(cl=K * V, v1=V, ka=KA, f=0.7, tlag=1.5),
        Model(cl=2.0, v1=20.0, q=3.0, v2=40.0, ka=0.8, f=0.6, tlag=0.25),
        Model(cl=K * V, v1=V, ka=KA, f=np.array([0.5, 0.9, 1.0]), tlag=np.array([0.0, 2.0, 13.0])),
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=models, given_doses=st.lists(doses(), min_size=1, max_size=7))
def test_the_columns_give_the_events_of_the_rules_applied_dose_by_dose(model, given_doses):
    regimen = Regimen(tuple(given_doses))
    n = model.n_subjects or 1
    try:
        events.check(model, regimen)
    except PKModelError:
        return
    assert_same_events(model, regimen, n)
    # The bounds the simulation checks before allocating, dose by dose.
    top_lag = float(np.max(np.asarray(model.tlag, dtype=float)))
    lag = [d.tlag if d.tlag is not None else (top_lag if d.route == "oral" else 0.0) for d in regimen.doses]
    length = [d.amount / d.rate if d.rate else d.duration for d in regimen.doses]
    assert events.latest_time(model, regimen) == max(d.time + a + b for d, a, b in zip(regimen.doses, lag, length))
    built = events.regimen_events(model, regimen, n)
    assert events.event_count(model, regimen) >= built.time.shape[-1]


def test_many_resets_drop_what_earlier_doses_still_owe():
    # A lagged oral dose (arrives at 5 h) and a 10 h infusion, then resets at 2 h and 4 h: the
    # reset at 2 h stops the infusion (its end at 10 h is dropped) and the lagged dose never arrives.
    regimen = Regimen(
        (Dose(0, 100, "oral", tlag=5.0), Dose(0, 50, "iv", duration=10.0), Dose(2, 0, reset=True),
         Dose(4, 10, "iv", reset=True))
    )
    ev = events.regimen_events(Model(cl=2.0, v1=20.0, ka=1.0), regimen, 1)
    # The reset alone (EVID 3) is still a dose of 0 mg at 2 h, after its reset.
    np.testing.assert_array_equal(ev.time, [0.0, 2.0, 2.0, 4.0, 4.0])
    np.testing.assert_array_equal(ev.reset, [False, True, False, True, False])
    np.testing.assert_array_equal(ev.amount, [0.0, 0.0, 0.0, 0.0, 10.0])
    np.testing.assert_array_equal(ev.rate, [5.0, 0.0, 0.0, 0.0, 0.0])
    assert_same_events(Model(cl=2.0, v1=20.0, ka=1.0), regimen, 1)


# --- building: the same doses as Dose values built one by one -------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    amount=st.floats(0.5, 2000.0),
    tau=st.sampled_from([1.0, 6.0, 8.0, 12.0, 24.0, 1 / 3]),
    n=st.integers(1, 300),
    start=st.sampled_from([0.0, 7.5, 100.0]),
    route=st.sampled_from(["iv", "oral"]),
    infusion=st.sampled_from([{}, {"duration": 0.5}, {"duration": 30.0}, {"rate": 50.0}]),
    extra=st.sampled_from(["", "ss", "loading"]),
)
def test_repeated_gives_the_doses_built_one_by_one(amount, tau, n, start, route, infusion, extra):
    if route == "oral" and infusion:
        route = "iv"
    r = Regimen.repeated(amount, tau, n_doses=n, start=start, route=route, **infusion,
                         steady_state=extra == "ss", loading=3 * amount if extra == "loading" else None)
    expected = [Dose(start + i * tau, amount, route, **infusion) for i in range(n)]
    if extra == "ss":
        expected[0] = Dose(start, amount, route, **infusion, ss=1, interval=tau)
    if extra == "loading":
        expected[0] = Dose(start, 3 * amount, route, **infusion)
    assert r.doses == tuple(expected)
    assert r == Regimen(tuple(expected), tau, r.text) and hash(r) == hash(Regimen(tuple(expected), tau, r.text))
    assert r.n_doses == n and r.end == max(d.time + (d.amount / d.rate if d.rate else d.duration) for d in expected)


def test_daily_and_a_list_of_amounts_give_the_doses_built_one_by_one():
    r = Regimen.daily(250, ["08:00", "14:00", "20:00"], days=4, start_day=2)
    assert r.doses == tuple(Dose((2 + d) * 24.0 + c, 250, "oral") for d in range(4) for c in (8.0, 14.0, 20.0))
    listed = Regimen.repeated(["1 g", 500, 250.0], "12 h")
    assert listed.doses == (Dose(0, 1000), Dose(12, 500), Dose(24, 250))
    with pytest.raises(PKModelError, match="amount"):
        Regimen.repeated([100, -1, 5], 12)


@settings(max_examples=60, deadline=None)
@given(
    n_a=st.integers(1, 20), n_b=st.integers(1, 20), gap=st.sampled_from([None, 0.0, 5.0]),
    courses=st.integers(1, 4), missed=st.sets(st.integers(1, 40), max_size=5),
    late=st.dictionaries(st.integers(1, 40), st.floats(0.0, 30.0), max_size=4),
)
def test_then_plus_courses_miss_late_give_the_doses_built_one_by_one(n_a, n_b, gap, courses, missed, late):
    a = Regimen.repeated(100, 12, n_doses=n_a, duration=2.0)
    b = Regimen.repeated(50, 8, n_doses=n_b, route="oral", start=3.0)
    joined = a.then(b, gap=gap)
    start = a.next_time + (gap or 0.0)
    expected = a.doses + tuple(d.shifted(start - b.doses[0].time) for d in b.doses)
    assert joined.doses == expected
    both = a + b
    assert both.doses == tuple(sorted(a.doses + b.doses, key=lambda d: d.time))
    every = joined.next_time - joined.doses[0].time + 24.0
    repeated = joined.courses(courses, every=every)
    assert repeated.doses == tuple(d.shifted(k * every) for k in range(courses) for d in joined.doses)
    numbers = sorted(k for k in missed if k <= len(joined.doses))
    if len(numbers) < len(joined.doses):
        kept = joined.miss(numbers)
        assert kept.doses == tuple(d for i, d in enumerate(joined.doses, 1) if i not in numbers)
    delays = {k: v for k, v in late.items() if k <= len(joined.doses)}
    moved = joined.late(delays)
    assert moved.doses == tuple(
        sorted((d.shifted(delays.get(i, 0.0)) for i, d in enumerate(joined.doses, 1)), key=lambda d: d.time)
    )


def test_the_dose_values_are_made_only_when_asked_for_and_are_checked_values():
    r = Regimen.repeated("500 mg", "12 h", n_doses=10_000, route="oral")
    assert "doses" not in r.__dict__  # columns only, until someone iterates
    assert r.columns.time.flags.writeable is False
    with pytest.raises(ValueError):
        r.columns.amount[0] = 1.0
    copied = pickle.loads(pickle.dumps(r))
    assert copied == r and hash(copied) == hash(r) and not copied.columns.amount.flags.writeable
    d = r.doses[9_999]
    assert d == Dose(d.time, d.amount, d.route, d.duration, d.ss, d.interval, d.rate, d.f, d.tlag, d.reset)
    assert (d.time, d.amount, d.route) == (119_988.0, 500.0, "oral") and type(d.time) is float
    assert repr(r) == "Regimen('500 mg oral every 12 h, 10000 doses (5000 d)'; 10000 doses from 0 h to 119988 h)"


def test_a_shift_past_the_horizon_names_the_first_time_refused():
    with pytest.raises(PKModelError, match="MAX_TIME_H") as err:
        Regimen.repeated(100, "1000 h", n_doses=900).shifted("200000 h")
    # As Dose by Dose: the 802nd dose (801,000 h + 200,000 h) is the first past 1e6 h.
    assert (err.value.field, err.value.value) == ("time", 1_001_000.0)
    with pytest.raises(PKModelError, match=">= 0"):
        Regimen.repeated(100, 12, n_doses=3).late({2: 1.0}).shifted(-1.0)


def test_the_event_table_has_the_layout_of_one_row_per_dose():
    r = Regimen((Dose(0, 100, "oral", f=0.5, tlag=0.5), Dose(12, 100, "iv", rate=25.0), Dose(24, 0, reset=True),
                 Dose(30, 50, "peripheral", ss=2, interval=24.0)))
    frame = r.to_frame()
    expected = pd.DataFrame(
        {"time_h": [0.0, 12.0, 24.0, 30.0], "amount_mg": [100.0, 100.0, 0.0, 50.0],
         "route": ["oral", "iv", "iv", "peripheral"], "duration_h": [0.0] * 4,
         "rate_mg_h": [np.nan, 25.0, np.nan, np.nan], "ss": [0, 0, 0, 2],
         "interval_h": [np.nan, np.nan, np.nan, 24.0], "f": [0.5, np.nan, np.nan, np.nan],
         "tlag_h": [0.5, np.nan, np.nan, np.nan], "reset": [False, False, True, False]}
    )
    pd.testing.assert_frame_equal(frame, expected)
    assert Regimen.from_frame(frame) == Regimen(r.doses)


# --- simulate(): unchanged, against hand closed forms and the ODE reference ---------------------


def test_ten_thousand_iv_doses_match_the_hand_closed_form():
    r = Regimen.repeated("500 mg", "12 h", n_doses=10_000)
    t = np.array([0.0, 5.0, 12.0, 60_000.0, 119_988.0, 119_990.5, 120_100.0])
    got = simulate(Model(cl=K * V, v1=V), r, t).concentration[0]
    times = 12.0 * np.arange(10_000)
    expected = [np.sum(np.where(times <= x, 500.0 / V * np.exp(-K * np.clip(x - times, 0, None)), 0.0)) for x in t]
    np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_overlapping_infusions_and_lagged_oral_doses_match_the_ode_reference():
    # Infusions of 20 h every 12 h overlap; oral doses arrive 1.5 h late (model lag).
    model = Model(cl=2.0, v1=20.0, q=3.0, v2=40.0, ka=0.8, f=0.6, tlag=1.5)
    r = Regimen.repeated(300, 12, n_doses=8, duration=20.0) + Regimen.repeated(200, 24, n_doses=4, route="oral", start=6.0)
    t = np.linspace(0.0, 120.0, 61)
    got = simulate(model, r, t).concentration[0]
    start = 12.0 * np.arange(8)
    oral = 6.0 + 24.0 * np.arange(4) + 1.5
    ev_time = np.concatenate([start, start + 20.0, oral])
    ev_cmt = np.concatenate([np.full(16, 1), np.full(4, 0)])
    ev_amount = np.concatenate([np.zeros(16), np.full(4, 0.6 * 200)])
    ev_rate = np.concatenate([np.full(8, 15.0), np.full(8, -15.0), np.zeros(4)])
    order = np.argsort(ev_time, kind="stable")
    kin = model.kinetics(1)
    ref = ode_amounts(
        float(kin.ka[0]), float(kin.k10[0]), float(kin.k12[0]), float(kin.k21[0]),
        ev_time[order], ev_cmt[order], ev_amount[order], ev_rate[order], t,
    )[:, 1] / 20.0
    np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-9)


# --- pandas only on request -----------------------------------------------------------------------


def test_the_dosing_modules_import_no_pandas_scipy_or_matplotlib():
    # pkmodel/__init__ is skipped (it imports the layers above): only what dosing/ itself imports.
    code = (
        "import importlib, importlib.util, sys, types\n"
        "spec = importlib.util.find_spec('pkmodel')\n"
        "pkg = types.ModuleType('pkmodel'); pkg.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['pkmodel'] = pkg\n"
        "for m in ('words', 'text', 'dose', 'columns', 'composition', 'regimen', 'events', 'library', 'records', "
        "'dataset'):\n"
        "    importlib.import_module('pkmodel.dosing.' + m)\n"
        "print(sorted({k.split('.')[0] for k in sys.modules} & {'pandas', 'scipy', 'matplotlib'}))\n"
    )
    assert importlib.util.find_spec("pkmodel") is not None
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_columns_of_no_doses_are_refused_as_a_regimen():
    with pytest.raises(PKModelError, match="at least one dose"):
        Regimen(DoseColumns.of(()))
