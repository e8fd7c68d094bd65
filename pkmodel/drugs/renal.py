"""Renal equations: creatinine clearance from a patient's covariates, and the range a creatinine
clearance may take (given or estimated).

Units: age years, weight kg, serum creatinine mg/dL, creatinine clearance mL/min.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pkmodel.drugs.covariates import SEX_WORDS, choice, covariate, creatinine
from pkmodel.errors import PKModelError
from pkmodel.model import Value, checked_value

#: Creatinine clearance a patient may have, mL/min: one rule for a given and an estimated value.
CRCL_RANGE: dict[str, Any] = {"unit": "mL/min", "low": 0.0, "high": 1000.0}


def cockcroft_gault(age: ArrayLike, weight: ArrayLike, serum_creatinine: float | str | ArrayLike, sex: Any) -> Value:
    """Creatinine clearance (mL/min) by Cockcroft and Gault (Nephron 1976;16:31-41):

        CrCL = (140 − age) · weight / (72 · SCr),  × 0.85 for women

    age years, weight kg (as given: actual body weight unless the caller passes another),
    serum creatinine mg/dL (or a string with its unit), sex "female"/"male". Arrays broadcast.
    The equation is for adults; it is not meant for children. The estimate must lie where a given
    creatinine clearance must (:data:`CRCL_RANGE`); outside it, the error names the inputs.
    """
    years = covariate(age, "age", "years", low=0.0, high=130.0, low_inclusive=True)
    kg = covariate(weight, "weight", "kg", low=0.0, high=1000.0)
    scr = creatinine(serum_creatinine)
    if years is None or kg is None or scr is None:
        raise PKModelError("cockcroft_gault", (age, weight, serum_creatinine), "needs age, weight and serum creatinine")
    given = [sex] if isinstance(sex, str) or sex is None else list(sex)
    sexes = [choice(s, "sex", SEX_WORDS) for s in given]
    if None in sexes:
        raise PKModelError("sex", sex, 'Cockcroft-Gault needs "female" or "male"')
    female = np.array([s == "female" for s in sexes]) if not isinstance(sex, str) else np.bool_(sexes[0] == "female")
    with np.errstate(over="ignore"):
        crcl = (140.0 - np.asarray(years)) * np.asarray(kg) / (72.0 * np.asarray(scr)) * np.where(female, 0.85, 1.0)
    try:
        return checked_value(crcl, "crcl", **CRCL_RANGE)
    except PKModelError as err:
        i = 0 if np.ndim(crcl) == 0 else int(np.flatnonzero(~(np.isfinite(crcl) & (crcl < CRCL_RANGE["high"])))[0])

        def at(x: Any) -> Any:
            return np.broadcast_to(np.asarray(x), np.shape(crcl))[i] if np.ndim(crcl) else x

        inputs = (
            f"age {float(at(years)):g} years, weight {float(at(kg)):g} kg, serum creatinine "
            f"{float(at(scr)):g} mg/dL, {'female' if at(np.asarray(female)) else 'male'}"
        )
        subject = f" (subject {i})" if np.ndim(crcl) else ""
        raise PKModelError(
            "crcl",
            err.value,
            f"the Cockcroft–Gault estimate from {inputs}{subject} {err.allowed}; check these values, "
            "or give crcl directly",
        ) from None
