"""Fitting one subject's data: ``fit(model, data, regimen)`` -> :class:`FitResult`.

Weighted least squares on the log scale of the parameters: the parameters estimated are
searched as log θ (so they stay positive, and F, whose upper bound is 1, as log F <= 0), within
optional bounds; the others are held at the model's values or at the ``fixed`` values given.
Every prediction is the exact closed form of :func:`pkmodel.simulation.simulate.simulate`; the
optimiser is ``scipy.optimize.least_squares`` (trust-region reflective), fed a Jacobian by
central differences in which all the perturbed models are simulated at once (one subject each).

Residual error models (the variance of an observation y with prediction f):

- ``"additive"``: Var = σ², σ in mg/L; the weights are equal.
- ``"proportional"``: Var = (σ·f)², σ a fraction of the prediction; the weights are 1/f² at
  the current prediction (a sample the model predicts as 0, e.g. before an oral dose, cannot
  carry a proportional error and is refused).
- ``"combined"``: Var = s²·(a² + (b·f)²) with a (mg/L) and b (fraction) given as
  ``error_sd=(a, b)``: their ratio sets the weights, and the scale s² is estimated, so the
  reported σ is (s·a, s·b) and s is about 1 when a and b are the true SDs.

The objective is the sum of the squared weighted residuals (y − f)/g(f), g the SD shape of the
error model. Standard errors and the correlation come from the Jacobian at the optimum
(:mod:`pkmodel.analysis.fit_result`).

The data, one subject's observations, are a NONMEM-style dataset of one ID or a tidy DataFrame
(``time_h``, ``conc_mg_L``) with its :class:`Regimen`; :mod:`pkmodel.analysis.fit_data` reads
them (and says which samples see the value just before a dose at their time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from pkmodel.analysis.fit_data import Observations, read_observations
from pkmodel.analysis.fit_result import UNITS, FitResult, covariance, frozen
from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.model import Model

ERRORS = ("additive", "proportional", "combined")
# Central-difference step on the log scale: about the cube root of the rounding error.
_STEP = float(np.finfo(float).eps ** (1 / 3))


def fit(
    model: Model,
    data: Any,
    regimen: Regimen | None = None,
    *,
    estimate: Sequence[str] | None = None,
    fixed: Mapping[str, Any] | Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    error: str = "proportional",
    error_sd: tuple[float, float] | None = None,
) -> FitResult:
    """Fit ``model``'s parameters to one subject's concentrations by weighted least squares.

    ``model``: a one-subject :class:`Model`, whose values are the starting point (and the values
    of the parameters not estimated). ``data``: a NONMEM-style dataset of one ID, or a tidy
    DataFrame (``time_h``, ``conc_mg_L``) with its ``regimen`` (see the module docstring).
    ``estimate``: the fields to estimate, among ``cl``, ``v1``, ``q``, ``v2``, ``ka``, ``f``,
    ``tlag``; by default CL and V1, Q and V2 for a two-compartment model, and ka when there is
    an oral dose (F and the lag only when named: with oral doses alone F is not identifiable).
    ``fixed``: fields held, as a mapping name -> value (a number in internal units or a string
    with a unit) or a sequence of names held at the model's values; they leave the default
    ``estimate``. ``bounds``: name -> (lower, upper) in internal units, 0 <= lower < upper
    (``math.inf`` for none; F at most 1); the starting value must lie within them. ``error``:
    "additive", "proportional" (default) or "combined" (then ``error_sd`` = (a in mg/L, b as a
    fraction), both > 0).

    Returns a :class:`FitResult`. Invalid input raises :class:`PKModelError` naming the field.
    """
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model (the starting values)")
    if model.n_subjects is not None:
        raise PKModelError("model", repr(model), "one subject's parameters (scalars): fit fits one subject")
    if not isinstance(error, str) or error not in ERRORS:
        raise PKModelError("error", error, f"allowed: {', '.join(ERRORS)}")
    shape = _error_shape(error, error_sd)
    obs = read_observations(model, data, regimen)
    model, held = _fixed(model, fixed)
    names = _estimated(model, obs.regimen, estimate, held)
    if obs.times.size <= len(names):
        raise PKModelError(
            "data", f"{obs.times.size} observations", f"more observations than estimated parameters ({len(names)})"
        )
    lower, upper = _bounds(model, names, bounds)
    problem = _Problem(model, obs, names, shape)
    x0 = np.log([float(getattr(model, k)) for k in names])
    if shape[0] == 0 and np.any(problem.predict(x0[None])[0] <= 0):
        t = float(obs.times[np.argmax(problem.predict(x0[None])[0] <= 0)])
        raise PKModelError(
            "data", f"a sample at {t:g} h where the model predicts 0 mg/L",
            "samples with a proportional error need a prediction > 0: remove pre-dose samples, or use "
            "error='additive' or 'combined'",
        )
    from scipy.optimize import least_squares

    found = least_squares(
        lambda x: problem.residuals(x[None])[0],
        x0,
        jac=lambda x: problem.jacobians(x, lower, upper)[0],
        bounds=(lower, upper),
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=200,
    )
    return _result(problem, found, held, error, shape, lower, upper)


# --- the inputs ------------------------------------------------------------------------------


def _error_shape(error: str, error_sd: Any) -> tuple[float, float]:
    """(a, b): the SD shape sqrt(a² + (b·f)²) of the error model, up to the scale estimated."""
    if error != "combined":
        if error_sd is not None:
            raise PKModelError("error_sd", error_sd, f"only for error='combined'; the {error} SD is estimated")
        return (1.0, 0.0) if error == "additive" else (0.0, 1.0)
    ok = isinstance(error_sd, (tuple, list)) and len(error_sd) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in error_sd
    )
    if not ok:
        raise PKModelError(
            "error_sd", error_sd, "for error='combined': (additive SD in mg/L, proportional SD as a fraction), both > 0"
        )
    return float(error_sd[0]), float(error_sd[1])


def _fixed(model: Model, fixed: Any) -> tuple[Model, dict[str, float]]:
    """The model with the fixed values in place, and the names held -> value."""
    if fixed is None:
        return model, {}
    if isinstance(fixed, Mapping):
        names, values = list(fixed), dict(fixed)
    elif isinstance(fixed, Sequence) and not isinstance(fixed, str):
        names, values = list(fixed), {}
    else:
        raise PKModelError("fixed", fixed, "a mapping name -> value, or a sequence of names held at the model's values")
    for name in names:
        if name not in UNITS:
            raise PKModelError("fixed", name, f"a model field: {', '.join(UNITS)}")
    model = model.replace(**values) if values else model
    held = {}
    for name in names:
        value = getattr(model, name)
        if value is None:
            raise PKModelError("fixed", name, "a field this model has (ka needs an absorption model, v2 two compartments)")
        held[name] = float(value)
    return model, held


def _estimated(model: Model, regimen: Regimen, estimate: Any, held: Mapping[str, float]) -> tuple[str, ...]:
    if estimate is None:
        names = ["cl", "v1"] + (["q", "v2"] if model.v2 is not None else [])
        names += ["ka"] if model.ka is not None and "oral" in regimen.routes else []
        names = [k for k in names if k not in held]
    elif isinstance(estimate, str) or not isinstance(estimate, Sequence):
        raise PKModelError("estimate", estimate, f"a sequence of model fields: {', '.join(UNITS)}")
    else:
        names = list(estimate)
    if not names:
        raise PKModelError("estimate", estimate, "at least one parameter to estimate")
    for name in names:
        if name not in UNITS:
            raise PKModelError("estimate", name, f"a model field: {', '.join(UNITS)}")
        if name in held:
            raise PKModelError("estimate", name, "a parameter is either estimated or fixed, not both")
        value = getattr(model, name)
        if value is None or not float(value) > 0:
            raise PKModelError(
                "estimate", name, f"a field with a starting value > 0 (the model has {name} = {value}); "
                "ka needs an absorption model, q and v2 two compartments",
            )
    if len(set(names)) != len(names):
        raise PKModelError("estimate", list(names), "each parameter once")
    return tuple(names)


def _bounds(model: Model, names: tuple[str, ...], bounds: Any) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the log scale; F is at most 1 whatever is given."""
    given = {} if bounds is None else bounds
    if not isinstance(given, Mapping):
        raise PKModelError("bounds", bounds, "a mapping name -> (lower, upper)")
    stray = [k for k in given if k not in names]
    if stray:
        raise PKModelError("bounds", stray[0], f"a parameter estimated: {', '.join(names)}")
    lower, upper = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    for j, name in enumerate(names):
        top = 1.0 if name == "f" else math.inf
        pair = given.get(name, (0.0, top))
        field = f"bounds[{name!r}]"
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise PKModelError(field, pair, f"(lower, upper) with 0 <= lower < upper <= {top:g}")
        lo, hi = pair
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
        if not (numbers and 0 <= lo < hi <= top and not math.isnan(lo) and not math.isnan(hi)):
            raise PKModelError(field, (lo, hi), f"(lower, upper) with 0 <= lower < upper <= {top:g}")
        start = float(getattr(model, name))
        if not lo <= start <= hi:
            raise PKModelError(field, (lo, hi), f"bounds that contain the starting value {start:g} {UNITS[name]}".rstrip())
        lower[j] = -np.inf if lo == 0 else math.log(lo)
        upper[j] = math.log(hi)
    return lower, upper


# --- the objective ---------------------------------------------------------------------------


class _Problem:
    """Predictions and weighted residuals for many parameter vectors at once (one row of ``X``,
    log scale, per simulated subject)."""

    def __init__(self, model: Model, obs: Observations, names: tuple[str, ...], shape: tuple[float, float]) -> None:
        self.model, self.obs, self.names, self.shape = model, obs, names, shape
        self.grid, self.where = np.unique(obs.times, return_inverse=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Concentrations (k, n_obs) in mg/L for the k rows of ``X``."""
        from pkmodel.simulation.simulate import simulate

        k = X.shape[0]
        # Every parameter as one value per trial, not only those estimated: the event builder of
        # pkmodel.dosing.events fails on a per-subject F with a scalar lag (reported to the lead).
        values = {
            name: np.full(k, float(getattr(self.model, name))) for name in UNITS if getattr(self.model, name) is not None
        }
        trial = self.model.replace(**(values | {name: np.exp(X[:, j]) for j, name in enumerate(self.names)}))
        sim = simulate(trial, self.obs.regimen, self.grid, check_label=False)
        left = sim.at(self.grid, left=True)[:, self.where]
        if self.obs.left.all():
            return left
        return np.where(self.obs.left, left, sim.at(self.grid)[:, self.where])

    def sd_shape(self, f: np.ndarray) -> np.ndarray:
        a, b = self.shape
        return np.sqrt(a**2 + (b * f) ** 2)

    def residuals(self, X: np.ndarray, f: np.ndarray | None = None) -> np.ndarray:
        """Weighted residuals (k, n_obs). A trial step the model cannot take (a value that
        overflows or that the model refuses) or whose prediction is 0 where a proportional error
        needs > 0 gives infinite residuals: the optimiser then shortens the step."""
        if f is None:
            try:
                with np.errstate(all="ignore"):
                    f = self.predict(X)
            except PKModelError:
                return np.full((X.shape[0], self.obs.times.size), np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (self.obs.conc - f) / self.sd_shape(f)
        return np.where(np.isfinite(r), r, np.inf)

    def jacobians(self, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """d residuals / d log θ and d predictions / d log θ (n_obs, p) by central differences,
        every perturbed model simulated in one pass; at a bound the step stays on the bound."""
        p = x.size
        step = _STEP * np.maximum(1.0, np.abs(x))
        ahead = np.minimum(x + step, np.maximum(upper, x))
        behind = np.maximum(x - step, np.minimum(lower, x))
        X = np.concatenate([x + np.diag(ahead - x), x + np.diag(behind - x)])
        F = self.predict(X)
        R = self.residuals(X, F)
        width = (ahead - behind)[:, None]
        return ((R[:p] - R[p:]) / width).T, ((F[:p] - F[p:]) / width).T


def _result(
    problem: _Problem, found: Any, held: dict[str, float], error: str, shape: tuple[float, float],
    lower: np.ndarray, upper: np.ndarray,
) -> FitResult:
    names, obs = problem.names, problem.obs
    x = found.x
    f = problem.predict(x[None])[0]
    g = problem.sd_shape(f)
    r = (obs.conc - f) / g
    dof = obs.times.size - len(names)
    s2 = float(np.sum(r**2) / dof)
    _, jac_f = problem.jacobians(x, lower, upper)
    estimates = np.exp(x)
    cov, corr = covariance(estimates, jac_f, 1 / g**2, s2)
    with np.errstate(invalid="ignore"):  # a singular or rounding-negative variance: NaN, not a warning
        se = np.sqrt(np.diag(cov))
    fitted = problem.model.replace(**{k: float(v) for k, v in zip(names, estimates, strict=True)})
    s = math.sqrt(s2)
    sigma: float | tuple[float, float] = (s * shape[0], s * shape[1]) if error == "combined" else s
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = r / s
    return FitResult(
        model=fitted,
        parameters=names,
        estimates=MappingProxyType({k: float(v) for k, v in zip(names, estimates, strict=True)}),
        standard_errors=MappingProxyType({k: float(v) for k, v in zip(names, se, strict=True)}),
        cv_percent=MappingProxyType({k: float(100 * e / v) for k, e, v in zip(names, se, estimates, strict=True)}),
        covariance=frozen(cov),
        correlation=frozen(corr),
        fixed=MappingProxyType(dict(held)),
        error=error,
        sigma=sigma,
        objective=float(np.sum(r**2)),
        converged=bool(found.success),
        message=str(found.message),
        times=frozen(obs.times),
        observed=frozen(obs.conc),
        predicted=frozen(f),
        residuals=frozen(obs.conc - f),
        weighted_residuals=frozen(weighted),
    )
