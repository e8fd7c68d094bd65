"""Tests for pkmodel.dosing.text: hand-written dose lists, error messages and property tests."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pkmodel.dosing.text
import pkmodel.dosing.words
from pkmodel.dosing.regimen import Regimen
from pkmodel.dosing.text import Part, Plus, Then, read_plan
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES, MAX_TIME_H


def infusion_h(dose) -> float:
    """Length of the administration, h, whether the dose stores a duration or a rate."""
    rate = getattr(dose, "rate", None)
    return dose.duration if dose.duration or rate is None else dose.amount / rate


def doses(regimen: Regimen) -> list[tuple]:
    return [(d.time, d.amount, d.route, infusion_h(d), d.ss) for d in regimen.doses]


def parse(text: str) -> Regimen:
    return Regimen.parse(text)


# --- the examples, against dose lists written out by hand -------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "route"),
    [
        ("500 mg IV", 500.0, "iv"),
        ("500mg iv", 500.0, "iv"),
        ("500 mg intravenous", 500.0, "iv"),
        ("500 mg i.v.", 500.0, "iv"),
        ("1 g PO", 1000.0, "oral"),
        ("1 g oral", 1000.0, "oral"),
        ("1 g p.o.", 1000.0, "oral"),
        ("250 mcg Po", 0.25, "oral"),
        ("1.5 g IV", 1500.0, "iv"),
    ],
)
def test_single_dose(text, amount, route):
    assert doses(parse(text)) == [(0.0, amount, route, 0.0, 0)]


def test_q12h_for_14_days_is_28_doses():
    # Every dose that starts before the end of day 14: 0, 12, ..., 324 h.
    expected = [(12.0 * i, 500.0, "iv", 0.0, 0) for i in range(28)]
    assert expected[-1][0] == 324.0
    assert doses(parse("500 mg IV q12h x 14 d")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "500 mg IV q12h x 14 d",
        "500 mg IV q 12 h x 14 d",
        "500 mg IV q12 h x 14 days",
        "500 mg IV every 12 h x 14 d",
        "500 mg IV every 12 hours for 14 days",
        "500 mg IV q12h for 2 weeks",
        "500 mg IV Q12H X 14 D",
        "500mg IV q12h x14d",
        "500 mg IV, q12h, × 14 d",
        "500 mg IV bid x 14 d",
        "500 mg IV twice daily x 14 d",
        "500 mg IV 2 times a day x 14 d",
        "500 mg IV two times per day x 14 d",
        "500 mg IV b.i.d. x 336 h",
        "500 mg IV q12h x 28",
        "500 mg IV q12h x 28 doses",
        "500 mg IV q12h for 28 doses",
    ],
)
def test_spellings_of_the_same_regimen(text):
    assert doses(parse(text)) == [(12.0 * i, 500.0, "iv", 0.0, 0) for i in range(28)]


def test_count_is_a_number_of_doses():
    assert doses(parse("500 mg IV q12h x 10")) == [(12.0 * i, 500.0, "iv", 0.0, 0) for i in range(10)]
    assert doses(parse("500 mg IV q24h x 3")) == [(0.0, 500.0, "iv", 0.0, 0), (24.0, 500.0, "iv", 0.0, 0),
                                                   (48.0, 500.0, "iv", 0.0, 0)]
    assert parse("500 mg IV q8h x 4").dose_times.tolist() == [0.0, 8.0, 16.0, 24.0]


@pytest.mark.parametrize(
    ("words", "hours"),
    [
        ("daily", 24.0), ("once daily", 24.0), ("once a day", 24.0), ("qd", 24.0), ("every day", 24.0),
        ("q24h", 24.0), ("bid", 12.0), ("BID", 12.0), ("twice daily", 12.0), ("2 times a day", 12.0),
        ("2x daily", 12.0), ("tid", 8.0), ("three times daily", 8.0), ("3 times a day", 8.0), ("thrice daily", 8.0),
        ("q8h", 8.0), ("qid", 6.0), ("four times daily", 6.0), ("q6h", 6.0), ("weekly", 168.0),
        ("every 2 days", 48.0), ("q 90 min", 1.5),
    ],
)
def test_frequency_words(words, hours):
    regimen = parse(f"100 mg PO {words} x 3")
    assert regimen.interval == hours
    assert doses(regimen) == [(i * hours, 100.0, "oral", 0.0, 0) for i in range(3)]


def test_daily_for_six_weeks():
    assert doses(parse("1 g PO daily for 6 weeks")) == [(24.0 * i, 1000.0, "oral", 0.0, 0) for i in range(42)]


def test_tid_for_seven_days():
    assert doses(parse("500 mg PO tid for 7 days")) == [(8.0 * i, 500.0, "oral", 0.0, 0) for i in range(21)]


@pytest.mark.parametrize(
    "text",
    [
        "500 mg PO bid at 08:00,14:00 for 10 days",
        "500 mg PO bid at 08:00, 14:00 for 10 days",
        "500 mg PO bid at 8:00 , 14:00 for 10 days",
        "500 mg PO at 08:00 and 14:00 for 10 days",
        "500 mg PO twice daily at 14:00,08:00 x 20",
        "500 mg PO at 08:00,14:00 q12h x 10 d",
    ],
)
def test_clock_times(text):
    expected = [(24.0 * day + h, 500.0, "oral", 0.0, 0) for day in range(10) for h in (8.0, 14.0)]
    assert expected[:4] == [(8.0, 500.0, "oral", 0.0, 0), (14.0, 500.0, "oral", 0.0, 0),
                            (32.0, 500.0, "oral", 0.0, 0), (38.0, 500.0, "oral", 0.0, 0)]
    assert doses(parse(text)) == expected


def test_clock_times_from_a_later_day():
    assert parse("500 mg PO at 08:00 for 2 days starting 3 d").dose_times.tolist() == [80.0, 104.0]


def test_iv_then_oral():
    regimen = parse("500 mg IV over 30 min q24h x 10 then 500 mg PO bid for 4 weeks")
    iv = [(24.0 * i, 500.0, "iv", 0.5, 0) for i in range(10)]
    oral = [(240.0 + 12.0 * j, 500.0, "oral", 0.0, 0) for j in range(56)]
    assert doses(regimen) == iv + oral
    assert regimen.interval == 12.0


def test_then_after_a_break():
    regimen = parse("1 g IV q24h x 2 then after 2 d 500 mg PO daily x 2")
    assert doses(regimen) == [(0.0, 1000.0, "iv", 0.0, 0), (24.0, 1000.0, "iv", 0.0, 0),
                              (96.0, 500.0, "oral", 0.0, 0), (120.0, 500.0, "oral", 0.0, 0)]


@pytest.mark.parametrize("text", ["500 mg IV at 50 mg/h", "500 mg IV rate 50 mg/h", "500 mg IV over 10 h",
                                  "500 mg IV over 600 min"])
def test_infusion_length_or_rate(text):
    assert doses(parse(text)) == [(0.0, 500.0, "iv", 10.0, 0)]


def test_rate_matches_the_constructor():
    assert parse("500 mg IV at 50 mg/h q24h x 2").doses == Regimen.repeated(
        500, 24, n_doses=2, rate="50 mg/h"
    ).doses


@pytest.mark.parametrize("words", ["ss", "SS", "from steady state", "at steady state", "steady state", "steady-state"])
def test_steady_state(words):
    regimen = parse(f"500 mg PO q12h x 3 {words}")
    assert [(d.time, d.ss, d.interval) for d in regimen.doses] == [(0.0, 1, 12.0), (12.0, 0, None), (24.0, 0, None)]


@pytest.mark.parametrize(
    ("text", "times"),
    [
        ("500 mg IV starting at 8 h", [8.0]),
        ("500 mg IV at 8 h", [8.0]),
        ("500 mg IV q12h x 2 start 2 d", [48.0, 60.0]),
        ("500 mg IV q12h x 2 from 30 min", [0.5, 12.5]),
    ],
)
def test_start(text, times):
    assert parse(text).dose_times.tolist() == times


@pytest.mark.parametrize("plus", ["+", "and"])
def test_merge(plus):
    regimen = parse(f"500 mg IV q12h x 2 {plus} 100 mg PO q24h x 2 starting 6 h")
    assert doses(regimen) == [(0.0, 500.0, "iv", 0.0, 0), (6.0, 100.0, "oral", 0.0, 0),
                              (12.0, 500.0, "iv", 0.0, 0), (30.0, 100.0, "oral", 0.0, 0)]


def test_clock_times_after_another_part_use_plus_and_start():
    regimen = parse("500 mg IV q24h x 2 + 500 mg PO at 08:00,20:00 for 2 days starting 2 d")
    assert regimen.dose_times.tolist() == [0.0, 24.0, 56.0, 68.0, 80.0, 92.0]


def test_str_reads_as_the_constructor_sentence():
    assert str(parse("500 mg IV q12h x 14 d")) == str(Regimen.repeated("500 mg", "12 h", over="14 d"))
    assert "every 12 h" in str(parse("500 mg IV q12h x 14 d"))
    assert str(parse("1 g PO")) == str(Regimen.single("1 g", "oral"))
    text = str(parse("500 mg IV over 30 min q24h x 10 then 500 mg PO bid for 4 weeks"))
    assert " then " in text and "oral" in text


# --- errors: quote the word, say where and what was expected ------------------------------------


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("500 mg IV q12h x 14 dayz", ["'dayz'", "a time unit", "word 7", "character 21", "days"]),
        ("500 mg IV q12h daily", ["'daily'", "word 5", "frequency is already given by 'q12h'"]),
        ("500 mg IV q12h bid x 3", ["'bid'", "already given by 'q12h'"]),
        ("500 mg XYZ", ["'XYZ'", "word 3", "a route", "IV", "PO", "oral"]),
        ("mg 500", ["'mg'", "word 1", "a dose such as '500 mg'"]),
        ("500 mg IV x 14 d", ["'x'", "word 4", "a frequency such as q12h", "needed before 'x'"]),
        ("500 mg IV for 7 days", ["'for'", "needed before 'for'"]),
        ("500 mg IV q12h x", ["'x'", "word 5", "the text ends", "a number of doses or a treatment length"]),
        ("500 q12h", ["'q'", "word 2", "an amount unit", "mg"]),
        ("500 IV", ["'IV'", "an amount unit"]),
        ("500", ["'500'", "the text ends", "an amount unit"]),
        ("500 mg", ["'mg'", "the text ends", "a route"]),
        ("500 MG IV", ["'MG'", "an amount unit"]),
        ("500 h IV", ["'h'", "is a time unit", "amount"]),
        ("500 mg IV q12h", ["'q12h'", "a length", "x 10"]),
        ("500 mg IV q12h x 10 q8h", ["'q8h'", "already given"]),
        ("500 mg IV q12h x 10 for 3 d", ["'for 3 d'", "the length is already given by 'x 10'"]),
        ("500 mg IV PO", ["'PO'", "route is already given by 'IV'"]),
        ("500 mg IV over 30 min at 50 mg/h", ["'at 50 mg/h'", "already given by 'over 30 min'"]),
        ("500 mg IV q12h x 14 d banana", ["'banana'", "word 8", "a frequency", "'then'"]),
        ("500 mg IV q12h x 0", ["'0'", "whole number"]),
        ("500 mg IV q12h x 2.5", ["'2.5'", "whole number"]),
        ("500 mg IV q12h for 10", ["'10'", "a time unit"]),
        ("500 mg IV q0h x 3", ["'0'", "more than 0"]),
        ("500 mg IV q x 3", ["'x'", "a time unit"]),
        ("0 mg IV", ["'0'", "the dose must be more than 0"]),
        ("500 mg IV over 0 min", ["'0'", "more than 0"]),
        ("500 mg IV over 30", ["'30'", "a time unit"]),
        ("500 mg IV at 50 mg", ["'mg'", "a rate such as 50 mg/h"]),
        ("500 mg IV at 8", ["'8'", "the text ends", "clock times"]),
        ("500 mg IV ss", ["'ss'", "steady state needs a frequency"]),
        ("500 mg IV q12h x 2 steady", ["'steady'", "'state'"]),
        ("500 mg PO at 25:00 for 2 d", ["'25:00'", "00:00 to 23:59"]),
        ("500 mg PO at 08:00,08:00 for 2 d", ["'08:00'", "already given"]),
        ("500 mg PO tid at 08:00,14:00 for 2 d",
         ["'at 08:00,14:00'", "2 clock times given", "'tid' means 3 doses a day"]),
        ("500 mg PO weekly at 08:00 x 2", ["'at 08:00'", "'weekly'"]),
        ("500 mg PO bid at 08:00,14:00 x 3", ["'x 3'", "multiple of 2"]),
        ("500 mg PO at 08:00", ["'at 08:00'", "a length"]),
        ("500 mg PO at 08:00 for 2 d ss", ["'ss'", "clock times"]),
        ("500 mg PO at 08:00 for 2 d starting 3 h", ["'starting 3 h'", "whole number of days"]),
        ("500 mg PO 2 times a week x 3", ["'week'", "'a day'"]),
        ("500 mg PO 2 daily x 3", ["'daily'", "'times'"]),
        ("500 mg IV q12h x 3,", ["','", "the text ends", "another clause"]),
        ("500 mg IV; q12h", ["';'", "word 3", "character 10", "unexpected character"]),
        ("500 mg IV q12h x 3 then", ["'then'", "the text ends", "a dose"]),
        ("500 mg IV q12h x 3 +", ["'+'", "the text ends", "a dose"]),
        ("500 mg IV q24h x 2 then 1 g PO daily x 2 from 3 h", ["'from 3 h'", "then after"]),
        ("500 mg IV q24h x 2 then 500 mg PO at 08:00,20:00 for 2 d", ["'at 08:00,20:00'", "'then'", "starting"]),
        ("500 mg IV q1s for 52 weeks", ["'for 52 weeks'", f"more than {MAX_DOSES} doses"]),
        ("500 mg IV q12h x 1000000", ["'1000000'", "whole number from 1"]),
        ("1" + "0" * 400 + " mg IV", ["word 1", "finite"]),
        ("", ["empty", "500 mg IV q12h x 14 d"]),
        ("   ", ["empty"]),
    ],
)
def test_errors_quote_the_word_and_the_expectation(text, needles):
    with pytest.raises(PKModelError) as info:
        Regimen.parse(text)
    assert info.value.field == "regimen"
    # The value is the text around the bad word (the whole text when it is short), never more.
    assert info.value.value.strip("…") in text and len(info.value.value) <= 30 + 40 + 30 + 2
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


@pytest.mark.parametrize("value", [None, 500, b"500 mg IV", ["500 mg IV"]])
def test_not_a_string(value):
    with pytest.raises(PKModelError, match="expected a string"):
        Regimen.parse(value)


# --- layers: text.py reads the words, Regimen.parse builds ---------------------------------------


def _pkmodel_imports(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return {name for name in imported if name.split(".")[0] == "pkmodel"}


def test_text_imports_nothing_from_regimen():
    # Every import, also inside functions or under TYPE_CHECKING: regimen.py imports text.py, and
    # text.py reads its words with words.py, which is below both.
    assert _pkmodel_imports(pkmodel.dosing.text) == {
        "pkmodel.dosing.words", "pkmodel.errors", "pkmodel.limits", "pkmodel.units"
    }
    assert _pkmodel_imports(pkmodel.dosing.words) == {"pkmodel.errors", "pkmodel.limits", "pkmodel.units"}


def test_the_plan_is_constructor_calls_in_postfix_order():
    steps = list(read_plan("500 mg IV then 250 mg IV q12h x 5 + 1 g PO at 08:00 for 2 d"))
    assert [type(step) for step in steps] == [Part, Part, Then, Part, Plus]
    single, repeated, then, daily, _ = steps
    assert (single.constructor, single.args, dict(single.kwargs)) == ("single", (500.0, "iv"), {"time": 0.0})
    assert (repeated.constructor, repeated.args) == ("repeated", (250.0, 12.0))
    assert dict(repeated.kwargs)["n_doses"] == 5 and repeated.text == "250 mg IV q12h x 5"
    assert then.gap is None
    assert (daily.constructor, daily.args) == ("daily", (1000.0, (8.0,)))  # 1 g; 08:00 is 8 h after midnight
    assert dict(daily.kwargs) == {"route": "oral", "start_day": 0, "over": 48.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        single.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("join", ["+", "then"])
def test_a_part_that_cannot_be_built_is_refused_before_the_words_after_it(join):
    # The tenth dose q12h from MAX_TIME_H - 1 h is past MAX_TIME_H; "foo" after it is never read.
    first = f"500 mg IV q12h x 10 starting {MAX_TIME_H - 1:.0f} h"
    with pytest.raises(PKModelError) as info:
        Regimen.parse(f"{first} {join} 1 mg foo")
    assert str(info.value).count(f"'{first}' (word 1, character 1): n_doses/over:") == 1
    assert "'foo'" not in str(info.value)


# --- properties -----------------------------------------------------------------------------------

ROUTES = [("IV", "iv"), ("iv", "iv"), ("intravenous", "iv"), ("i.v.", "iv"),
          ("PO", "oral"), ("po", "oral"), ("oral", "oral"), ("p.o.", "oral")]
WORD_FREQUENCIES = [("daily", 24.0), ("once daily", 24.0), ("qd", 24.0), ("every day", 24.0), ("bid", 12.0),
                    ("twice daily", 12.0), ("2 times a day", 12.0), ("tid", 8.0), ("three times daily", 8.0),
                    ("qid", 6.0), ("4 times a day", 6.0), ("weekly", 168.0)]


@st.composite
def frequencies(draw):
    hours = draw(st.integers(1, 72))
    spelled = draw(st.sampled_from(["q{}h", "q {} h", "q{} h", "every {} h", "Q{}H", "q{}hrs", "every {} hours"]))
    return draw(st.sampled_from([(spelled.format(hours), float(hours)), *WORD_FREQUENCIES]))


@st.composite
def lengths(draw):
    n = draw(st.integers(1, 60))
    if draw(st.booleans()):
        return draw(st.sampled_from([f"x {n}", f"x {n} doses", f"for {n} doses", f"× {n}"])), {"n_doses": n}
    unit = draw(st.sampled_from(["d", "days", "h", "hours", "weeks", "wk"]))
    return f"{draw(st.sampled_from(['x', 'for']))} {n} {unit}", {"over": f"{n} {unit}"}


@st.composite
def infusions(draw):
    kind = draw(st.sampled_from(["none", "over", "rate"]))
    if kind == "none":
        return None, {}
    if kind == "over":
        minutes = draw(st.integers(1, 240))
        return f"over {minutes} min", {"duration": f"{minutes} min"}
    rate = draw(st.integers(1, 1000))
    return draw(st.sampled_from([f"at {rate} mg/h", f"rate {rate} mg/h"])), {"rate": f"{rate} mg/h"}


@settings(max_examples=150, deadline=None)
@given(
    amount=st.one_of(st.integers(1, 2000).map(str), st.decimals("0.01", "99.99", places=2).map(str)),
    unit=st.sampled_from(["mg", "g", "mcg", "µg", "ug"]),
    glued=st.booleans(),
    route=st.sampled_from(ROUTES),
    frequency=frequencies(),
    length=lengths(),
    infusion=infusions(),
    steady=st.sampled_from(["", "ss", "from steady state"]),
    order=st.permutations(range(4)),
)
def test_text_gives_the_constructor_doses(amount, unit, glued, route, frequency, length, infusion, steady, order):
    (freq_text, hours), (length_text, length_kw), (infusion_text, infusion_kw) = frequency, length, infusion
    dose = f"{amount}{'' if glued else ' '}{unit}"
    clauses = [freq_text, length_text, infusion_text, steady]
    ordered = [clauses[i] for i in order]
    if ordered.index(length_text) < ordered.index(freq_text):  # "x" and "for" come after the frequency
        ordered.remove(length_text)
        ordered.insert(ordered.index(freq_text) + 1, length_text)
    text = " ".join([dose, route[0], *(c for c in ordered if c)])
    if route[1] == "oral" and infusion_kw:  # an infusion is IV only, in the text and the constructors
        with pytest.raises(PKModelError, match="an infusion is an IV dose"):
            Regimen.parse(text)
        with pytest.raises(PKModelError, match="an infusion is an IV dose"):
            Regimen.repeated(f"{amount} {unit}", hours, route=route[1], **length_kw, **infusion_kw)
        return
    expected = Regimen.repeated(
        f"{amount} {unit}", hours, route=route[1], steady_state=bool(steady), **length_kw, **infusion_kw
    )
    regimen = Regimen.parse(text)
    assert regimen.doses == expected.doses, text
    assert regimen.interval == expected.interval
    assert str(regimen) == str(expected)


@settings(max_examples=100, deadline=None)
@given(
    amount=st.integers(1, 2000),
    route=st.sampled_from(ROUTES),
    clock=st.lists(st.tuples(st.integers(0, 23), st.integers(0, 59)), min_size=1, max_size=4, unique=True),
    days=st.integers(1, 30),
    sep=st.sampled_from([",", ", ", " , "]),
)
def test_clock_text_gives_the_daily_doses(amount, route, clock, days, sep):
    at = [f"{h:02d}:{m:02d}" for h, m in clock]
    text = f"{amount} mg {route[0]} at {sep.join(at)} for {days} days"
    assert Regimen.parse(text).doses == Regimen.daily(amount, at, days=days, route=route[1]).doses


@settings(max_examples=100, deadline=None)
@given(amount=st.integers(1, 2000), route=st.sampled_from(ROUTES), start=st.integers(0, 100))
def test_single_text_gives_the_single_dose(amount, route, start):
    text = f"{amount} mg {route[0]}" + (f" starting at {start} h" if start else "")
    assert Regimen.parse(text).doses == Regimen.single(amount, route[1], time=start).doses


VOCABULARY = [
    "500", "0", "12", "1.5", ".5", "2.5", "100000", "1e3", "mg", "g", "mcg", "MG", "mg/h", "h", "d", "days",
    "min", "weeks", "IV", "PO", "p.o.", "oral", "i.v.", "q", "q12h", "Q8H", "every", "daily", "bid", "tid",
    "qid", "once", "twice", "two", "times", "a", "per", "day", "weekly", "x", "×", "for", "doses", "over",
    "rate", "at", "08:00", "14:00", "24:00", "from", "steady", "state", "ss", "start", "starting", "then",
    "after", "and", "+", ",", ";", "-", "banana", "", "µg", "١٢",
]


def parses_or_raises_pkmodel_error(text: str) -> None:
    try:
        result = Regimen.parse(text)
    except PKModelError as err:
        assert err.field == "regimen"
        assert str(err)
    else:
        assert isinstance(result, Regimen) and result.doses


@settings(max_examples=250, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=14).map(" ".join))
def test_word_salad_parses_or_raises_pkmodel_error(text):
    parses_or_raises_pkmodel_error(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=14).map("".join))
def test_glued_word_salad_parses_or_raises_pkmodel_error(text):
    parses_or_raises_pkmodel_error(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_junk_text_parses_or_raises_pkmodel_error(text):
    parses_or_raises_pkmodel_error(text)


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from(["500 mg IV q12h x 3", "1 g PO bid at 08:00,20:00 for 2 d", "500 mg IV"]),
       junk=st.text(max_size=20))
def test_valid_text_followed_by_junk_parses_or_raises_pkmodel_error(prefix, junk):
    parses_or_raises_pkmodel_error(f"{prefix} {junk}")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=14).map(" ".join))
def test_plan_steps_join_exactly_the_regimens_before_them(text):
    try:
        steps = list(read_plan(text))
    except PKModelError as err:
        assert err.field == "regimen"
        return
    built = 0
    for step in steps:
        built += 1 if isinstance(step, Part) else -1
        assert built >= 1
    assert built == 1
