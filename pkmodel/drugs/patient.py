"""Who the patient is: an immutable, validated description (age, weight, sex, serum creatinine
or creatinine clearance or an eGFR category, Child–Pugh class, pregnancy, breastfeeding).

How the patient changes the model is :mod:`pkmodel.drugs.clearance`; the covariates' words and
checks are :mod:`pkmodel.drugs.covariates`; Cockcroft–Gault is :mod:`pkmodel.drugs.renal`.

Units: age years, weight kg, serum creatinine mg/dL (strings "88 µmol/L" or "1.0 mg/dL"
accepted), creatinine clearance mL/min (the clinical unit; "45 mL/min" accepted). Numeric
covariates may be 1-D arrays, one value per subject, which give a model with array clearance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pkmodel.drugs.covariates import (
    CHILD_PUGH,
    KDIGO,
    RENAL_CATEGORIES,
    SEX_WORDS,
    choice,
    covariate,
    creatinine,
)
from pkmodel.drugs.renal import CRCL_RANGE, cockcroft_gault
from pkmodel.errors import PKModelError
from pkmodel.model import Value, format_value
from pkmodel.units import parse_quantity


@dataclass(frozen=True, eq=False, init=False)
class Patient:
    """A patient (or, with array covariates, a group of subjects), validated on creation.

    Fields (all optional; None means "not known"):
        age: years, in [0, 130).
        weight: body weight, kg (> 0); Cockcroft–Gault uses it as given.
        sex: "female" or "male" (also "f"/"m", any case).
        serum_creatinine: mg/dL (> 0), or a string with its unit: "1.1 mg/dL", "97 µmol/L".
        crcl: creatinine clearance, mL/min (> 0), or a string "45 mL/min". When given it is used
            as is, before any Cockcroft–Gault estimate.
        egfr_category: "normal", "mild", "moderate", "severe", "kidney failure", or KDIGO
            "G1".."G5" ("G3a"/"G3b" are "moderate").
        child_pugh: "A", "B" or "C".
        pregnant, breastfeeding: True or False.

    age, weight, serum_creatinine and crcl may be 1-D arrays of one length (one value per subject).
    When age, weight, serum creatinine and sex are given without crcl, the Cockcroft–Gault
    estimate must lie where a given crcl must (see :func:`cockcroft_gault`).
    """

    age: Value | None = None
    weight: Value | None = None
    sex: str | None = None
    serum_creatinine: Value | None = None
    crcl: Value | None = None
    egfr_category: str | None = None
    child_pugh: str | None = None
    pregnant: bool = False
    breastfeeding: bool = False

    def __init__(
        self,
        age: ArrayLike | None = None,
        weight: ArrayLike | None = None,
        sex: str | None = None,
        serum_creatinine: float | str | ArrayLike | None = None,
        crcl: float | str | ArrayLike | None = None,
        egfr_category: str | None = None,
        child_pugh: str | None = None,
        pregnant: bool = False,
        breastfeeding: bool = False,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "age", covariate(age, "age", "years", low=0.0, high=130.0, low_inclusive=True))
        set_(self, "weight", covariate(weight, "weight", "kg", low=0.0, high=1000.0))
        set_(self, "serum_creatinine", creatinine(serum_creatinine))
        set_(self, "crcl", _clearance_ml_min(crcl))
        set_(self, "sex", choice(sex, "sex", SEX_WORDS))
        categories = {c: c for c in RENAL_CATEGORIES} | {k.lower(): v for k, v in KDIGO.items()}
        set_(self, "egfr_category", choice(egfr_category, "egfr_category", categories, shown=_CATEGORY_NAMES))
        set_(self, "child_pugh", choice(child_pugh, "child_pugh", {c.lower(): c for c in CHILD_PUGH}))
        for field, value in (("pregnant", pregnant), ("breastfeeding", breastfeeding)):
            if not isinstance(value, (bool, np.bool_)):
                raise PKModelError(field, value, "expected True or False")
            set_(self, field, bool(value))
            if value and self.sex == "male":
                raise PKModelError(field, value, 'cannot be True for sex="male"')
        sizes = {np.size(v) for v in self._covariates().values() if np.ndim(v) == 1}
        if len(sizes) > 1:
            raise PKModelError("patient", sorted(sizes), "array covariates must all have one length (one per subject)")
        age_, weight_, scr_ = self.age, self.weight, self.serum_creatinine
        if self.crcl is None and age_ is not None and weight_ is not None and scr_ is not None and self.sex:
            # Estimated now, so an impossible estimate is refused like an impossible given crcl.
            cockcroft_gault(age_, weight_, scr_, self.sex)

    @property
    def n_subjects(self) -> int | None:
        """Length of the array covariates, or None when they are all scalars."""
        sizes = {np.size(v) for v in self._covariates().values() if np.ndim(v) == 1}
        return sizes.pop() if sizes else None

    def replace(self, **changes: Any) -> Patient:
        """A copy with some fields changed (the patient itself is immutable)."""
        return dataclasses.replace(self, **changes)

    def _covariates(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("age", "weight", "serum_creatinine", "crcl")}

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            shown.append(f"{f.name}={format_value(value) if not isinstance(value, (str, bool)) else repr(value)}")
        return f"Patient({', '.join(shown)})"


_CATEGORY_NAMES = "normal, mild, moderate, severe, kidney failure (or KDIGO G1, G2, G3, G3a, G3b, G4, G5)"


def _clearance_ml_min(value: Any) -> Any:
    """Creatinine clearance in mL/min: a number, or a string with its unit ("45 mL/min")."""
    if isinstance(value, str):
        value = parse_quantity(value, "creatinine_clearance", field="crcl")
    return covariate(value, "crcl", **CRCL_RANGE)
