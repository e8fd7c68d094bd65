"""The covariates of a virtual population: drawn from distributions, or read from a table.

:class:`Demographics` draws each subject's sex, age, body weight and serum creatinine from its own
random stream, and its creatinine clearance by Cockcroft–Gault (:mod:`pkmodel.drugs.renal`), so
that the covariates are correlated the way they are in people: weight with sex (a median per
sex), creatinine clearance with age (the (140 − age) term), weight and sex. :func:`table_covariates`
reads the same covariates (and any other a covariate effect names) from a table such as a pandas
DataFrame with one row per subject.

Units: age years, weight kg, serum creatinine mg/dL, creatinine clearance mL/min.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pkmodel.drugs.covariates import CHILD_PUGH, SEX_WORDS, choice, covariate, creatinine
from pkmodel.drugs.renal import CRCL_RANGE, cockcroft_gault
from pkmodel.errors import PKModelError
from pkmodel.model import checked_number

#: Covariates a subject may have whatever the drug; a covariate effect may name any other.
KNOWN = ("age", "weight", "sex", "serum_creatinine", "crcl", "child_pugh")


@dataclass(frozen=True)
class Demographics:
    """Distributions of an adult population's covariates (every default is an assumption, a
    round description of adults rather than of any study; change them for the population meant):

    ``female_fraction``: probability of sex "female" (0.5);
    ``age``: (low, high) years, uniform (18 to 80: the adult ages of a trial population);
    ``weight_median``: kg by sex, log-normal with ``weight_cv`` % (female 70, male 85, CV 20 %:
    near the medians of adult body weight in national surveys such as NHANES);
    ``serum_creatinine_median``: mg/dL by sex, log-normal with ``serum_creatinine_cv`` % (female 0.7,
    male 0.9, CV 20 %: the middle of the usual adult reference intervals).

    Each subject draws two uniform numbers (sex, age) then two standard normal numbers (weight,
    creatinine) from its stream, after its between-subject variability.
    """

    female_fraction: float = 0.5
    age: tuple[float, float] = (18.0, 80.0)
    weight_median: Mapping[str, float] = field(default_factory=lambda: {"female": 70.0, "male": 85.0}, hash=False)
    weight_cv: float = 20.0
    serum_creatinine_median: Mapping[str, float] = field(
        default_factory=lambda: {"female": 0.7, "male": 0.9}, hash=False
    )
    serum_creatinine_cv: float = 20.0

    N_UNIFORM = 2
    N_NORMAL = 2

    def __post_init__(self) -> None:
        checked_number(self.female_fraction, "female_fraction", low=0.0, high=1.0, low_inclusive=True)
        if not (isinstance(self.age, tuple) and len(self.age) == 2):
            raise PKModelError("age", self.age, "(low, high) in years")
        low = checked_number(self.age[0], "age[0]", low=0.0, high=130.0, low_inclusive=True)
        high = checked_number(self.age[1], "age[1]", low=0.0, high=130.0, low_inclusive=True)
        if not low <= high:
            raise PKModelError("age", self.age, "low <= high")
        for name in ("weight_median", "serum_creatinine_median"):
            table = getattr(self, name)
            if not isinstance(table, Mapping) or set(table) != {"female", "male"}:
                raise PKModelError(name, table, 'a mapping {"female": ..., "male": ...}')
            for sex, value in table.items():
                checked_number(value, f"{name}[{sex!r}]", low=0.0)
        for name in ("weight_cv", "serum_creatinine_cv"):
            checked_number(getattr(self, name), name, low=0.0, low_inclusive=True, high=1000.0)

    def covariates(self, u: NDArray[np.float64], z: NDArray[np.float64]) -> dict[str, Any]:
        """Covariates from each subject's draws: ``u`` (n, 2) uniform in [0, 1), ``z`` (n, 2)
        standard normal. Returns arrays: sex, age, weight, serum_creatinine, crcl."""
        female = u[:, 0] < self.female_fraction
        sex = np.where(female, "female", "male").astype(object)
        age = self.age[0] + (self.age[1] - self.age[0]) * u[:, 1]

        def lognormal(median: Mapping[str, float], cv: float, zz: NDArray[np.float64]) -> NDArray[np.float64]:
            omega = np.sqrt(np.log1p((cv / 100.0) ** 2))
            return np.where(female, median["female"], median["male"]) * np.exp(omega * zz)

        weight = lognormal(self.weight_median, self.weight_cv, z[:, 0])
        scr = lognormal(self.serum_creatinine_median, self.serum_creatinine_cv, z[:, 1])
        crcl = cockcroft_gault(age, weight, scr, list(sex))
        return {"sex": sex, "age": age, "weight": weight, "serum_creatinine": scr, "crcl": np.asarray(crcl)}


def table_covariates(table: Any, extra: Collection[str] = ()) -> dict[str, Any]:
    """Covariates from a table (a pandas DataFrame or a mapping of columns, one row per subject):
    the :data:`KNOWN` columns checked as a :class:`~pkmodel.drugs.patient.Patient` checks them,
    and the ``extra`` covariates that covariate effects name (numbers). Without a ``crcl`` column,
    creatinine clearance is Cockcroft–Gault when age, weight, serum_creatinine and sex are all
    there. Any other column is an error (a misspelt covariate would silently do nothing)."""
    columns = {str(k): np.asarray(table[k]) for k in table.keys()} if hasattr(table, "keys") else None
    if not columns:
        raise PKModelError(
            "covariates", type(table).__name__, "a DataFrame (or mapping of columns) with one row per subject"
        )
    unknown = sorted(set(columns) - set(KNOWN) - set(extra))
    if unknown:
        raise PKModelError(
            "covariates", unknown[0], f"unknown covariate column; known: {', '.join(KNOWN + tuple(sorted(extra)))}"
        )
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise PKModelError("covariates", sorted(sizes), "columns of one non-zero length (one row per subject)")
    out: dict[str, Any] = {}
    for name, values in columns.items():
        if name == "sex":
            out[name] = np.array([choice(v, "sex", SEX_WORDS) for v in values], dtype=object)
        elif name == "child_pugh":
            words = {c.lower(): c for c in CHILD_PUGH}
            out[name] = np.array(
                [None if _missing(v) else choice(v, "child_pugh", words) for v in values], dtype=object
            )
        elif name == "age":
            out[name] = np.asarray(covariate(values, "age", "years", low=0.0, high=130.0, low_inclusive=True))
        elif name == "weight":
            out[name] = np.asarray(covariate(values, "weight", "kg", low=0.0, high=1000.0))
        elif name == "serum_creatinine":
            out[name] = np.asarray(creatinine(values))
        elif name == "crcl":
            out[name] = np.asarray(covariate(values, "crcl", **CRCL_RANGE))
        else:
            out[name] = np.asarray(covariate(values, name, "", low=-np.inf, high=np.inf))
    if "crcl" not in out and {"age", "weight", "serum_creatinine", "sex"} <= set(out):
        out["crcl"] = np.asarray(cockcroft_gault(out["age"], out["weight"], out["serum_creatinine"], list(out["sex"])))
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
