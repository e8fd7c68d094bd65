"""Regimen rules from issues 7 and 8: dose limit, time horizon, loading doses, one meaning of
``rate``, IV-only friendly infusions, no silent coercion, lossless event tables, one clock parser,
short error values and short reprs. Numbers are checked against hand-worked closed forms."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.dosing.dose import Dose
from pkmodel.limits import MAX_DOSES, MAX_TIME_H
from pkmodel.units import parse_clock

K, V = 0.1, 20.0  # one compartment: CL = K·V
ONE = Model(cl=K * V, v1=V)


def bolus_sum(doses: list[tuple[float, float]], t: float) -> float:
    """Concentration (mg/L) at t of IV boluses (time h, amount mg) in one compartment."""
    return sum(a / V * math.exp(-K * (t - ti)) for ti, a in doses if ti <= t)


def times_amounts(regimen: Regimen) -> list[tuple[float, float]]:
    return [(d.time, d.amount) for d in regimen.doses]


# --- 1. the dose limit and the time horizon live in Regimen -----------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Regimen.repeated("500 mg", "12 h", n_doses=10**7), "n_doses"),
        (lambda: Regimen.repeated("500 mg", "1 s", over="4 weeks"), "over"),
        (lambda: Regimen.repeated("500 mg", 1e-9, over="1 h"), "over"),
        (lambda: Regimen.daily("500 mg", ["08:00", "20:00"], days=10**9), "days"),
        (lambda: Regimen.daily("500 mg", [h / 100 for h in range(2400)], over="100 d"), "over"),
        (lambda: Regimen.repeated(100, 1, n_doses=60_000).courses(2, every="10 wk"), "n"),
        (lambda: Regimen.repeated(100, 1, n_doses=60_000).then(Regimen.repeated(100, 1, n_doses=60_000)), "then"),
        (lambda: Regimen.repeated(100, 1, n_doses=60_000) + Regimen.repeated(100, 1, n_doses=60_000), "+"),
    ],
)
def test_more_than_max_doses_is_refused_naming_the_count_and_the_limit(make, field):
    with pytest.raises(PKModelError) as err:
        make()
    assert err.value.field == field
    assert str(MAX_DOSES) in str(err.value) and "MAX_DOSES" in str(err.value)


def test_the_count_is_checked_before_any_dose_is_built():
    tracemalloc.start()
    for make in (
        lambda: Regimen.repeated("500 mg", "12 h", n_doses=10**12),
        lambda: Regimen.repeated("500 mg", "1 s", over="1e6 h"),
        lambda: Regimen.daily("500 mg", ["08:00"], days=10**15),
        lambda: Regimen.single(1).courses(10**12, every="1 d"),
    ):
        with pytest.raises(PKModelError, match="more than the limit"):
            make()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10e6  # 1e12 Dose objects were never made


def test_exactly_max_doses_is_allowed_and_the_count_names_it():
    with pytest.raises(PKModelError, match=f"that is {MAX_DOSES + 1} doses"):
        Regimen.repeated(1, 1, n_doses=MAX_DOSES + 1)
    with pytest.raises(PKModelError, match="that is 2419200 doses"):  # 4 weeks of seconds
        Regimen.repeated(1, "1 s", over="4 weeks")


def test_text_and_event_tables_share_the_limit():
    with pytest.raises(PKModelError, match=f"more than the limit of {MAX_DOSES}") as err:
        Regimen.parse("500 mg IV q1h x 60000 + 500 mg IV q1h x 60000")
    assert err.value.field == "regimen" and "'+'" in str(err.value)
    frame = pd.DataFrame({"time_h": np.zeros(MAX_DOSES + 1), "amount_mg": 1.0, "route": "iv"})
    with pytest.raises(PKModelError, match="more than the limit") as err:
        Regimen.from_frame(frame)
    assert err.value.field == "frame"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dose(MAX_TIME_H * 1.000001, 100),
        lambda: Dose(0, 100, duration=2 * MAX_TIME_H),
        lambda: Dose(0, 100, ss=1, interval=2 * MAX_TIME_H),
        lambda: Dose(0, 100, "oral", tlag=2 * MAX_TIME_H),
        lambda: Regimen.single(100, time="1e200 h"),
        lambda: Regimen.repeated(100, "1000 d", n_doses=50),
        lambda: Regimen.daily(100, ["08:00"], days=50_000),
        lambda: Regimen.single(100).shifted(2e6),
    ],
)
def test_times_beyond_the_horizon_are_refused(make):
    with pytest.raises(PKModelError, match="MAX_TIME_H"):
        make()


def test_a_dose_at_the_horizon_is_allowed():
    assert Dose(MAX_TIME_H, 100).time == MAX_TIME_H


# --- 2. loading doses -----------------------------------------------------------------------------


def test_single_then_repeated_starts_one_interval_after_the_loading_dose():
    loading = Regimen.single("500 mg", "iv").then(Regimen.repeated("250 mg", "12 h", n_doses=5))
    assert times_amounts(loading) == [(0.0, 500.0)] + [(12.0 * i, 250.0) for i in range(1, 6)]
    assert loading.interval == 12.0
    # The issue: 750 mg at t = 0. By hand: 500 mg alone at 0 h, then the sum of decays.
    t = [0.0, 11.0, 13.0, 70.0]
    expected = [bolus_sum(times_amounts(loading), x) for x in t]
    assert expected[0] == pytest.approx(500 / V)
    np.testing.assert_allclose(simulate(ONE, loading, t).concentration[0], expected, rtol=1e-12)


def test_loading_dose_in_text_matches_the_constructors():
    text = Regimen.parse("500 mg IV then 250 mg IV q12h x 5")
    code = Regimen.single("500 mg", "iv").then(Regimen.repeated("250 mg", "12 h", n_doses=5))
    assert text.doses == code.doses
    assert text.dose_times.tolist() == [0.0, 12.0, 24.0, 36.0, 48.0, 60.0]


def test_after_a_long_loading_infusion_the_next_part_waits_for_its_end():
    r = Regimen.single("1 g", duration="20 h").then(Regimen.repeated("500 mg", "12 h", n_doses=2))
    assert r.dose_times.tolist() == [0.0, 20.0, 32.0]


def test_then_after_a_repeating_part_is_unchanged():
    r = Regimen.repeated(100, 24, n_doses=2).then(Regimen.repeated(50, 12, n_doses=2))
    assert r.dose_times.tolist() == [0.0, 24.0, 48.0, 60.0]


def test_two_non_repeating_parts_need_a_gap():
    with pytest.raises(PKModelError, match="gap") as err:
        Regimen.single(500).then(Regimen.single(250))
    assert err.value.field == "gap"
    with pytest.raises(PKModelError, match="then after"):
        Regimen.parse("500 mg IV then 250 mg IV")
    r = Regimen.single(500, duration=1).then(Regimen.single(250), gap="12 h")
    assert r.dose_times.tolist() == [0.0, 13.0]  # the break runs from the end of the infusion
    assert Regimen.parse("500 mg IV over 1 h then after 12 h 250 mg IV").doses == r.doses


def test_explicit_gap_after_a_single_dose_is_a_break_after_it():
    r = Regimen.single(500).then(Regimen.repeated(250, 12, n_doses=2), gap="6 h")
    assert r.dose_times.tolist() == [0.0, 6.0, 18.0]


def test_repeated_with_a_loading_dose():
    r = Regimen.repeated("250 mg", "12 h", n_doses=4, loading="1 g")
    assert times_amounts(r) == [(0.0, 1000.0), (12.0, 250.0), (24.0, 250.0), (36.0, 250.0)]
    assert "loading" in str(r)
    t = np.array([1.0, 30.0, 40.0])
    expected = [bolus_sum(times_amounts(r), x) for x in t]
    np.testing.assert_allclose(simulate(ONE, r, t).concentration[0], expected, rtol=1e-12)
    assert Regimen.parse("250 mg IV q12h x 4 loading 1 g").doses == r.doses
    assert Regimen.parse("250 mg IV loading dose 1 g q12h x 4").doses == r.doses


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: Regimen.repeated([1, 2], 12, loading=5), "not a list"),
        (lambda: Regimen.repeated(1, 12, n_doses=2, loading=5, steady_state=True), "steady state"),
        (lambda: Regimen.repeated(1, 12, n_doses=2, loading="-5 mg"), "> 0"),
        (lambda: Regimen.parse("250 mg IV loading 1 g"), "frequency"),
        (lambda: Regimen.parse("250 mg IV q12h x 2 ss loading 1 g"), "steady state"),
    ],
)
def test_bad_loading_doses(make, needle):
    with pytest.raises(PKModelError, match=needle):
        make()


# --- 3. rate= means NONMEM's rate ----------------------------------------------------------------


def test_rate_is_kept_as_the_dose_rate():
    for r in (Regimen.single("600 mg", rate="200 mg/h"), Regimen.repeated(600, 24, n_doses=1, rate=200),
              Regimen.daily(600, ["08:00"], days=1, route="iv", rate=200), Regimen.parse("600 mg IV at 200 mg/h"),
              Regimen.parse("600 mg IV rate 200 mg/h")):
        dose = r.doses[0]
        assert (dose.rate, dose.duration) == (200.0, 0.0), r
        assert r.end == dose.time + 3.0
    assert Regimen.single(600, rate=200).doses == (Dose(0, 600, rate=200.0),)


def test_rate_infusion_against_the_closed_form():
    # 600 mg at 200 mg/h runs 3 h: C = R/CL·(1 - e^-kt) during, then decays from C(3).
    r = Regimen.single("600 mg", rate="200 mg/h")
    t = np.array([1.0, 3.0, 10.0])
    during = 200 / (K * V) * (1 - np.exp(-K * np.minimum(t, 3.0)))
    expected = during * np.exp(-K * np.maximum(t - 3.0, 0.0))
    np.testing.assert_allclose(simulate(ONE, r, t).concentration[0], expected, rtol=1e-12)


def test_rate_with_a_dose_f_lasts_f_amount_over_rate():
    # NONMEM: with F = 0.5 the 600 mg dose gives 300 mg at 200 mg/h, i.e. for 1.5 h, not 3 h.
    r = Regimen((Dose(0, 600, "iv", rate=200, f=0.5),))
    t = np.array([1.0, 1.5, 5.0])
    during = 200 / (K * V) * (1 - np.exp(-K * np.minimum(t, 1.5)))
    expected = during * np.exp(-K * np.maximum(t - 1.5, 0.0))
    np.testing.assert_allclose(simulate(ONE, r, t).concentration[0], expected, rtol=1e-12)


# --- 4. infusions are IV in the friendly constructors and the text --------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Regimen.single(500, "oral", duration=0.5),
        lambda: Regimen.single(500, "ORAL", rate="100 mg/h"),
        lambda: Regimen.repeated(500, 12, n_doses=2, route="oral", duration="30 min"),
        lambda: Regimen.daily(500, ["08:00"], days=2, duration=1),
        lambda: Regimen.parse("500 mg PO over 30 min"),
        lambda: Regimen.parse("500 mg PO q12h x 2 at 50 mg/h"),
        lambda: Regimen.parse("500 mg PO at 08:00 for 2 d over 1 h"),
    ],
)
def test_an_oral_infusion_is_refused_with_the_way_to_write_it(make):
    with pytest.raises(PKModelError, match="an infusion is an IV dose") as err:
        make()
    assert "Dose(..., route='oral', duration=...)" in str(err.value)


def test_dose_itself_may_infuse_into_the_depot():
    assert Dose(0, 500, "oral", duration=0.5).infusion


# --- 5. no silent coercion ----------------------------------------------------------------------


@pytest.mark.parametrize("start_day", ["2", 1.5, -1, True, 2.0, None])
def test_start_day_must_be_a_whole_number(start_day):
    with pytest.raises(PKModelError) as err:
        Regimen.daily("500 mg", ["08:00"], days=2, start_day=start_day)
    assert err.value.field == "start_day"


def test_start_day_moves_whole_days():
    r = Regimen.daily("500 mg", ["08:00"], days=2, start_day=np.int64(2))
    assert r.dose_times.tolist() == [56.0, 80.0]
    assert "from day 2" in str(r)


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [("ss", 1.5, "row 0: ss"), ("reset", "yes", "row 0: reset"), ("reset", 2, "row 0: reset"),
     ("f", True, "row 0: f"), ("duration_h", "x", "row 0: duration")],
)
def test_event_table_cells_are_not_rounded(column, value, field):
    frame = pd.DataFrame({"time_h": [0.0], "amount_mg": [100.0], "route": ["iv"], "interval_h": [12.0]})
    frame[column] = pd.Series([value], dtype=object)
    if column != "ss":
        frame["ss"] = 1
    with pytest.raises(PKModelError) as err:
        Regimen.from_frame(frame)
    assert err.value.field == field


def test_event_table_unknown_columns_are_refused():
    frame = pd.DataFrame({"time_h": [0.0], "amount_mg": [100.0], "route": ["iv"], "rate_mg_hr": [50.0]})
    with pytest.raises(PKModelError, match="unknown column"):
        Regimen.from_frame(frame)


@pytest.mark.parametrize(
    "make",
    [lambda: Dose(0, 100, f=True), lambda: Dose(0, 100, ss=1.0, interval=12), lambda: Dose(0, 100, reset=1),
     lambda: Regimen.single(100).shifted(True), lambda: Regimen.repeated(1, 12, n_doses=3).miss(probability=True)],
)
def test_dose_fields_are_not_coerced(make):
    with pytest.raises(PKModelError):
        make()


# --- 6. lossless event tables ------------------------------------------------------------------

finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def doses(draw):
    reset = draw(st.booleans())
    amount = draw(st.floats(0.0 if reset else 1e-6, 1e6, **finite).filter(lambda a: reset or a > 0))
    route = draw(st.sampled_from(["iv", "oral", "peripheral"]))
    kind = draw(st.sampled_from(["bolus", "duration", "rate"]))
    ss = draw(st.sampled_from([0, 1, 2]))
    return Dose(
        draw(st.floats(0, MAX_TIME_H, **finite)),
        amount,
        route,
        draw(st.floats(1e-6, 1e3, **finite)) if kind == "duration" else 0.0,
        ss,
        draw(st.floats(1e-3, 1e3, **finite)) if ss else None,
        draw(st.floats(1e-3, 1e6, **finite)) if kind == "rate" else None,
        draw(st.none() | st.floats(1e-6, 1.0, **finite).filter(lambda f: f > 0)),
        draw(st.none() | st.floats(0, 1e3, **finite)),
        reset,
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(doses(), min_size=1, max_size=8), st.none() | st.floats(0.5, 100, **finite))
def test_event_table_round_trip_is_lossless(dose_list, interval):
    regimen = Regimen(tuple(dose_list), interval)
    back = Regimen.from_frame(regimen.to_frame(), interval=regimen.interval)
    assert back.doses == regimen.doses
    assert back.interval == regimen.interval


@settings(max_examples=50, deadline=None)
@given(st.lists(doses(), min_size=1, max_size=6))
def test_event_table_round_trip_through_csv(tmp_path_factory, dose_list):
    regimen = Regimen(tuple(dose_list))
    path = tmp_path_factory.mktemp("csv") / "regimen.csv"
    regimen.to_frame().to_csv(path, index=False)
    back = Regimen.from_frame(pd.read_csv(path))
    assert back.doses == regimen.doses


def test_empty_optional_cells_mean_not_given():
    frame = pd.DataFrame({
        "time_h": [0.0, 12.0], "amount_mg": [100.0, 100.0], "route": ["oral", "iv"],
        "duration_h": [np.nan, 2.0], "rate_mg_h": [np.nan, np.nan], "ss": [np.nan, 1.0], "interval_h": [None, 24.0],
        "f": [0.5, np.nan], "tlag_h": [np.nan, 0.25], "reset": [None, True],
    })
    assert Regimen.from_frame(frame).doses == (
        Dose(0.0, 100.0, "oral", f=0.5), Dose(12.0, 100.0, "iv", 2.0, ss=1, interval=24.0, tlag=0.25, reset=True)
    )


# --- 7. one clock parser ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "hours"), [("08:00", 8.0), (" 8:30 ", 8.5), ("23:59", 23 + 59 / 60), (0, 0.0),
                                              (13.25, 13.25), (np.float64(6.0), 6.0)])
def test_parse_clock(value, hours):
    assert parse_clock(value, field="at") == hours


@pytest.mark.parametrize("value", ["24:00", 24, "25:00", "08:60", "8:5", "08:00:00", "٠٨:٠٠", "²:00", "", "8",
                                   True, None, float("nan"), -1, [8]])
def test_parse_clock_refuses(value):
    with pytest.raises(PKModelError) as err:
        parse_clock(value, field="at")
    assert err.value.field == "at" and "23:59" in str(err.value)


def test_end_of_day_only_where_allowed():
    assert parse_clock("24:00", field="late_dose_after", allow_end_of_day=True) == 24.0
    assert parse_clock(24, field="late_dose_after", allow_end_of_day=True) == 24.0
    with pytest.raises(PKModelError, match="24:00"):
        parse_clock("24:01", field="late_dose_after", allow_end_of_day=True)
    with pytest.raises(PKModelError) as err:
        Regimen.daily(100, ["24:00"], days=1)
    assert err.value.field == "at"
    with pytest.raises(PKModelError, match="00:00 to 23:59"):
        Regimen.parse("100 mg PO at 24:00 for 2 d")


def test_label_cut_off_uses_the_same_parser():
    from pkmodel.drugs.label import load_label_rules

    assert load_label_rules("mildronate-populations", late_dose_after="24:00").late_dose_after == 24.0
    with pytest.raises(PKModelError) as err:
        load_label_rules("mildronate-populations", late_dose_after="²:00")
    assert err.value.field == "late_dose_after"


# --- 8. short error values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "500 mg IV q12h x 5 " + "banana " * 20_000,
        "500 mg IV q12h x 5 " + "x" * 100_000,
        "500 " + "m" * 100_000 + " IV",
        "1" * 100_000 + " mg IV",
        "500 mg IV " + "q12h " * 20_000,
        "500 mg IV q12h x 5 ; " + "a" * 100_000,
        "a" * 50_000 + " 500 mg IV",
    ],
)
def test_errors_on_long_texts_quote_a_short_window(text):
    with pytest.raises(PKModelError) as err:
        Regimen.parse(text)
    assert len(err.value.value) <= 30 + 40 + 30 + 2
    assert err.value.value.strip("…") in text
    assert len(str(err.value)) < 1000


@settings(max_examples=100, deadline=None)
@given(prefix=st.text(max_size=50), word=st.text(min_size=200, max_size=2000), suffix=st.text(max_size=2000))
def test_every_text_error_is_short(prefix, word, suffix):
    try:
        Regimen.parse(prefix + word + suffix)
    except PKModelError as err:
        assert err.field == "regimen" and len(str(err)) < 1000


# --- 9. short reprs ---------------------------------------------------------------------------------


def test_repr_is_one_short_line():
    r = Regimen.parse("500 mg IV over 30 min q24h x 10 then 500 mg PO bid for 4 weeks")
    text = repr(r)
    assert "\n" not in text and len(text) < 300 and "Dose(" not in text
    assert "66 doses from 0 h to 900 h" in text and "500 mg IV over 0.5 h" in text
    assert repr(Regimen.single(100)) == "Regimen('100 mg IV'; 1 dose at 0 h)"


def test_repr_html_shows_the_first_rows():
    r = Regimen.parse("500 mg IV over 30 min q24h x 10 then 500 mg PO bid for 4 weeks")
    page = r._repr_html_()
    assert page.count("<tr") == 1 + 10  # header and the first 10 doses
    assert "duration_h" in page and "reset" not in page  # columns with nothing to say are left out
    assert "56 more doses" in page and "500 mg IV over 0.5 h" in page
    assert "&lt;" in Regimen((Dose(0, 1),), text="<b>")._repr_html_()


# --- junk into the constructors: a Regimen or a PKModelError ----------------------------------------

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=12),
    st.sampled_from(["500 mg", "12 h", "1 s", "1e300 h", "2 d", "50 mg/h", "08:00", "24:00", "oral", "iv"]),
    st.lists(st.sampled_from(["08:00", 8, "25:00", "x"]), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(amount=junk, interval=junk, n=junk, over=junk, route=junk, duration=junk, rate=junk, start=junk,
       loading=junk)
def test_repeated_with_junk_gives_a_regimen_or_a_pkmodel_error(amount, interval, n, over, route, duration, rate,
                                                               start, loading):
    try:
        r = Regimen.repeated(amount, interval, n_doses=n, over=over, route=route, duration=duration, rate=rate,
                             start=start, loading=loading)
    except PKModelError:
        return
    assert isinstance(r, Regimen) and 1 <= len(r.doses) <= MAX_DOSES


@settings(max_examples=150, deadline=None)
@given(amount=junk, at=junk, days=junk, over=junk, route=junk, duration=junk, start_day=junk)
def test_daily_with_junk_gives_a_regimen_or_a_pkmodel_error(amount, at, days, over, route, duration, start_day):
    try:
        r = Regimen.daily(amount, at, days=days, over=over, route=route, duration=duration, start_day=start_day)
    except PKModelError:
        return
    assert isinstance(r, Regimen) and 1 <= len(r.doses) <= MAX_DOSES


@settings(max_examples=150, deadline=None)
@given(amount=junk, route=junk, duration=junk, rate=junk, at=junk, gap=junk, n=junk, every=junk)
def test_single_and_combinations_with_junk_give_a_regimen_or_a_pkmodel_error(amount, route, duration, rate, at, gap,
                                                                             n, every):
    try:
        r = Regimen.single(amount, route, duration=duration, rate=rate, time=at)
        r = r.then(Regimen.repeated(100, 12, n_doses=2), gap=gap)
        r = r.courses(n, every=every)
    except PKModelError:
        return
    assert isinstance(r, Regimen) and 1 <= len(r.doses) <= MAX_DOSES


def test_a_loading_dose_with_clock_times_is_refused_not_dropped():
    with pytest.raises(PKModelError, match="without clock times"):
        Regimen.parse("250 mg PO bid at 08:00,20:00 for 2 d loading 1 g")


@settings(max_examples=150, deadline=None)
@given(numbers=junk, probability=junk, seed=junk, delays=st.one_of(junk, st.dictionaries(st.integers(-2, 6) | st.floats() | st.text(max_size=3), junk, max_size=3)),
       by=junk, doses=junk)
def test_changes_with_junk_give_a_regimen_or_a_pkmodel_error(numbers, probability, seed, delays, by, doses):
    base = Regimen.repeated(100, 12, n_doses=4)
    for change in (lambda: base.miss(numbers, probability=probability, seed=seed), lambda: base.late(delays),
                   lambda: base.shifted(by), lambda: Regimen(doses)):
        try:
            r = change()
        except PKModelError:
            continue
        assert isinstance(r, Regimen) and r.doses
