"""The options of an NCA: the AUC method, the LLOQ and the BLQ rules (PKNCA's ``conc.blq``), and
the λz selection settings, checked once and turned into the values the calculation uses.

A BLQ rule says what a sample below the LLOQ (or 0) becomes: ``"zero"`` (counts as 0, PKNCA's
"keep"), ``"drop"`` (removed), ``"lloq/2"`` or a number (mg/L). :data:`BLQ_PRESETS` names the
pairs (before the first measurable value, between measurable values); ``"pknca"`` is PKNCA's
default.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError

AUC_METHODS = ("lin up/log down", "linear")
BLQ_RULES = ("zero", "drop", "lloq/2")
#: Named BLQ handling: the rule for BLQ values before the first measurable value and between
#: the first and the last measurable values.
BLQ_PRESETS = {
    "pknca": ("zero", "drop"),
    "zero": ("zero", "zero"),
    "drop": ("drop", "drop"),
    "lloq/2": ("lloq/2", "lloq/2"),
}


@dataclass(frozen=True)
class NcaOptions:
    """The checked options of one :func:`pkmodel.analysis.nca.nca` call, BLQ rules as the value a
    BLQ sample gets (mg/L; NaN: the sample is dropped)."""

    auc_method: str
    lloq: float | None
    blq_first: float  # mg/L given to a BLQ sample before the first measurable one; NaN drops it
    blq_middle: float  # likewise between measurable samples
    min_hl_points: int
    adj_r_squared_factor: float
    allow_tmax_in_half_life: bool


def check_options(
    auc_method: Any, lloq: Any, blq: Any, min_hl_points: Any, factor: Any, allow_tmax: Any
) -> NcaOptions:
    """The options of :func:`pkmodel.analysis.nca.nca` checked, or a :class:`PKModelError` naming
    the first one that is not allowed."""
    if auc_method not in AUC_METHODS:
        raise PKModelError("auc_method", auc_method, f"allowed: {', '.join(repr(m) for m in AUC_METHODS)}")
    if lloq is not None and not (is_number(lloq) and math.isfinite(lloq) and lloq > 0):
        raise PKModelError("lloq", lloq, "a lower limit of quantification in mg/L: a finite number > 0, or None")
    if isinstance(blq, str):
        if blq not in BLQ_PRESETS:
            raise PKModelError("blq", blq, f"allowed: {', '.join(BLQ_PRESETS)}, or a mapping with 'first'/'middle'")
        first, middle = BLQ_PRESETS[blq]
    elif isinstance(blq, Mapping):
        unknown = set(blq) - {"first", "middle"}
        if unknown:
            raise PKModelError("blq", dict(blq), f"keys allowed: 'first', 'middle'; not {sorted(map(str, unknown))}")
        first, middle = blq.get("first", "zero"), blq.get("middle", "drop")
    else:
        raise PKModelError("blq", blq, "a preset name or a mapping {'first': rule, 'middle': rule}")
    values: list[float] = []
    for key, rule in (("first", first), ("middle", middle)):
        if isinstance(rule, str):
            if rule not in BLQ_RULES:
                raise PKModelError(f"blq[{key!r}]", rule, f"allowed: {', '.join(BLQ_RULES)} or a number (mg/L) >= 0")
            if rule == "lloq/2":
                if lloq is None:
                    raise PKModelError(f"blq[{key!r}]", rule, "'lloq/2' needs lloq (mg/L)")
                values.append(float(lloq) / 2)
            else:
                values.append(0.0 if rule == "zero" else np.nan)
        elif not (is_number(rule) and math.isfinite(rule) and rule >= 0):
            raise PKModelError(f"blq[{key!r}]", rule, f"allowed: {', '.join(BLQ_RULES)} or a number (mg/L) >= 0")
        else:
            values.append(float(rule))
    if isinstance(min_hl_points, bool) or not isinstance(min_hl_points, numbers.Integral) or min_hl_points < 3:
        raise PKModelError("min_hl_points", min_hl_points, "a whole number >= 3")
    if not (is_number(factor) and math.isfinite(factor) and factor >= 0):
        raise PKModelError("adj_r_squared_factor", factor, "a finite number >= 0")
    if not isinstance(allow_tmax, bool):
        raise PKModelError("allow_tmax_in_half_life", allow_tmax, "True or False")
    blq_first, blq_middle = values
    lloq_mg_l = None if lloq is None else float(lloq)
    return NcaOptions(
        auc_method, lloq_mg_l, blq_first, blq_middle, int(min_hl_points), float(factor), allow_tmax
    )


def is_number(x: Any) -> bool:
    """A real number that is not a bool (True is not a concentration)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
