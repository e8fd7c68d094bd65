"""Tests for pkmodel.units: hand-worked conversions, error messages and property tests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel.errors import PKModelError
from pkmodel.units import format_quantity, parse_quantity, read_number

# Factors to the internal unit, entered by hand (independently of the module's table).
FACTORS = {
    "amount": {"µg": 0.001, "ug": 0.001, "mcg": 0.001, "mg": 1.0, "g": 1000.0},
    "time": {
        "s": 1 / 3600, "sec": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600,
        "min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60,
        "h": 1.0, "hr": 1.0, "hrs": 1.0, "hour": 1.0, "hours": 1.0,
        "d": 24.0, "day": 24.0, "days": 24.0,
        "wk": 168.0, "week": 168.0, "weeks": 168.0,
    },
    "volume": {"mL": 0.001, "ml": 0.001, "L": 1.0, "l": 1.0},
    "concentration": {
        "mg/L": 1.0, "mg/l": 1.0, "µg/mL": 1.0, "ug/mL": 1.0, "mcg/mL": 1.0, "ug/ml": 1.0,
        "ng/mL": 0.001, "g/L": 1000.0, "g/l": 1000.0,
    },
    "flow": {"L/h": 1.0, "l/h": 1.0, "mL/min": 0.06, "ml/min": 0.06, "L/min": 60.0,
             "mL/h": 0.001},
    "rate_constant": {
        "1/h": 1.0, "/h": 1.0, "h-1": 1.0, "h^-1": 1.0,
        "1/min": 60.0, "/min": 60.0, "min-1": 60.0, "min^-1": 60.0,
        "1/d": 1 / 24, "/d": 1 / 24, "d-1": 1 / 24, "d^-1": 1 / 24,
    },
    "infusion_rate": {"mg/h": 1.0, "mg/min": 60.0, "g/h": 1000.0, "µg/min": 0.06,
                      "ug/min": 0.06, "mcg/min": 0.06},
    # Clinical units: 1 mg/dL of creatinine (113.12 g/mol) is 10 mg/L / 113.12 g/mol = 88.4 µmol/L.
    "serum_creatinine": {"mg/dL": 1.0, "mg/dl": 1.0, "µmol/L": 1 / 88.4, "µmol/l": 1 / 88.4,
                         "umol/L": 1 / 88.4, "umol/l": 1 / 88.4},
    "creatinine_clearance": {"mL/min": 1.0, "ml/min": 1.0},
}
KINDS = list(FACTORS)
UNIT_CASES = [(kind, unit, f) for kind, table in FACTORS.items() for unit, f in table.items()]


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=0)


# --- hand-worked conversions -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("1 g", "amount", 1000.0),
        ("500mg", "amount", 500.0),
        ("1.5 g", "amount", 1500.0),
        ("1e3 mg", "amount", 1000.0),
        ("250 µg", "amount", 0.25),
        ("250 μg", "amount", 0.25),  # Greek mu, not the micro sign
        ("250 mcg", "amount", 0.25),
        ("  12 mg  ", "amount", 12.0),
        ("10 min", "time", 1 / 6),
        ("90 minutes", "time", 1.5),
        ("1800 s", "time", 0.5),
        ("2 weeks", "time", 336.0),
        ("3 days", "time", 72.0),
        ("1 wk", "time", 168.0),
        ("12 hrs", "time", 12.0),
        ("250 mL", "volume", 0.25),
        ("5 l", "volume", 5.0),
        ("100 µg/mL", "concentration", 100.0),
        ("50 ng/mL", "concentration", 0.05),
        ("2 g/L", "concentration", 2000.0),
        ("5 mL/min", "flow", 0.3),
        ("2 L/min", "flow", 120.0),
        ("500 mL/h", "flow", 0.5),
        ("0.1 1/min", "rate_constant", 6.0),
        ("2.4 /d", "rate_constant", 0.1),
        ("0.5 h^-1", "rate_constant", 0.5),
        ("0.25 h-1", "rate_constant", 0.25),
        ("2 mg/min", "infusion_rate", 120.0),
        ("0.5 g/h", "infusion_rate", 500.0),
        ("100 µg/min", "infusion_rate", 6.0),
        ("0.51/h", "rate_constant", 0.51),  # the number is read greedily: 0.51 per hour
        ("-3 mg", "amount", -3.0),  # sign is the caller's business
        ("+.5 g", "amount", 500.0),
    ],
)
def test_hand_worked_conversions(text: str, kind: str, expected: float) -> None:
    result = parse_quantity(text, kind, field="dose")
    assert isinstance(result, float)
    assert result == approx(expected)


def test_ten_minutes_is_the_float_nearest_one_sixth_hour() -> None:
    assert parse_quantity("10 min", "time", field="t") == 1 / 6


@pytest.mark.parametrize("value", [500, 500.0, 0, -2.5, 10**6])
def test_bare_numbers_are_internal_units(value: float) -> None:
    result = parse_quantity(value, "amount", field="dose")
    assert isinstance(result, float)
    assert result == float(value)


def test_numpy_scalars_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    assert parse_quantity(np.float64(2.5), "time", field="t") == 2.5
    assert parse_quantity(np.int64(3), "time", field="t") == 3.0


# --- errors ------------------------------------------------------------------------------------

def check_error(value: object, kind: str, *fragments: str, field: str = "dose") -> str:
    with pytest.raises(PKModelError) as info:
        parse_quantity(value, kind, field=field)  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.field == field
    assert message.startswith(f"{field}: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_unknown_unit_lists_accepted_units() -> None:
    check_error("500 Mg", "amount", "'500 Mg'", "unknown unit 'Mg'", "mg", "µg", "mcg")
    check_error("5 tablets", "amount", "'tablets'", "mg")
    check_error("2 fortnights", "time", "'fortnights'", "hours", "days", field="duration")


def test_wrong_kind_says_what_it_is_and_what_is_expected() -> None:
    check_error("12 h", "amount", "'12 h'", "is a time unit", "an amount is expected", "mg")
    check_error("5 mg", "time", "is an amount unit", "a time is expected", "min")
    check_error("5 L/h", "rate_constant", "is a flow (clearance) unit",
                "a rate constant is expected", "1/h")
    check_error("2 mg/L", "infusion_rate", "a concentration unit",
                "an infusion rate is expected", "mg/h")


def test_missing_unit_is_required() -> None:
    check_error("500", "amount", "'500'", "unit is required", "mg")
    check_error("  2.5  ", "time", "unit is required", "h")


@pytest.mark.parametrize("text", ["mg", "", "   ", "five mg", ". mg", "e3 mg", "--1 mg", "٣ mg"])
def test_unparseable_number(text: str) -> None:
    check_error(text, "amount", repr(text), "<number> <unit>", "mg")


def test_extra_words_are_quoted() -> None:
    check_error("500 mg daily", "amount", "'500 mg daily'", "unexpected text 'daily'", "mg")
    check_error("2 h every day", "time", "'every day'", "hours")
    check_error("5 mg / L", "concentration", "'5 mg / L'", "without spaces: 'mg/L'")
    check_error("5 mg per L", "concentration", "'5 mg per L'", "amount", "mg/L")


@pytest.mark.parametrize("text", ["nan mg", "NaN mg", "inf mg", "-inf mg", "infinity g",
                                  "1e999 mg"])
def test_nan_and_inf_strings_are_rejected(text: str) -> None:
    check_error(text, "amount", repr(text), "finite", "mg")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_nan_and_inf_numbers_are_rejected(value: float) -> None:
    check_error(value, "time", "finite", "h", field="tau")


def test_overflow_after_conversion_is_rejected() -> None:
    check_error("1e307 weeks", "time", "'1e307 weeks'", "too large", "h")


@pytest.mark.parametrize("value", [True, False, None, [500], {"mg": 500}, b"500 mg", 1j])
def test_bad_types_are_rejected(value: object) -> None:
    check_error(value, "amount", repr(value), "mg")


def test_the_creatinine_factor_is_its_molar_mass() -> None:
    # 1 mg/dL = 10 mg/L; 10 mg/L / 113.12 g/mol = 88.40 µmol/L (rounded to 88.4 in practice).
    assert 10 / 113.12 * 1000 == pytest.approx(88.4, abs=0.01)
    assert parse_quantity("88.4 µmol/L", "serum_creatinine", field="scr") == approx(1.0)
    assert parse_quantity("97 μmol/L", "serum_creatinine", field="scr") == approx(97 / 88.4)  # Greek mu
    assert parse_quantity("45 mL/min", "creatinine_clearance", field="crcl") == 45.0
    assert parse_quantity("45 mL/min", "flow", field="cl") == approx(2.7)  # the same words, as a flow


def test_creatinine_units_are_not_confused_with_others() -> None:
    check_error("1.1 mg", "serum_creatinine", "'mg' is an amount unit", "mg/dL, µmol/L")
    check_error("45 L/h", "creatinine_clearance", "a flow (clearance) unit", "mL/min")
    check_error("1.1 mg/dL", "concentration", "'mg/dL' is a serum creatinine unit", "mg/L")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45 mL/min", (45.0, "mL/min")),
        ("  -1.5e-3kg ", (-1.5e-3, "kg")),
        (".5", (0.5, "")),
        ("5.", (5.0, "")),
        ("+7 years old", (7.0, "years old")),
        ("1_000", (1.0, "_000")),  # float() would read 1000; not a number here
        ("1.2.3", (1.2, ".3")),
        ("1e", (1.0, "e")),
    ],
)
def test_read_number_splits_the_number_from_the_rest(text: str, expected: tuple[float, str]) -> None:
    assert read_number(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "mg", "٣", "e5", ".", "--1", "x1", "½"])
def test_read_number_finds_no_number(text: str) -> None:
    assert read_number(text) is None


def test_read_number_reads_nan_and_infinity_so_callers_can_name_them() -> None:
    assert read_number("-Infinity") == (-math.inf, "")
    number, rest = read_number("NaN mg")  # type: ignore[misc]
    assert math.isnan(number) and rest == "mg"


def test_a_long_word_is_quoted_short() -> None:
    with pytest.raises(PKModelError) as err:
        parse_quantity("5 " + "y" * 100_000, "amount", field="dose")
    assert len(str(err.value)) < 400 and len(err.value.value) == 100_002


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(PKModelError, match="kind"):
        parse_quantity("5 mg", "mass", field="dose")  # type: ignore[arg-type]


# --- formatting --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (500.0, "amount", "500 mg"),
        (1500, "amount", "1500 mg"),
        (0.25, "amount", "0.25 mg"),
        (12.0, "time", "12 h"),
        (24.0, "time", "24 h"),  # a single day stays in hours
        (168.0, "time", "7 d"),
        (50.0, "time", "50 h"),
        (0.5, "volume", "0.5 L"),
        (2.0, "concentration", "2 mg/L"),
        (0.3, "flow", "0.3 L/h"),
        (0.1, "rate_constant", "0.1 1/h"),
        (120.0, "infusion_rate", "120 mg/h"),
    ],
)
def test_format_quantity(value: float, kind: str, expected: str) -> None:
    assert format_quantity(value, kind) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, True])
def test_format_rejects_non_finite(value: float) -> None:
    with pytest.raises(PKModelError):
        format_quantity(value, "amount")


# --- properties --------------------------------------------------------------------------------

positive = st.floats(min_value=1e-200, max_value=1e200, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(("kind", "unit", "factor"), UNIT_CASES)
@settings(max_examples=30, deadline=None)
@given(x=positive, space=st.sampled_from(["", " ", "  "]))
def test_every_unit_converts_by_its_factor(
    kind: str, unit: str, factor: float, x: float, space: str
) -> None:
    if unit[0].isdigit():
        space = space or " "  # "2.01/d" means 2.01 per day, not 2.0 times "1/d"
    assert parse_quantity(f"{x!r}{space}{unit}", kind, field="q") == approx(x * factor)


@settings(max_examples=150, deadline=None)
@given(x=st.floats(min_value=1e-300, max_value=1e300) | st.integers(1, 10**6).map(float),
       kind=st.sampled_from(KINDS))
def test_format_parse_round_trip(x: float, kind: str) -> None:
    assert parse_quantity(format_quantity(x, kind), kind, field="q") == approx(x)


@settings(max_examples=100, deadline=None)
@given(days=st.integers(2, 10**9))
def test_whole_days_round_trip_exactly(days: int) -> None:
    hours = float(days * 24)
    assert format_quantity(hours, "time") == f"{days} d"
    assert parse_quantity(format_quantity(hours, "time"), "time", field="q") == hours


junk_alphabet = st.sampled_from(
    list("0123456789.eE+-/^ µμlLmgnhsdwkinfa1\t\n٣_") + ["nan", "inf", "mg", "min", "/h"]
)
junk = st.lists(junk_alphabet, max_size=20).map("".join) | st.text(max_size=30)


@settings(max_examples=500, deadline=None)
@given(text=junk, kind=st.sampled_from(KINDS))
def test_junk_parses_or_raises_pkmodel_error(text: str, kind: str) -> None:
    try:
        result = parse_quantity(text, kind, field="junk")
    except PKModelError as error:
        assert str(error).startswith("junk: ")
    else:
        assert isinstance(result, float) and math.isfinite(result)


def test_format_number_gives_four_significant_digits_without_exponent():
    from pkmodel.units import format_number

    assert format_number(1234.5678) == "1235"
    assert format_number(0.000123456) == "0.0001235"
    assert format_number(2.5) == "2.5"
    assert format_number(float("nan")) == "-" and format_number(float("inf")) == "-"


def test_model_describe_names_units_and_medians():
    from pkmodel import Model

    assert Model(cl=5.0, v1=20.0).describe() == "CL 5 L/h, V1 20 L, F 1, terminal t½ 2.773 h"
    several = Model(cl=[4.0, 5.0, 6.0], v1=20.0)
    assert several.describe().startswith("CL 5 L/h") and several.describe().endswith("(medians of 3 subjects)")
