"""The result of fitting one subject's data (:func:`pkmodel.analysis.estimate.fit`): estimates,
their standard errors from the Jacobian at the optimum, and the observations with predictions.

Standard errors, as for any weighted least-squares fit: with ``J`` the derivatives of the
predictions with respect to the log parameters at the optimum and ``W`` the weights (1 / the
variance shape of each observation), ``cov(log θ) = s² (JᵀWJ)⁻¹`` where ``s²`` = weighted
residual sum of squares / (observations − estimated parameters). The delta method takes it to
the natural scale: ``cov(θ) = D cov(log θ) D`` with ``D = diag(θ)``. CV % = 100 · SE / estimate;
the correlation matrix is the same on both scales.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.model import Model

if TYPE_CHECKING:
    import pandas as pd

#: Units of the model fields a fit can estimate (F is a fraction).
UNITS = {"cl": "L/h", "v1": "L", "q": "L/h", "v2": "L", "ka": "1/h", "f": "", "tlag": "h"}


def frozen(values: Any) -> np.ndarray:
    """A read-only float copy (a result's arrays cannot be changed behind its back)."""
    out = np.array(values, dtype=float)
    out.setflags(write=False)
    return out


def covariance(
    estimates: np.ndarray, jac_log: np.ndarray, weights: np.ndarray, s2: float
) -> tuple[np.ndarray, np.ndarray]:
    """(covariance on the natural scale, correlation) from the Jacobian of the predictions with
    respect to the log parameters (n_obs, p), the weights (n_obs,) and the residual variance
    scale ``s2``. A singular information matrix (a parameter the data cannot tell) gives NaN."""
    info = jac_log.T @ (weights[:, None] * jac_log)
    try:
        cov_log = s2 * np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov_log = np.full(info.shape, np.nan)
    if not np.all(np.isfinite(cov_log)):
        cov_log = np.full(info.shape, np.nan)
    d = np.asarray(estimates, dtype=float)
    cov = cov_log * np.outer(d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_log = np.sqrt(np.diag(cov_log))
        corr = cov_log / np.outer(se_log, se_log)
    return cov, corr


@dataclass(frozen=True)
class FitResult:
    """What :func:`pkmodel.fit` found.

    ``model``: the fitted :class:`Model`; ``parameters``: the names estimated, in order;
    ``estimates``, ``standard_errors`` (same units as the parameter, see :data:`UNITS`),
    ``cv_percent`` (100 · SE / estimate): mappings name -> value; ``covariance`` (natural scale)
    and ``correlation``: (p, p) arrays in the order of ``parameters``; ``fixed``: the values held
    (name -> value); ``error``: "additive", "proportional" or "combined"; ``sigma``: the residual
    error estimated (additive: SD in mg/L; proportional: SD as a fraction of the prediction;
    combined: (SD in mg/L, fraction)); ``objective``: the weighted residual sum of squares at the
    optimum; ``converged`` and ``message`` from the optimiser. Per observation (arrays of the
    same length): ``times`` (h), ``observed`` and ``predicted`` (mg/L), ``residuals`` = observed −
    predicted (mg/L) and ``weighted_residuals`` = residual / its estimated SD (dimensionless: about
    95 % lie within ±2 when the model and the error model are right).
    """

    model: Model
    parameters: tuple[str, ...]
    estimates: Mapping[str, float]
    standard_errors: Mapping[str, float]
    cv_percent: Mapping[str, float]
    covariance: np.ndarray
    correlation: np.ndarray
    fixed: Mapping[str, float]
    error: str
    sigma: float | tuple[float, float]
    objective: float
    converged: bool
    message: str
    times: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    residuals: np.ndarray
    weighted_residuals: np.ndarray

    @property
    def n_observations(self) -> int:
        return int(self.times.size)

    def table(self) -> pd.DataFrame:
        """One row per parameter (estimated first, then fixed): ``parameter``, ``estimate``,
        ``unit``, ``se``, ``cv_percent`` and ``fixed`` (True for a value held, whose SE is NaN)."""
        import pandas as pd

        rows = [
            (name, self.estimates[name], UNITS[name], self.standard_errors[name], self.cv_percent[name], False)
            for name in self.parameters
        ]
        rows += [(name, value, UNITS[name], np.nan, np.nan, True) for name, value in self.fixed.items()]
        return pd.DataFrame(rows, columns=["parameter", "estimate", "unit", "se", "cv_percent", "fixed"])

    def correlation_table(self) -> pd.DataFrame:
        """The correlation matrix of the estimates as a labelled DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.correlation, index=list(self.parameters), columns=list(self.parameters))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k} = {self.estimates[k]:.4g} {UNITS[k]} (CV {self.cv_percent[k]:.3g} %)".replace("  ", " ")
            for k in self.parameters
        )
        return f"<FitResult: {shown}; {self.error} error; {self.n_observations} observations>"
