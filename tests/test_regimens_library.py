"""The label regimen library (params/mildronate-regimens.toml, pkmodel.dosing.library): every entry builds, simulates,
keeps the source's ranges as variants, and says what it read from which sentence."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from pkmodel import PKModelError, Regimen, load_params, regimens, simulate
from pkmodel.drugs.label import LabelWarning
from pkmodel.params import data_dir
from pkmodel.units import parse_quantity

ROWS = {  # every row of the article's oral table, and the injection label
    "ischaemic-heart-disease",
    "dishormonal-cardiomyopathy",
    "after-stroke-or-infarction",
    "chronic-cerebrovascular",
    "mental-stress",
    "physical-stress",
    "alcohol-withdrawal",
    "respiratory-infections",
    "injection-then-oral",
}
LIBRARY = regimens.read(drug="mildronate")
VARIANTS = [(name, variant) for name in sorted(LIBRARY.entries) for variant in LIBRARY.entries[name].variants]


def clock(regimen):
    """Sorted distinct clock times (h after midnight) of a regimen's doses."""
    return sorted({round(d.time % 24, 9) for d in regimen.doses})


def days(regimen):
    """Sorted distinct calendar days with a dose."""
    return sorted({int(d.time // 24) for d in regimen.doses})


# --- what is in the library --------------------------------------------------------------------


def test_every_row_of_the_sources_is_an_entry():
    assert set(regimens.names()) == ROWS
    assert regimens.names() == sorted(regimens.names())
    assert (data_dir() / "mildronate-regimens.toml").is_file()


@pytest.mark.parametrize(("name", "variant"), VARIANTS, ids=[f"{n}:{v}" for n, v in VARIANTS])
def test_every_variant_loads_and_simulates_to_finite_non_negative_concentrations(name, variant):
    regimen = regimens.load(name, variant)
    assert isinstance(regimen, Regimen) and regimen.doses
    with warnings.catch_warnings():
        # Some article regimens exceed the injection label's cautions; test_label covers those.
        warnings.simplefilter("ignore", LabelWarning)
        sim = simulate(load_params("mildronate"), regimen)
    conc = sim.concentration
    assert np.all(np.isfinite(conc)) and np.all(conc >= 0) and conc.max() > 0
    assert str(regimen) and "\n" not in str(regimen)


def test_load_defaults_to_low():
    assert regimens.load("alcohol-withdrawal") == regimens.load("alcohol-withdrawal", "low")


# --- doses against hand-written readings of the quoted sentences ---------------------------------

# (name, variant): (number of doses, mg per dose, clock times, number of days, route)
EXPECTED = {
    # "500 mg-1 g / day, frequency of use 1-2 times / day. The course of treatment is 4-6 weeks."
    ("ischaemic-heart-disease", "low"): (28, 500, [8], 28, "oral"),
    ("ischaemic-heart-disease", "high"): (84, 500, [8, 14], 42, "oral"),
    ("ischaemic-heart-disease", "high-once"): (42, 1000, [8], 42, "oral"),
    # "500 mg/day The duration of the course is 12 days."
    ("dishormonal-cardiomyopathy", "low"): (12, 500, [8], 12, "oral"),
    ("dishormonal-cardiomyopathy", "high"): (12, 500, [8], 12, "oral"),
    # "500 mg-1 g / day, frequency of use - 2 times / day. The course of treatment is 4-6 weeks."
    ("after-stroke-or-infarction", "low"): (56, 250, [8, 14], 28, "oral"),
    ("after-stroke-or-infarction", "high"): (84, 500, [8, 14], 42, "oral"),
    # "500 mg / day. The duration of the course is 4-6 weeks."
    ("chronic-cerebrovascular", "low"): (28, 500, [8], 28, "oral"),
    ("chronic-cerebrovascular", "high"): (42, 500, [8], 42, "oral"),
    # "500 mg 2 times / day. The course lasts - 10-14 days."
    ("mental-stress", "low"): (20, 500, [8, 14], 10, "oral"),
    ("mental-stress", "high"): (28, 500, [8, 14], 14, "oral"),
    # "500 mg 2 times / day. The duration of the course is 2-3 weeks."
    ("physical-stress", "low"): (28, 500, [8, 14], 14, "oral"),
    ("physical-stress", "high"): (42, 500, [8, 14], 21, "oral"),
    # "500 mg 4 times / day. The course of treatment is 7-10 days."
    ("alcohol-withdrawal", "low"): (28, 500, [8, 12, 16, 20], 7, "oral"),
    ("alcohol-withdrawal", "high"): (40, 500, [8, 12, 16, 20], 10, "oral"),
    # "During the period of the disease, 500 mg 3 times / day. Duration of admission - 10-14 days."
    ("respiratory-infections", "low"): (30, 500, [8, 12, 16], 10, "oral"),
    ("respiratory-infections", "high"): (42, 500, [8, 12, 16], 14, "oral"),
}


@pytest.mark.parametrize(("name", "variant"), sorted(EXPECTED), ids=[f"{n}:{v}" for n, v in sorted(EXPECTED)])
def test_oral_table_rows_give_the_doses_the_row_says(name, variant):
    n, amount, times, n_days, route = EXPECTED[(name, variant)]
    r = regimens.load(name, variant)
    assert len(r.doses) == n
    assert {d.amount for d in r.doses} == {amount}
    assert r.routes == {route}
    assert clock(r) == times
    assert days(r) == list(range(n_days))
    assert r.interval == 24.0


def test_every_oral_table_variant_is_listed_in_the_expectations():
    oral = {(n, v) for n, v in VARIANTS if n != "injection-then-oral"}
    assert oral == set(EXPECTED)


def test_text_reads_well():
    assert str(regimens.load("mental-stress", "high")) == "500 mg oral at 08:00,14:00 daily for 14 d"
    assert str(regimens.load("alcohol-withdrawal", "low")) == "500 mg oral at 08:00,12:00,16:00,20:00 daily for 7 d"
    assert str(regimens.load("injection-then-oral", "low")) == (
        "500 mg IV at 08:00 daily for 10 d then 500 mg oral at 08:00 daily for 18 d"
    )


def test_injection_low_is_10_days_iv_then_oral_to_4_weeks():
    # "500-1000 mg ... per day ... once ... 10-14 days, after which ... oral" + "course is 4-6 weeks"
    r = regimens.load("injection-then-oral", "low")
    iv = [d for d in r.doses if d.route == "iv"]
    oral = [d for d in r.doses if d.route == "oral"]
    assert [d.time for d in iv] == [24.0 * k + 8 for k in range(10)]
    assert [d.time for d in oral] == [24.0 * k + 8 for k in range(10, 28)]
    assert {d.amount for d in r.doses} == {500.0} and all(d.duration == 0 for d in iv)


def test_injection_high_is_two_doses_a_day_iv_for_14_days_then_oral_to_6_weeks():
    r = regimens.load("injection-then-oral", "high")
    iv = [d.time for d in r.doses if d.route == "iv"]
    oral = [d.time for d in r.doses if d.route == "oral"]
    assert iv == [24.0 * k + h for k in range(14) for h in (8, 14)]
    # the oral phase keeps the clock times (08:00, 14:00), starting the morning after the last IV day
    assert oral == [24.0 * k + h for k in range(14, 42) for h in (8, 14)]
    assert r.daily_doses.max() == 1000.0 and len(r.doses) == 84
    once = regimens.load("injection-then-oral", "high-once")
    assert [d.amount for d in once.doses] == [1000.0] * 42 and clock(once) == [8]


def test_injection_courses_repeat_the_course_through_the_year():
    # "The treatment course can be repeated 2-3 times a year."
    low, high = regimens.load("injection-then-oral", "low"), regimens.load("injection-then-oral", "high")
    low2 = regimens.load("injection-then-oral", "low-yearly")
    high3 = regimens.load("injection-then-oral", "high-yearly")
    assert len(low2.doses) == 2 * len(low.doses) and len(high3.doses) == 3 * len(high.doses)
    np.testing.assert_array_equal(low2.dose_times, np.concatenate([low.dose_times, low.dose_times + 26 * 168]))
    np.testing.assert_array_equal(
        high3.dose_times, np.concatenate([high.dose_times + k * 17 * 168 for k in range(3)])
    )
    assert high3.doses[-1].time < 365 * 24  # three courses inside a year
    assert str(low2).startswith("2 courses of (500 mg IV at 08:00 daily for 10 d then")


# --- sources, quotes, notes, limits ---------------------------------------------------------------


_ALONE = r"(?<!\d)(?<!\d\.)"  # not the end of a longer number ("15 g" or "1.5 g" for "5 g")


def _amount_pattern(mg):
    """The amount as the sources write it, alone or as either end of a range ("500 mg-1 g", "500-1000 mg")."""
    forms = {f"{mg:g} mg"} | ({f"{mg / 1000:g} g"} if mg >= 1000 else set())
    alternatives = []
    for form in forms:
        number, unit = form.split()
        n = re.escape(number)
        alternatives += [rf"{_ALONE}{n}(?:-[\d.]+)? ?{unit}\b", rf"[\d.]+ ?(?:mg)?-{n} ?{unit}\b"]
    return "|".join(alternatives)


def _course_pattern(text):
    number, unit = text.split()
    return rf"{_ALONE}{number}(?:-\d+)? {unit}|\d+-{number} {unit}"


def _figures(spec):
    """(amount, times per day, course texts) of each phase of a variant spec."""
    for phase in spec.get("phases", [spec]):
        courses = [c for c in (phase.get("course"), spec.get("total_course")) if c]
        yield phase["amount"], phase["times_per_day"], courses


@pytest.mark.parametrize(("name", "variant"), VARIANTS, ids=[f"{n}:{v}" for n, v in VARIANTS])
def test_quotes_contain_the_dose_figures_of_their_variants(name, variant):
    entry = LIBRARY.entries[name]
    spec = entry.specs[variant]
    while "base" in spec:
        spec = entry.specs[spec["base"]]
    quote = entry.quote
    assert quote.strip() and quote == quote.strip()
    for amount, per_day, courses in _figures(spec):
        mg = parse_quantity(amount, "amount", field="amount")
        # the amount per dose, or the amount per day, is a figure of the quote
        assert re.search(_amount_pattern(mg), quote) or re.search(_amount_pattern(mg * per_day), quote), amount
        # the frequency: "n times", "divided into n doses", or once daily where no frequency is given
        if per_day == 1:
            assert "once" in quote or "1-" in quote or not re.search(r"times|divided", quote)
        else:
            assert re.search(rf"(?<!\d){per_day}(?:-\d)? times|\d-{per_day} times|into {per_day} doses", quote)
        for course in courses:
            assert re.search(_course_pattern(course), quote), course


def test_repeated_courses_say_how_often_the_quote_allows():
    entry = LIBRARY.entries["injection-then-oral"]
    assert "2-3 times a year" in entry.quote
    assert {entry.specs["low-yearly"]["courses"], entry.specs["high-yearly"]["courses"]} == {2, 3}


@pytest.mark.parametrize(("name", "variant"), VARIANTS, ids=[f"{n}:{v}" for n, v in VARIANTS])
def test_daily_dose_never_exceeds_the_maximum_of_the_quote(name, variant):
    entry = LIBRARY.entries[name]
    assert regimens.load(name, variant).daily_doses.max() <= entry.max_daily_dose


def test_high_is_at_least_low_and_the_upper_end_reaches_the_maximum():
    for name, entry in LIBRARY.entries.items():
        low, high = entry.variants["low"], entry.variants["high"]
        assert high.daily_doses.max() >= low.daily_doses.max(), name
        assert len(high.daily_doses) >= len(low.daily_doses), name
        assert max(r.daily_doses.max() for r in entry.variants.values()) == entry.max_daily_dose, name


def test_every_entry_names_its_source_and_notes_every_interpretation():
    assert set(LIBRARY.sources) == {"article", "injection-label"}
    assert "in the morning" in LIBRARY.sources["article"]["timing"]
    assert "first half of the day" in LIBRARY.sources["injection-label"]["timing"]
    assert "labelled amounts" in LIBRARY.meta["dose_basis"]
    for name, entry in LIBRARY.entries.items():
        assert entry.notes and entry.indication, name
        assert entry.source == ("injection-label" if name == "injection-then-oral" else "article"), name
        for variant in entry.variants:
            assert entry.variant_notes.get(variant), (name, variant)
    # the timing conflicts of 3 and 4 doses a day are recorded, not hidden
    for name in ("alcohol-withdrawal", "respiratory-infections"):
        assert any("CONFLICT" in note for note in LIBRARY.entries[name].notes), name


def test_info_and_table():
    about = regimens.info("alcohol-withdrawal")
    assert about["name"] == "alcohol-withdrawal" and "500 mg 4 times / day" in about["quote"]
    assert about["source"]["key"] == "article" and about["notes"]
    assert set(about["variants"]) == {"low", "high"}
    assert about["variants"]["high"]["n_doses"] == 40 and about["variants"]["high"]["daily_dose_mg"] == 2000
    assert about["variants"]["low"]["regimen"] == str(regimens.load("alcohol-withdrawal"))
    table = regimens.table()
    assert isinstance(table, pd.DataFrame)
    assert {"name", "indication", "variant", "regimen", "daily_dose_mg"} <= set(table.columns)
    assert len(table) == len(VARIANTS)
    row = table[(table["name"] == "respiratory-infections") & (table["variant"] == "high")].iloc[0]
    assert row["daily_dose_mg"] == 1500 and row["n_doses"] == 42 and row["days"] == 14
    assert row["regimen"] == "500 mg oral at 08:00,12:00,16:00 daily for 14 d"


# --- errors ---------------------------------------------------------------------------------------


def test_unknown_name_or_variant_lists_what_exists():
    with pytest.raises(PKModelError) as err:
        regimens.load("hangover")
    assert err.value.field == "regimen" and "alcohol-withdrawal" in str(err.value)
    with pytest.raises(PKModelError) as err:
        regimens.info("hangover")
    assert err.value.field == "regimen"
    with pytest.raises(PKModelError) as err:
        regimens.load("alcohol-withdrawal", "medium")
    assert err.value.field == "variant" and "low, high" in str(err.value)


GOOD = """
[sources.article]
title = "t"
[[regimen]]
name = "x-y"
indication = "i"
source = "article"
quote = "500 mg 2 times / day for 10-14 days"
max_daily_dose = "1 g"
notes = ["n"]
[regimen.variants.low]
amount = "500 mg"
route = "oral"
times_per_day = 2
at = ["08:00", "14:00"]
course = "10 days"
note = "n"
[regimen.variants.high]
amount = "500 mg"
route = "oral"
times_per_day = 2
at = ["08:00", "14:00"]
course = "14 days"
"""


def test_a_user_file_loads_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert regimens.names(path=path) == ["x-y"]
    assert len(regimens.load("x-y", "high", path=path).doses) == 28


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('amount = "500 mg"', 'amount = "-500 mg"', "regimens.x-y.variants.low.amount"),
        ('amount = "500 mg"', 'amount = "500 h"', "regimens.x-y.variants.low.amount"),
        ('route = "oral"', 'route = "peripheral"', "regimens.x-y.variants.low.route"),
        ("times_per_day = 2", "times_per_day = 3", "regimens.x-y.variants.low.times_per_day"),
        ('course = "10 days"', 'course = "36 h"', "regimens.x-y.variants.low.course"),
        ('course = "10 days"', 'cours = "10 days"', "regimens.x-y.variants.low.cours"),
        ('at = ["08:00", "14:00"]', 'at = ["8 am", "14:00"]', "regimens.x-y.variants.low.at"),
        ('max_daily_dose = "1 g"', 'max_daily_dose = "500 mg"', "regimens.x-y.variants.low"),
        ('quote = "500 mg 2 times / day for 10-14 days"', 'quote = ""', "regimens.x-y.quote"),
        ('source = "article"', 'source = "blog"', "regimens.x-y.source"),
        ('name = "x-y"', 'name = "X Y"', "regimen[0].name"),
        ("[regimen.variants.high]", "[regimen.variants.extra]", "regimens.x-y.variants"),
        ('indication = "i"', 'indication = "i"\ndose = 3', "regimens.x-y.dose"),
    ],
)
def test_bad_entries_name_the_regimen_and_the_key(tmp_path, old, new, field):
    assert old in GOOD
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PKModelError) as err:
        regimens.load("x-y", path=path)
    assert err.value.field == field


def test_bad_composite_variants(tmp_path):
    def fails(extra, field):
        path = tmp_path / "bad.toml"
        path.write_text(GOOD + extra, encoding="utf-8")
        with pytest.raises(PKModelError) as err:
            regimens.read(path)
        assert err.value.field == field

    fails('[regimen.variants.again]\nbase = "nope"\n', "regimens.x-y.variants.again.base")
    overlapping = '[regimen.variants.again]\nbase = "low"\ncourses = 2\nevery = "5 days"\n'
    fails(overlapping, "regimens.x-y.variants.again.every")
    fails('[regimen.variants.again]\nbase = "low"\namount = "1 g"\n', "regimens.x-y.variants.again.amount")
    phases = '[regimen.variants.two]\ntotal_course = "{total}"\n' + "".join(
        f'[[regimen.variants.two.phases]]\namount = "500 mg"\nroute = "{r}"\ntimes_per_day = 1\nat = ["08:00"]\n{c}'
        for r, c in (("iv", 'course = "10 days"\n'), ("oral", ""))
    )
    fails(phases.format(total="1 week"), "regimens.x-y.variants.two.total_course")
    path = tmp_path / "ok.toml"
    path.write_text(GOOD + phases.format(total="4 weeks"), encoding="utf-8")
    two = regimens.load("x-y", "two", path=path)
    assert [d.route for d in two.doses] == ["iv"] * 10 + ["oral"] * 18


def test_duplicate_names_and_broken_files(tmp_path):
    path = tmp_path / "dup.toml"
    second = GOOD[GOOD.index("[[regimen]]"):]
    path.write_text(GOOD + second, encoding="utf-8")
    with pytest.raises(PKModelError, match="unique"):
        regimens.read(path)
    path.write_text("[[regimen]\n", encoding="utf-8")
    with pytest.raises(PKModelError, match="not valid TOML"):
        regimens.read(path)
    with pytest.raises(PKModelError, match="no such file"):
        regimens.read(tmp_path / "missing.toml")


# --- a library belongs to a drug ------------------------------------------------------------------


def test_the_drug_parameter_file_names_its_library():
    assert regimens.drugs()["mildronate"] == "mildronate-regimens"
    assert "theophylline" not in regimens.drugs()  # its parameter file names no library
    assert regimens.names(drug="mildronate") == sorted(ROWS)
    assert regimens.load("alcohol-withdrawal", "high", drug="mildronate") == regimens.load("alcohol-withdrawal", "high")
    with pytest.raises(PKModelError, match="names no regimen library") as err:
        regimens.load("alcohol-withdrawal", drug="theophylline")
    assert err.value.field == "drug"
    with pytest.raises(PKModelError) as err:
        regimens.load("alcohol-withdrawal", drug="no-such-drug")
    assert err.value.field == "drug" and "mildronate" in err.value.allowed


def test_a_parameter_file_naming_no_shipped_library_is_refused(tmp_path):
    path = tmp_path / "drug.toml"
    path.write_text('[model]\nregimens = "nope"\n[parameters]\ncl = 2.0\nv1 = 20.0\n', encoding="utf-8")
    with pytest.raises(PKModelError, match="mildronate-regimens") as err:
        load_params(path)
    assert err.value.field == "model.regimens"


@pytest.fixture
def two_drugs(tmp_path, monkeypatch):
    """A params/ folder with mildronate and a second drug whose library also has an
    "alcohol-withdrawal" (and a "x-y" of its own)."""
    import shutil

    import pkmodel.params

    for name in ("mildronate", "mildronate-regimens", "mildronate-populations"):
        shutil.copy(data_dir() / f"{name}.toml", tmp_path / f"{name}.toml")
    (tmp_path / "other.toml").write_text(
        '[model]\nname = "other"\nregimens = "other-regimens"\n[parameters]\ncl = 2.0\nv1 = 20.0\n', encoding="utf-8"
    )
    entry = GOOD.split("[[regimen]]", 1)[1]
    twice = GOOD + "\n[[regimen]]" + entry.replace('name = "x-y"', 'name = "alcohol-withdrawal"')
    (tmp_path / "other-regimens.toml").write_text(twice, encoding="utf-8")
    monkeypatch.setattr(pkmodel.params, "data_dir", lambda: tmp_path)
    return tmp_path


def test_a_name_two_drugs_use_asks_for_the_drug(two_drugs):
    assert regimens.drugs() == {"mildronate": "mildronate-regimens", "other": "other-regimens"}
    assert set(regimens.names()) == ROWS | {"x-y"}
    assert regimens.names(drug="other") == ["alcohol-withdrawal", "x-y"]
    with pytest.raises(PKModelError, match="drug=") as err:
        regimens.load("alcohol-withdrawal")
    assert err.value.field == "regimen" and "mildronate, other" in err.value.allowed
    with pytest.raises(PKModelError, match="drug="):
        regimens.read()
    # Named by its drug, each is its own; a name only one drug uses needs no drug=.
    assert len(regimens.load("alcohol-withdrawal", "high", drug="other").doses) == 28
    assert len(regimens.load("alcohol-withdrawal", "high", drug="mildronate").doses) == 40
    assert len(regimens.load("x-y", "high").doses) == 28
    assert set(regimens.table()["drug"]) == {"mildronate", "other"}
