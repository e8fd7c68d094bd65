"""Calibration of a model against published summary statistics ("targets").

The targets and the calibration a file declares are read by :mod:`.calibration_targets`; their
exact predictions come from :mod:`.target_predictions`. A target's z-score is (predicted - mean)
/ SD, with the between-subject SD as the scale: a typical subject lies within about ±1, so |z| > 2
says the model cannot reproduce that mean. The calibration minimises half the sum of squared
z-scores of the fitted targets (``scipy.optimize.least_squares``) from every declared start.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from pkmodel.analysis.calibration_targets import CalibrationSpec, load_calibration, number
from pkmodel.analysis.target_predictions import calibration_table, predict_many
from pkmodel.errors import PKModelError
from pkmodel.model import LN2, Model
from pkmodel.params import load_params, model_from_fields

# A searched coordinate that is not a model field: the share of a dose's AUC that the terminal
# (beta) phase carries, (alpha - k10) / (alpha - beta) for k10 = CL/V1 (exactly: the B/beta part
# of A/alpha + B/beta). With both half-lives held, a two-compartment model exists only for a
# share strictly between 0 (k10 = alpha: no peripheral compartment, the terminal phase vanishes)
# and 1 (k10 = beta), so a logit of it keeps every trial valid; V1 follows as CL / k10.
TERMINAL_SHARE = "terminal_auc_share"


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`: the fitted model, its table, the objective (half the sum of
    squared z-scores of the fitted targets), the searched coordinates ``x`` (log / logit scale,
    in the order of ``spec.search``), the gradient of the objective there, and every start's
    end point (``starts``: one row per start with its objective)."""

    model: Model
    table: pd.DataFrame
    objective: float
    converged: bool
    x: np.ndarray
    gradient: np.ndarray
    starts: pd.DataFrame
    spec: CalibrationSpec


class Problem:
    """The objective of one calibration: held values, searched coordinates and fitted targets.

    ``model(X)`` builds a model with one subject per row of ``X`` (n, n_search) and
    ``residuals(X)`` gives the z-scores (n, n_fitted) of all of them in one vectorised pass.
    """

    def __init__(self, spec: CalibrationSpec, variant: str | None = None, held: dict[str, Any] | None = None) -> None:
        self.spec = spec
        base = load_params(spec.params, variant=variant)
        self.name = f"{base.name} (calibrated)"
        self.held = {k: float(getattr(base, k)) for k in spec.held}
        for k, v in (held or {}).items():
            if k not in self.held:
                raise PKModelError("held", k, f"held values of this calibration: {', '.join(spec.held)}")
            self.held[k] = number(v, k, f"held.{k}")
        self.fitted = tuple(t for t in spec.targets if t.fitted)
        self.base = base

    def values(self, X: np.ndarray) -> dict[str, Any]:
        """Model fields for each row of ``X`` (arrays of length n)."""
        X = np.atleast_2d(X)
        values: dict[str, Any] = dict(self.held)
        for j, s in enumerate(self.spec.search):
            values[s.name] = s.from_free(X[:, j])
        if TERMINAL_SHARE in values:
            try:
                alpha, beta = LN2 / values["t_half_alpha"], LN2 / values["t_half_beta"]
                cl = values["cl"]
            except KeyError as missing:
                raise PKModelError(TERMINAL_SHARE, str(missing), "needs t_half_alpha, t_half_beta and cl") from None
            k10 = alpha - (alpha - beta) * values.pop(TERMINAL_SHARE)
            values["v1"] = cl / k10
        return values

    def model(self, X: np.ndarray) -> Model:
        return model_from_fields(self.values(X), name=self.name)

    def residuals(self, X: np.ndarray) -> np.ndarray:
        predicted = predict_many(self.model(X), self.fitted)
        return ((predicted.T - [t.mean for t in self.fitted]) / [t.sd for t in self.fitted]).astype(float)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """d residuals / d x by central differences, all 2 * n_search models in one pass; at a
        bound the step on that side stays on the bound (a one-sided difference there)."""
        lower, upper = self.bounds
        step = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
        ahead, behind = np.minimum(x + step, np.maximum(upper, x)), np.maximum(x - step, np.minimum(lower, x))
        p = x.size
        X = np.concatenate([x + np.diag(ahead - x), x + np.diag(behind - x)])
        R = self.residuals(X)
        return ((R[:p] - R[p:]) / (ahead - behind)[:, None]).T

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the searched coordinates (free scale)."""
        lower, upper = np.array([s.bounds for s in self.spec.search]).T
        return lower, upper

    def objective(self, X: np.ndarray) -> np.ndarray:
        """Half the sum of squared z-scores, one per row of ``X``."""
        return 0.5 * np.sum(self.residuals(X) ** 2, axis=1)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`objective` at ``x`` (J^T r)."""
        return self.jacobian(x).T @ self.residuals(x)[0]

    def starts(self) -> np.ndarray:
        """Starting points (n_starts, n_search) on the free scale."""
        columns = [s.starts for s in self.spec.search]
        if self.spec.combine_starts == "product":
            rows = list(itertools.product(*columns))
        else:
            n = max(len(c) for c in columns)
            rows = [tuple(c[i] if len(c) > 1 else c[0] for c in columns) for i in range(n)]
        return np.array([[s.to_free(v) for s, v in zip(self.spec.search, row, strict=True)] for row in rows])

    def to_free(self, model: Model) -> np.ndarray:
        """The searched coordinates of a (single-subject) model."""
        x = []
        for s in self.spec.search:
            if s.name == TERMINAL_SHARE:
                alpha, beta = LN2 / self.held["t_half_alpha"], LN2 / self.held["t_half_beta"]
                value = (alpha - float(model.k10)) / (alpha - beta)
            else:
                value = float(getattr(model, s.name))
            x.append(s.to_free(value))
        return np.array(x)

    def profile(self, name: str, values: Any, x0: np.ndarray) -> pd.DataFrame:
        """The objective along one searched coordinate: at each of ``values`` (natural scale) the
        others are refitted (warm-started from the previous point, first from ``x0``). One row
        per value: the value, the objective and the fitted model's CL, V1, Q, V2, ka and F."""
        j = [s.name for s in self.spec.search].index(name)
        others = [i for i in range(len(self.spec.search)) if i != j]
        x = np.array(x0, dtype=float)
        rows = []
        for value in values:
            x[j] = self.spec.search[j].to_free(value)

            def residuals(y: np.ndarray, x: np.ndarray = x) -> np.ndarray:
                return self.residuals(np.insert(y, j, x[j]))[0]

            def jacobian(y: np.ndarray, x: np.ndarray = x) -> np.ndarray:
                return np.delete(self.jacobian(np.insert(y, j, x[j])), j, axis=1)

            result = least_squares(residuals, x[others], jac=jacobian, xtol=1e-10, ftol=1e-10, gtol=1e-8)
            x[others] = result.x
            model = self.model(x)
            rows.append(
                {name: value, "objective": float(result.cost)}
                | {k: float(np.asarray(getattr(model, k))[0]) for k in ("cl", "v1", "q", "v2", "ka", "f")}
            )
        return pd.DataFrame(rows)

    def refine(self, x0: np.ndarray) -> Any:
        """One local least-squares fit from ``x0`` (scipy's result object)."""
        lower, upper = self.bounds
        return least_squares(
            lambda x: self.residuals(x)[0],
            np.clip(x0, lower, upper),
            jac=self.jacobian,
            bounds=(lower, upper),
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-10,
            method="trf",
        )


def calibrate(
    name_or_path: str | Path, *, variant: str | None = None, held: dict[str, Any] | None = None
) -> Calibration:
    """Calibrate the model a targets file declares (``params/<name>.toml`` or a path).

    The ``[calibration]`` table names the parameter file (``params``), the values it holds
    (``held``: read from that file, or its ``variant``; ``held`` overrides them, e.g.
    ``{"t_half_alpha": 5.56}``) and the searched coordinates with their scale and starts. Every
    start is refined by least squares; the result is the lowest objective (the rule of the
    shipped numbers: the global minimum over the declared starts).
    """
    problem = Problem(load_calibration(name_or_path), variant, held)
    results = [problem.refine(x0) for x0 in problem.starts()]
    rows = [
        [*(s.from_free(v) for s, v in zip(problem.spec.search, x0, strict=True)), float(r.cost)]
        for x0, r in zip(problem.starts(), results, strict=True)
    ]
    starts = pd.DataFrame(rows, columns=[*(f"start {s.name}" for s in problem.spec.search), "objective"])
    best = min(results, key=lambda r: r.cost)
    # One subject: the searched values as plain numbers, so the model prints and saves like any other.
    model = model_from_fields({k: np.asarray(v).item() for k, v in problem.values(best.x).items()}, name=problem.name)
    return Calibration(
        model=model,
        table=calibration_table(model, problem.spec.targets),
        objective=float(best.cost),
        converged=bool(best.success),
        x=best.x,
        gradient=problem.gradient(best.x),
        starts=starts,
        spec=problem.spec,
    )
