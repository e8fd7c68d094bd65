"""Linear compartment models: immutable, validated parameter values and their conversions.

One class, :class:`Model`, covers one and two compartments with or without first-order
absorption (NONMEM's ADVAN1-4). Its fields are the physiological parameters (CL, V1, Q, V2, ka,
F, lag); the other parameterisations (micro-constants, label-style half-lives) are class methods
that convert into them, and properties convert back. Every field may be a scalar or an array of
shape (n_subjects,), so one value describes a whole virtual population.

Units: clearance and inter-compartmental clearance L/h, volumes L, rate constants 1/h, times h,
F dimensionless. Strings with units ("7 L/h", "20 L", "30 min") are accepted for every field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pkmodel.engine.analytic import Kinetics
from pkmodel.errors import PKModelError
from pkmodel.units import Kind, format_number, parse_quantity

LN2 = float(np.log(2.0))
#: A parameter or covariate as stored: a float, or a read-only 1-D float array (one per subject).
Value: TypeAlias = float | NDArray[np.float64]
#: What a parameter may be given as: a number, a string with its unit ("7 L/h"), or a 1-D array.
ValueInput: TypeAlias = float | str | ArrayLike


def checked_value(
    value: Any,
    field: str,
    *,
    low: float,
    high: float = np.inf,
    low_inclusive: bool = False,
    unit: str = "",
    scalar: bool = False,
) -> Value:
    """``value`` as a scalar float or a read-only 1-D float array (one value per subject), every
    element finite and in the interval from ``low`` to ``high`` (``high`` included when it is
    finite and 1, e.g. a fraction); never silently coerced. ``scalar=True`` refuses arrays (a
    number read from a drug file). The one number validator of pkmodel: model parameters, patient
    covariates, population factors and label numbers all pass through it. Raises
    :class:`PKModelError` naming ``field``, the offending value and the interval."""
    high_inclusive = high == 1.0
    interval = (
        f"{'>=' if low_inclusive else '>'} {low:g}"
        if np.isinf(high)
        else f"in {'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    )
    what = f"a number{' of ' + unit if unit else ''} {interval}"
    if isinstance(value, (bool, str, bytes, np.bool_)) or value is None:
        raise PKModelError(field, value, f"expected {what}")
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise PKModelError(field, value, f"expected {what}, or a 1-D array of them") from None
    if scalar and arr.ndim != 0:
        raise PKModelError(field, value, f"expected {what} (a single number)")
    if arr.ndim > 1:
        raise PKModelError(field, value, "expected a scalar or a 1-D array (one value per subject)")
    if arr.ndim == 1 and arr.size == 0:
        raise PKModelError(field, value, f"expected {what}, or a non-empty 1-D array of them (one per subject)")
    if arr.ndim == 1 and _has_words(value):
        raise PKModelError(field, value, f"expected {what}, or a 1-D array of them (not True/False or text)")
    above = arr >= low if low_inclusive else arr > low
    below = arr <= high if high_inclusive else arr < high
    ok = np.isfinite(arr) & above & below
    if not np.all(ok):
        bad = arr if arr.ndim == 0 else arr[~ok][0]
        raise PKModelError(field, float(bad), f"must be a finite number{' of ' + unit if unit else ''} {interval}")
    if arr.ndim == 0:
        return float(arr)
    arr.setflags(write=False)
    return arr


def _has_words(value: Any) -> bool:
    """Whether a sequence holds True/False or text, which numpy would turn into numbers."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "bUS":
            return True
        if value.dtype.kind != "O":
            return False
    return any(isinstance(x, (bool, np.bool_, str, bytes)) for x in value)


def checked_number(value: Any, field: str, **limits: Any) -> float:
    """A single number checked as :func:`checked_value` does (same ``limits``), e.g. a factor or a
    rule read from a drug file."""
    return float(checked_value(value, field, scalar=True, **limits))


_CHECKS: dict[str, dict[str, Any]] = {
    "> 0": {"low": 0.0},
    ">= 0": {"low": 0.0, "low_inclusive": True},
    "in (0, 1]": {"low": 0.0, "high": 1.0},
}


def _param(value: Any, field: str, kind: Kind | None, check: str) -> Value:
    """A model parameter: strings are read with their unit by ``units.parse_quantity`` (for a
    dimensionless field, ``kind=None``, a plain number or a percentage such as "78 %"), then
    checked by :func:`checked_value`."""
    if isinstance(value, str):
        value = parse_quantity(value, kind, field=field) if kind else _fraction(value, field)
    return checked_value(value, field, **_CHECKS[check])


@dataclass(frozen=True, eq=False, init=False)
class Model:
    """A linear one- or two-compartment model, optionally with first-order absorption.

    Parameters (scalars or arrays of shape (n_subjects,); numbers in the units below, or strings
    with a unit such as "7 L/h"):
        cl: clearance from the central compartment, L/h (> 0).
        v1: central volume, L (> 0).
        q: inter-compartmental clearance, L/h (>= 0); 0 with ``v2=None`` for one compartment.
        v2: peripheral volume, L (> 0), or None for a one-compartment model.
        ka: first-order absorption rate constant, 1/h (> 0), or None when only IV doses are given.
        f: bioavailability of oral doses, in (0, 1] (or a percentage "78 %"). IV doses are
            complete by definition.
        tlag: absorption lag time of oral doses, h (>= 0).
        name: a name for tables and plots.
        populations: the name of the drug's population file in ``params/`` (its special-population
            factors and label rules, e.g. "mildronate-populations"); :func:`simulate` then applies
            them. None for a model without one.
    """

    cl: Value
    v1: Value
    q: Value = 0.0
    v2: Value | None = None
    ka: Value | None = None
    f: Value = 1.0
    tlag: Value = 0.0
    name: str = ""
    populations: str | None = None

    def __init__(
        self,
        cl: ValueInput,
        v1: ValueInput,
        q: ValueInput = 0.0,
        v2: ValueInput | None = None,
        ka: ValueInput | None = None,
        f: ValueInput = 1.0,
        tlag: ValueInput = 0.0,
        name: str = "",
        populations: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "cl", _param(cl, "cl", "flow", "> 0"))
        set_(self, "v1", _param(v1, "v1", "volume", "> 0"))
        set_(self, "q", _param(q, "q", "flow", ">= 0"))
        if v2 is None:
            if np.any(np.asarray(self.q) != 0):
                raise PKModelError("v2", None, "a peripheral volume (> 0) is required when q > 0")
            set_(self, "v2", None)
        else:
            set_(self, "v2", _param(v2, "v2", "volume", "> 0"))
        set_(self, "ka", None if ka is None else _param(ka, "ka", "rate_constant", "> 0"))
        set_(self, "f", _param(f, "f", None, "in (0, 1]"))
        set_(self, "tlag", _param(tlag, "tlag", "time", ">= 0"))
        if not isinstance(name, str):
            raise PKModelError("name", name, "expected a string")
        set_(self, "name", name)
        set_(self, "populations", _populations_name(populations))
        sizes = {np.size(v) for v in self._arrays().values() if np.ndim(v) == 1}
        if len(sizes) > 1:
            raise PKModelError("parameters", sorted(sizes), "arrays must all have one length (one value per subject)")
        # Asked for on every simulation: kept, since the parameters never change.
        set_(self, "_n_subjects", sizes.pop() if sizes else None)

    # --- other parameterisations --------------------------------------------------------------

    @classmethod
    def from_micro(
        cls, k10: ValueInput, v1: ValueInput, k12: ValueInput = 0.0, k21: ValueInput | None = None, **absorption: Any
    ) -> Model:
        """From micro-constants k10, k12, k21 (1/h) and the central volume V1 (L).

        ``k12 = 0`` and ``k21 = None`` give a one-compartment model. ``absorption`` takes ka, f,
        tlag and name as for :class:`Model`.
        """
        k10 = _param(k10, "k10", "rate_constant", "> 0")
        v1 = _param(v1, "v1", "volume", "> 0")
        k12 = _param(k12, "k12", "rate_constant", ">= 0")
        if k21 is None:
            if np.any(np.asarray(k12) != 0):
                raise PKModelError("k21", None, "k21 (> 0) is required when k12 > 0")
            return cls(cl=to_value(np.asarray(k10) * np.asarray(v1)), v1=v1, **absorption)
        k21 = _param(k21, "k21", "rate_constant", "> 0")
        if not np.all(np.asarray(k12) > 0):
            raise PKModelError("k12", k12, "must be > 0 with k21 given (use k21=None for one compartment)")
        q = to_value(np.asarray(k12) * np.asarray(v1))
        return cls(
            cl=to_value(np.asarray(k10) * np.asarray(v1)),
            v1=v1,
            q=q,
            v2=to_value(np.asarray(q) / np.asarray(k21)),
            **absorption,
        )

    @classmethod
    def from_half_lives(
        cls,
        t_half_alpha: ValueInput,
        t_half_beta: ValueInput,
        v1: ValueInput,
        *,
        cl: ValueInput | None = None,
        k21: ValueInput | None = None,
        **absorption: Any,
    ) -> Model:
        """From label-style macro quantities: distribution and terminal half-lives (h), V1 (L) and
        one more quantity, either ``cl`` (L/h) or ``k21`` (1/h).

        With alpha = ln2 / t_half_alpha and beta = ln2 / t_half_beta, alpha * beta = k10 * k21 and
        alpha + beta = k10 + k12 + k21 fix the rest. Not every combination is a model: k12 must come
        out >= 0, which needs beta < k10 < alpha (equivalently beta < k21 < alpha).
        """
        ta = _param(t_half_alpha, "t_half_alpha", "time", "> 0")
        tb = _param(t_half_beta, "t_half_beta", "time", "> 0")
        if not np.all(np.asarray(ta) < np.asarray(tb)):
            raise PKModelError(
                "t_half_alpha",
                t_half_alpha,
                f"the distribution half-life must be shorter than the terminal one ({t_half_beta!r} h)",
            )
        alpha, beta = LN2 / np.asarray(ta), LN2 / np.asarray(tb)
        v1 = _param(v1, "v1", "volume", "> 0")
        if (cl is None) == (k21 is None):
            raise PKModelError("cl/k21", (cl, k21), "give exactly one of cl (L/h) or k21 (1/h)")
        given: ValueInput | None
        if cl is not None:
            cl = _param(cl, "cl", "flow", "> 0")
            k10 = np.asarray(cl) / np.asarray(v1)
            field, given, k21_ = "cl", cl, alpha * beta / k10
        else:
            given = k21
            k21_ = np.asarray(_param(k21, "k21", "rate_constant", "> 0"))
            k10 = alpha * beta / k21_
            field = "k21"
        # alpha + beta - k10 - k21, written as a product of positive factors (no cancellation).
        k12 = (alpha - k10) * (k10 - beta) / k10
        if not np.all((k10 > beta) & (k10 < alpha)):
            lo, hi = (np.asarray(v1) * beta, np.asarray(v1) * alpha) if field == "cl" else (beta, alpha)
            raise PKModelError(
                field,
                given,
                f"must lie strictly between {format_value(lo)} and {format_value(hi)} for these half-lives and V1 "
                "(k12 would be negative)",
            )
        return cls.from_micro(to_value(k10), v1, k12=to_value(k12), k21=to_value(k21_), **absorption)

    def replace(self, **changes: Any) -> Model:
        """A copy with some fields changed (the model itself is immutable)."""
        return dataclasses.replace(self, **changes)

    # --- derived quantities -------------------------------------------------------------------

    @property
    def n_compartments(self) -> int:
        return 1 if self.v2 is None else 2

    @property
    def n_subjects(self) -> int | None:
        """Length of the parameter arrays, or None when every parameter is a scalar."""
        n: int | None = self.__dict__["_n_subjects"]
        return n

    @property
    def k10(self) -> Value:
        """Elimination rate constant from the central compartment, 1/h."""
        return to_value(np.asarray(self.cl) / np.asarray(self.v1))

    @property
    def k12(self) -> Value:
        """Central to peripheral rate constant, 1/h."""
        return to_value(np.asarray(self.q) / np.asarray(self.v1))

    @property
    def k21(self) -> Value:
        """Peripheral to central rate constant, 1/h (0 for one compartment)."""
        if self.v2 is None:
            return 0.0
        return to_value(np.asarray(self.q) / np.asarray(self.v2))

    @property
    def alpha(self) -> Value:
        """Fast (distribution) disposition rate constant, 1/h; k10 for one compartment."""
        return to_value(self._kinetics().alpha)

    @property
    def beta(self) -> Value:
        """Slow (terminal) disposition rate constant, 1/h; 0 for one compartment."""
        return to_value(self._kinetics().beta) if self.v2 is not None else 0.0

    @property
    def t_half_alpha(self) -> Value:
        """Distribution half-life ln2/alpha, h (the elimination half-life for one compartment)."""
        return to_value(LN2 / np.asarray(self.alpha))

    @property
    def t_half_beta(self) -> Value:
        """Terminal half-life ln2/beta, h (the elimination half-life for one compartment). With
        q = 0 the peripheral compartment is not connected: beta is 0, the eigenvalue of a
        compartment that never holds drug, and the concentration falls with alpha alone, so the
        terminal half-life is ln2/alpha."""
        if self.v2 is None:
            return self.t_half_alpha
        beta = np.asarray(self.beta)
        connected = beta > 0
        return to_value(np.where(connected, LN2 / np.where(connected, beta, 1.0), self.t_half_alpha))

    @property
    def vss(self) -> Value:
        """Volume of distribution at steady state V1 + V2, L."""
        return self.v1 if self.v2 is None else to_value(np.asarray(self.v1) + np.asarray(self.v2))

    @property
    def auc_per_dose(self) -> Value:
        """AUC from 0 to infinity per mg of an IV dose, h/L (= 1/CL); times F for oral doses."""
        return to_value(1.0 / np.asarray(self.cl))

    @property
    def coef_a(self) -> Value:
        """A in C(t) = A e^(-alpha t) + B e^(-beta t) per mg of IV bolus, 1/L."""
        kin = self._kinetics()
        return to_value(kin.alpha_k21 / (np.asarray(self.v1) * kin.alpha_minus_beta))

    @property
    def coef_b(self) -> Value:
        """B in C(t) = A e^(-alpha t) + B e^(-beta t) per mg of IV bolus, 1/L (0 for one compartment)."""
        kin = self._kinetics()
        return to_value(kin.g / (np.asarray(self.v1) * kin.alpha_minus_beta))

    def kinetics(self, n_subjects: int) -> Kinetics:
        """Rate constants for the engine, each of shape (n_subjects,). ka is 0 when absent."""
        ka = 0.0 if self.ka is None else self.ka
        arrays = [
            np.broadcast_to(np.asarray(x, dtype=float), (n_subjects,)) for x in (ka, self.k10, self.k12, self.k21)
        ]
        return Kinetics.of(*arrays)

    def _kinetics(self) -> Kinetics:
        return Kinetics.of(0.0, self.k10, self.k12, self.k21)

    def _arrays(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _NOT_PARAMETERS}

    def describe(self) -> str:
        """The parameters in one line with their units, 4 significant digits (the median of each
        when they vary between subjects), and the terminal half-life."""
        shown = [
            ("CL", self.cl, "L/h"),
            ("V1", self.v1, "L"),
            ("Q", self.q, "L/h"),
            ("V2", self.v2, "L"),
            ("ka", self.ka, "1/h"),
            ("F", self.f, ""),
            ("tlag", self.tlag, "h"),
            ("terminal t½", self.t_half_beta, "h"),
        ]
        text = ", ".join(
            f"{k} {format_number(float(np.median(v)))}{' ' + u if u else ''}"
            for k, v, u in shown
            if v is not None and not (k in ("Q", "tlag") and np.all(np.asarray(v) == 0))
        )
        return f"{text} (medians of {self.n_subjects} subjects)" if self.n_subjects else text

    def __repr__(self) -> str:
        shown = []
        for key, value in self._arrays().items():
            if (
                value is None
                or (key in ("q", "tlag") and np.all(np.asarray(value) == 0))
                or (key == "f" and np.all(np.asarray(value) == 1))
            ):
                continue
            shown.append(f"{key}={format_value(value)}")
        label = f"{self.name!r}, " if self.name else ""
        return f"Model({label}{', '.join(shown)})"


#: Model fields that are not parameters (no numbers, no subjects).
_NOT_PARAMETERS = ("name", "populations")


def _populations_name(value: Any) -> str | None:
    """The name of a population file in ``params/`` (without ".toml"), or None. Whether the file
    exists is checked where files are read (``pkmodel.params.population_file``)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "/\\") or value.startswith("."):
        raise PKModelError(
            "populations", value, 'expected the name of a population file in params/, "<drug>-populations"'
        )
    return value.removesuffix(".toml")


def _fraction(text: str, field: str) -> float:
    raw = text.strip()
    try:
        return float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise PKModelError(field, text, "expected a fraction such as 0.78 or a percentage such as '78 %'") from None


def to_value(x: Any) -> Value:
    """A float for a scalar, else a float array (parameters keep the shape they were given)."""
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def format_value(x: Any) -> str:
    """A parameter value for messages and repr: the number, or an array's size and median."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    return f"array(n={arr.size}, median={np.median(arr):.6g})"
