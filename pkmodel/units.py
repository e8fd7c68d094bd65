"""Quantities with units at the edges of pkmodel.

Users may write ``"500 mg"``, ``"10 min"`` or ``"5 mL/min"``; everything inside the package works
in one set of internal units so that no formula ever has to think about conversion:

=================  ==============
kind               internal unit
=================  ==============
amount             mg
time               h
volume             L
concentration      mg/L
flow (clearance)   L/h
rate_constant      1/h
infusion_rate      mg/h
serum_creatinine   mg/dL
creatinine_clearance  mL/min
=================  ==============

Serum creatinine and creatinine clearance keep their clinical units (mg/dL, mL/min) because
the renal equations (Cockcroft–Gault) and the renal categories are written in them.

A bare number is taken to be in the internal unit already; a string must carry a unit.
:func:`read_number` is the one reader of a number written as text (datasets, command line).
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction as F
from typing import Literal

import numpy as np

from pkmodel.errors import PKModelError, shown

Kind = Literal[
    "amount",
    "time",
    "volume",
    "concentration",
    "flow",
    "rate_constant",
    "infusion_rate",
    "serum_creatinine",
    "creatinine_clearance",
]

# Factors are exact fractions so that e.g. "10 min" becomes exactly the float nearest 1/6 h,
# and a value formatted in days parses back to the very same float.
_UNITS: dict[str, dict[str, F]] = {
    "amount": {"µg": F(1, 1000), "ug": F(1, 1000), "mcg": F(1, 1000), "mg": F(1), "g": F(1000)},
    "time": {
        **dict.fromkeys(["s", "sec", "second", "seconds"], F(1, 3600)),
        **dict.fromkeys(["min", "minute", "minutes"], F(1, 60)),
        **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], F(1)),
        **dict.fromkeys(["d", "day", "days"], F(24)),
        **dict.fromkeys(["wk", "week", "weeks"], F(168)),
    },
    "volume": {"mL": F(1, 1000), "L": F(1)},
    "concentration": {
        "mg/L": F(1),
        "µg/mL": F(1),
        "ug/mL": F(1),
        "mcg/mL": F(1),
        "ng/mL": F(1, 1000),
        "g/L": F(1000),
    },
    "flow": {"L/h": F(1), "mL/min": F(60, 1000), "L/min": F(60), "mL/h": F(1, 1000)},
    "rate_constant": {
        form.format(t): factor
        for t, factor in (("h", F(1)), ("min", F(60)), ("d", F(1, 24)))
        for form in ("1/{}", "/{}", "{}-1", "{}^-1")
    },
    "infusion_rate": {
        "mg/h": F(1),
        "mg/min": F(60),
        "g/h": F(1000),
        "µg/min": F(60, 1000),
        "ug/min": F(60, 1000),
        "mcg/min": F(60, 1000),
    },
    # Creatinine's molar mass, 113.12 g/mol, makes 1 mg/dL = 10 mg/L = 88.4 µmol/L (the factor
    # clinical laboratories use; KDIGO 2012 CKD guideline, units table).
    "serum_creatinine": {"mg/dL": F(1), "µmol/L": F(10, 884), "umol/L": F(10, 884)},
    "creatinine_clearance": {"mL/min": F(1)},
}
# Kinds in clinical units that share spellings with the kinds above ("mL/min" is a flow too);
# a unit's kind, for messages, is the general one.
_CLINICAL = ("serum_creatinine", "creatinine_clearance")

_INTERNAL_UNIT = {
    "amount": "mg",
    "time": "h",
    "volume": "L",
    "concentration": "mg/L",
    "flow": "L/h",
    "rate_constant": "1/h",
    "infusion_rate": "mg/h",
    "serum_creatinine": "mg/dL",
    "creatinine_clearance": "mL/min",
}
_NAME = {kind: kind.replace("_", " ") for kind in _UNITS} | {"flow": "flow (clearance)"}

# Litres are written both ways in practice; every other letter is case-sensitive because
# "Mg" (megagram) and "mg" must never be confused. The lowercase spellings are accepted but not
# advertised, so error messages stay short.
_LOOKUP: dict[str, dict[str, F]] = {
    kind: {**{u.replace("L", "l"): f for u, f in table.items()}, **table} for kind, table in _UNITS.items()
}
_KIND_OF_UNIT = {unit: kind for kind, table in _LOOKUP.items() if kind not in _CLINICAL for unit in table}
assert len(_KIND_OF_UNIT) == sum(len(t) for k, t in _LOOKUP.items() if k not in _CLINICAL), "a unit is ambiguous"
_KIND_OF_UNIT |= {unit: kind for kind in _CLINICAL for unit in _LOOKUP[kind] if unit not in _KIND_OF_UNIT}

# Plain ASCII digits only ([0-9], not \d) so exotic Unicode digits are not silently accepted.
# nan/inf are matched so that they can be rejected with a precise message.
_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


def read_number(text: str) -> tuple[float, str] | None:
    """The number ``text`` starts with and the rest of ``text``, both stripped of white space;
    None when it does not start with a number.

    A number is written in plain ASCII: an optional sign, digits with an optional decimal point,
    an optional exponent (``"1.5e-3"``), or ``inf``/``infinity``/``nan`` in any case (read, so
    that callers can refuse them by name). ``float()`` would also take ``"1_000"`` or digits of
    other scripts; these are not numbers here. ``read_number("45 mL/min") == (45.0, "mL/min")``.
    """
    stripped = text.strip()
    match = _NUMBER.match(stripped)
    if match is None:
        return None
    return float(match.group()), stripped[match.end() :].strip()


def _accepted(kind: str) -> str:
    return f"accepted {_NAME[kind]} units: " + ", ".join(_UNITS[kind])


def _a(kind: str) -> str:
    return ("an " if _NAME[kind][0] in "aeiou" else "a ") + _NAME[kind]


def _finite(number: float, field: str, value: object, kind: str) -> float:
    if not math.isfinite(number):
        raise PKModelError(field, value, f"must be a finite number (not NaN or infinite); {_accepted(kind)}")
    return number


def parse_quantity(value: str | float, kind: Kind, *, field: str, positive: bool | None = None) -> float:
    """Return ``value`` converted to the internal unit of ``kind`` as a float.

    ``value`` is either a string ``"<number> <unit>"`` (the space is optional: ``"500mg"``,
    ``"1.5 g"``, ``"10 min"``) or a bare int/float that is already in the internal unit
    (amount mg, time h, volume L, concentration mg/L, flow L/h, rate constant 1/h,
    infusion rate mg/h). NaN and infinity are always refused; the sign is checked only when
    asked: ``positive=True`` requires > 0, ``positive=False`` requires >= 0.

    Raises :class:`PKModelError` naming ``field`` for a missing, unknown or wrong-kind unit,
    an unparseable number, extra words, NaN/infinity, bools, None and any other type.
    """
    number = _parse(value, kind, field)
    if positive is True and not number > 0:
        raise PKModelError(field, value, "must be > 0")
    if positive is False and not number >= 0:
        raise PKModelError(field, value, "must be >= 0")
    return number


def _parse(value: str | float, kind: Kind, field: str) -> float:
    if kind not in _UNITS:
        raise PKModelError("kind", kind, "must be one of " + ", ".join(_UNITS))
    # bool is an int subclass, but True as "1 mg" is almost certainly a mistake.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        return _finite(number, field, value, kind)
    if not isinstance(value, str):
        raise PKModelError(
            field, value, f"expected a number in {_INTERNAL_UNIT[kind]} or a string such as '1 {_INTERNAL_UNIT[kind]}'"
        )

    read = read_number(value.replace("\u03bc", "µ"))  # Greek mu looks identical to the micro sign
    if read is None:
        raise PKModelError(field, value, f"expected '<number> <unit>'; {_accepted(kind)}")
    number = _finite(read[0], field, value, kind)
    words = read[1].split()
    if not words:
        raise PKModelError(field, value, f"a unit is required in a string; {_accepted(kind)}")
    unit, extra = words[0], words[1:]
    if extra and "".join(words) in _LOOKUP[kind]:
        raise PKModelError(field, value, f"write the unit without spaces: '{''.join(words)}'")
    if unit not in _LOOKUP[kind]:
        other = _KIND_OF_UNIT.get(unit)
        if other is not None:
            raise PKModelError(
                field, value, f"'{unit}' is {_a(other)} unit, but {_a(kind)} is expected; {_accepted(kind)}"
            )
        raise PKModelError(field, value, f"unknown unit {shown(unit)}; {_accepted(kind)}")
    if extra:
        raise PKModelError(
            field,
            value,
            f"unexpected text {shown(' '.join(extra))} after the unit; expected '<number> <unit>'; {_accepted(kind)}",
        )
    factor = _LOOKUP[kind][unit]
    converted = number * factor.numerator / factor.denominator
    if not math.isfinite(converted):
        raise PKModelError(field, value, f"too large to represent in {_INTERNAL_UNIT[kind]}")
    return converted


def format_quantity(value: float, kind: Kind) -> str:
    """Return ``value`` (in the internal unit of ``kind``) as a readable string.

    Times that are a whole number of days, at least 2, are shown in days (``"168 h"`` ->
    ``"7 d"``); everything else is shown in its internal unit (``500.0`` -> ``"500 mg"``).
    The number is written with ``repr`` so that :func:`parse_quantity` gives the value back.
    """
    value = parse_quantity(value, kind, field="value")  # same checks: no NaN, inf or bool
    unit = _INTERNAL_UNIT[kind]
    if kind == "time" and value >= 48 and value % 24 == 0:
        value, unit = value / 24, "d"
    number = repr(value)
    return f"{number.removesuffix('.0')} {unit}"


_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def parse_clock(value: str | float, *, field: str, allow_end_of_day: bool = False) -> float:
    """Hours after midnight (h) from a clock time "HH:MM" or a number of hours.

    A day runs from 00:00 to 23:59, and a number must lie in [0, 24): a dose at "24:00" is the next
    day's 00:00, so it is refused rather than moved. ``allow_end_of_day=True`` also accepts "24:00"
    and 24 for a limit that may be the end of the day (a label's "no dose after" cut-off).
    Raises :class:`PKModelError` naming ``field`` for anything else (including bools and NaN).
    """
    last = "24:00" if allow_end_of_day else "23:59"
    hours = None
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value.strip())
        if match is not None:
            h, m = int(match.group(1)), int(match.group(2))
            if m < 60:
                hours = h + m / 60.0
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        hours = float(value)
    if hours is None or not (0 <= hours < 24 or (allow_end_of_day and hours == 24)):
        within = "[0, 24]" if allow_end_of_day else "[0, 24)"
        raise PKModelError(field, value, f"a clock time 'HH:MM' from 00:00 to {last}, or hours after midnight in {within}")
    return hours


def format_number(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, without an exponent or trailing zeros ("-"
    for NaN or infinity): how tables and one-line descriptions print numbers."""
    number = float(value)
    if not math.isfinite(number):
        return "-"
    return np.format_float_positional(number, precision=digits, unique=False, fractional=False, trim="-")
