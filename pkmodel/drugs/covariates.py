"""The covariates a patient may have, and how each given value is checked.

The words a categorical covariate may take (sex, renal category, Child–Pugh class) and the checks
of a numeric covariate (a number or 1-D array in a range, with its unit) live here, once, for the
two places that take covariates: :class:`~pkmodel.drugs.patient.Patient` and
:func:`~pkmodel.drugs.renal.cockcroft_gault`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pkmodel.errors import PKModelError
from pkmodel.model import Value, checked_value
from pkmodel.units import parse_quantity

#: Renal function categories, mildest first (KDIGO 2012 GFR categories, G3a and G3b together).
RENAL_CATEGORIES = ("normal", "mild", "moderate", "severe", "kidney failure")
KDIGO = {
    "G1": "normal",
    "G2": "mild",
    "G3": "moderate",
    "G3A": "moderate",
    "G3B": "moderate",
    "G4": "severe",
    "G5": "kidney failure",
}
CHILD_PUGH = ("A", "B", "C")
SEXES = ("female", "male")
#: The words accepted for each sex.
SEX_WORDS = {"female": "female", "f": "female", "male": "male", "m": "male"}


def covariate(
    value: Any, field: str, unit: str, *, low: float, high: float, low_inclusive: bool = False
) -> Value | None:
    """An optional covariate (None: not given)."""
    if value is None:
        return None
    return checked_value(value, field, low=low, high=high, low_inclusive=low_inclusive, unit=unit)


def creatinine(value: Any) -> Any:
    """Serum creatinine in mg/dL: a number, or a string with its unit ("1.1 mg/dL", "97 µmol/L")
    read by :mod:`pkmodel.units`."""
    if isinstance(value, str):
        value = parse_quantity(value, "serum_creatinine", field="serum_creatinine")
    return covariate(value, "serum_creatinine", "mg/dL", low=0.0, high=100.0)


def choice(value: Any, field: str, allowed: Mapping[str, str], shown: str | None = None) -> str | None:
    """The name ``allowed`` maps ``value`` to (ignoring case and surrounding spaces), None when not
    given; ``shown`` replaces the list of names in the error."""
    if value is None:
        return None
    key = value.strip().lower() if isinstance(value, str) else None
    if key is None or key not in allowed:
        raise PKModelError(field, value, f"allowed: {shown or ', '.join(dict.fromkeys(allowed.values()))}")
    return allowed[key]
