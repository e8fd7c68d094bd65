"""Residual (observation) error of simulated concentrations.

An observation of a true concentration C (mg/L) is Y = C + sqrt(a² + (b·C)²) · ε with ε
standard normal: ``additive`` a (mg/L), ``proportional`` b (a fraction: 0.1 is 10 %), or both
(combined error, variances added as in NONMEM's ``Y = F + sqrt(a² + b²F²)·EPS``). Observations
may be negative under an additive error, as assay readings near zero are; nothing is clipped.

Subject i's ε come from its own stream for residual error (:mod:`pkmodel.drugs.streams`), one per
output time in time order, so they do not depend on the other subjects or on the subject's
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pkmodel.drugs.streams import RESIDUAL, Streams, checked_seed
from pkmodel.errors import PKModelError
from pkmodel.model import checked_number


@dataclass(frozen=True, init=False)
class ResidualError:
    """Residual error: ``additive`` SD (mg/L, >= 0) and ``proportional`` SD (fraction, >= 0)."""

    additive: float
    proportional: float

    def __init__(self, additive: float = 0.0, proportional: float = 0.0) -> None:
        a = checked_number(additive, "additive", low=0.0, low_inclusive=True, unit="mg/L")
        b = checked_number(proportional, "proportional", low=0.0, low_inclusive=True)
        if a == 0 and b == 0:
            raise PKModelError("residual error", (additive, proportional), "an additive or a proportional SD > 0")
        object.__setattr__(self, "additive", a)
        object.__setattr__(self, "proportional", b)

    def sd(self, concentration: Any) -> Any:
        """The SD of an observation at ``concentration`` (mg/L)."""
        c = np.asarray(concentration, dtype=float)
        return np.sqrt(self.additive**2 + (self.proportional * c) ** 2)

    def observe(self, concentration: Any, seed: int, first_subject: int = 0) -> NDArray[np.float64]:
        """Observations of ``concentration`` (mg/L, shape (n_subjects, n_times)): row k is
        subject ``first_subject + k`` of the population seeded with ``seed``."""
        c = np.asarray(concentration, dtype=float)
        if c.ndim != 2:
            raise PKModelError("concentration", c.shape, "a 2-D array (n_subjects, n_times)")
        seed = checked_seed(seed)
        eps = np.empty_like(c)
        streams = Streams(seed, RESIDUAL)
        for k in range(c.shape[0]):
            eps[k] = streams.rng(first_subject + k).standard_normal(c.shape[1])
        return c + self.sd(c) * eps
