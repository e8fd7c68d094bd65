"""Regimen values: construction, composition, missed and late doses, event tables."""

import numpy as np
import pandas as pd
import pytest

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.dosing.dose import Dose


def times(regimen):
    return [d.time for d in regimen.doses]


def test_repeated_over_a_treatment_length_counts_doses_that_start_before_its_end():
    assert len(Regimen.repeated("500 mg", "12 h", over="14 d").doses) == 28
    assert len(Regimen.repeated("500 mg", "8 h", over="7 d").doses) == 21
    assert len(Regimen.repeated("500 mg", "24 h", over="36 h").doses) == 2


def test_daily_clock_times():
    r = Regimen.daily("500 mg", at=["08:00", "14:00"], days=3)
    assert times(r) == [8, 14, 32, 38, 56, 62]
    assert r.interval == 24 and r.routes == {"oral"}
    assert str(r) == "500 mg oral at 08:00,14:00 daily for 3 d"
    assert r.daily_doses.tolist() == [1000.0, 1000.0, 1000.0]
    assert r.last_period() == (56.0, 80.0)


def test_iv_then_oral_starts_oral_when_the_next_iv_dose_would_be_due():
    iv = Regimen.repeated("500 mg", "24 h", n_doses=10, duration="30 min")
    oral = Regimen.repeated("500 mg", "12 h", over="4 weeks", route="oral")
    both = iv.then(oral)
    assert len(both.doses) == 10 + 56
    assert both.doses[10].time == 240.0 and both.doses[10].route == "oral"
    assert both.interval == 12.0
    assert str(both).startswith("500 mg IV over 0.5 h every 24 h, 10 doses (10 d) then 500 mg oral every 12 h")


def test_merge_and_courses():
    a = Regimen.single("100 mg")
    b = Regimen.single("50 mg", "oral", time=3)
    assert [(d.time, d.amount) for d in (a + b).doses] == [(0, 100), (3, 50)]
    course = Regimen.repeated("500 mg", "24 h", over="4 weeks", route="oral")
    year = course.courses(3, every="16 weeks")
    assert len(year.doses) == 3 * 28
    assert year.doses[28].time == 16 * 168
    with pytest.raises(PKModelError, match="overlap"):
        course.courses(2, every="2 weeks")


def test_missed_doses_explicit_and_random():
    r = Regimen.repeated(100, 12, n_doses=10)
    assert times(r.miss([3, 4])) == [0, 12, 48, 60, 72, 84, 96, 108]
    once = r.miss(probability=0.3, seed=42)
    again = r.miss(probability=0.3, seed=42)
    assert times(once) == times(again)
    expected_missed = int((np.random.default_rng(42).random(10) < 0.3).sum())
    assert len(once.doses) == 10 - expected_missed
    with pytest.raises(PKModelError) as err:
        r.miss([11])
    assert err.value.field == "numbers"


def test_missed_dose_lowers_the_next_trough_by_the_missing_contribution():
    k, v = 0.1, 20.0
    model = Model(cl=k * v, v1=v)
    full = Regimen.repeated(100, 12, n_doses=6)
    missed = full.miss([3])
    t = [60.0]
    lost = simulate(model, full, t).concentration[0, 0] - simulate(model, missed, t).concentration[0, 0]
    assert lost == pytest.approx(100 / v * np.exp(-k * (60 - 24)), rel=1e-12)


def test_late_dose():
    r = Regimen.repeated(100, 12, n_doses=3).late({2: "3 h"})
    assert times(r) == [0, 15, 24]
    assert "dose 2 3 h late" in str(r)


def test_per_dose_amounts_and_rate_infusions():
    r = Regimen.repeated([100, 200, 300], "8 h")
    assert [d.amount for d in r.doses] == [100, 200, 300]
    inf = Regimen.single("600 mg", rate="200 mg/h")
    # The rate is kept as the dose's rate (NONMEM's meaning), not turned into a duration.
    assert (inf.doses[0].rate, inf.doses[0].duration) == (200.0, 0.0)
    assert inf.end == 3.0


def test_event_table_round_trip():
    r = (Regimen.repeated(500, 24, n_doses=3, duration=0.5) + Regimen.daily(250, at=["08:00"], days=2)).then(
        Regimen.repeated(100, 12, n_doses=2, route="oral", steady_state=True)
    )
    frame = r.to_frame()
    assert list(frame.columns) == [
        "time_h", "amount_mg", "route", "duration_h", "rate_mg_h", "ss", "interval_h", "f", "tlag_h", "reset"
    ]
    back = Regimen.from_frame(frame, interval=r.interval)
    assert back.doses == r.doses


def test_event_table_errors_name_the_row():
    frame = pd.DataFrame({"time_h": [0, 12], "amount_mg": [100, -5], "route": ["iv", "iv"]})
    with pytest.raises(PKModelError, match="row 1: amount"):
        Regimen.from_frame(frame)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Dose(0, 100, ss=1), "interval"),
        (lambda: Dose(0, 100, interval=12), "interval"),
        (lambda: Dose(0, 100, duration=1, rate=10), "duration/rate"),
        (lambda: Dose(0, 100, f=1.5), "f"),
        (lambda: Regimen.daily(100, at=["25:00"], days=1), "at"),
        (lambda: Regimen.daily(100, at=["08:00"], days=0), "days"),
        (lambda: Regimen.repeated([1, 2], 12, n_doses=3), "amount"),
    ],
)
def test_bad_regimens(make, field):
    with pytest.raises(PKModelError) as err:
        make()
    assert err.value.field == field


def test_daily_totals_sum_the_doses_started_on_each_calendar_day():
    """Doses at 08:00 and 20:00 for three days, then one at 23:59 and one just after midnight:
    the totals per calendar day (day 0 starts at time 0) are summed by hand."""
    from pkmodel import Dose

    regimen = Regimen.daily("500 mg", at=["08:00", "20:00"], days=3) + Regimen(
        (Dose(3 * 24 + 23 + 59 / 60, 250.0), Dose(4 * 24 + 1 / 60, 100.0))
    )
    days, totals = regimen.daily_totals
    assert days.tolist() == [0, 1, 2, 3, 4]
    assert totals.tolist() == [1000.0, 1000.0, 1000.0, 250.0, 100.0]
    assert regimen.daily_doses.to_dict() == {0: 1000.0, 1: 1000.0, 2: 1000.0, 3: 250.0, 4: 100.0}
