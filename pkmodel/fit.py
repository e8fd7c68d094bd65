"""Calibration of a model against published summary statistics ("targets").

A target is a reported mean ± SD of one metric under one regimen (e.g. Cmax after 500 mg oral,
13.8 ± 3.2 mg/L). Its z-score is (predicted - mean) / SD, with the between-subject SD as the
scale: a typical subject lies within about ±1, so |z| > 2 says the model cannot reproduce that
mean. The calibration minimises the sum of squared z-scores of the fitted targets
(``scipy.optimize.least_squares``), with every prediction computed exactly by :func:`simulate`.

Metrics: ``cmax``, ``tmax`` (single dose, from 0 to 24 h), ``auc_0_24`` (mg·h/L), ``cmax_ss``
(peak over one interval at steady state, computed in closed form), ``f``, ``t_half_alpha``,
``t_half_beta`` (h, properties of the model).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit, logit

from pkmodel.errors import PKModelError
from pkmodel.model import LN2, Model
from pkmodel.params import data_dir
from pkmodel.regimen import Regimen
from pkmodel.simulate import simulate

METRICS = ("cmax", "tmax", "auc_0_24", "cmax_ss", "f", "t_half_alpha", "t_half_beta")
_WINDOW = np.linspace(0.0, 24.0, 193)  # single-dose sampling window of the studies, 7.5 min grid


@dataclass(frozen=True)
class Target:
    """One published mean ± SD: ``metric`` of ``regimen`` (None for model properties)."""

    name: str
    metric: str
    mean: float
    sd: float
    unit: str
    source: str
    regimen: Regimen | None = None
    fitted: bool = True


def load_targets(name_or_path: str | Path = "mildronate-targets") -> list[Target]:
    """Targets from a TOML file: shipped name (``params/<name>.toml``) or a path."""
    path = Path(name_or_path)
    text = (path if path.suffix == ".toml" else data_dir() / f"{name_or_path}.toml").read_text(encoding="utf-8")
    targets = []
    for i, entry in enumerate(tomllib.loads(text).get("target", [])):
        metric = entry.get("metric")
        if metric not in METRICS:
            raise PKModelError(f"target[{i}].metric", metric, f"allowed: {', '.join(METRICS)}")
        if not entry.get("sd", 0) > 0:
            raise PKModelError(f"target[{i}].sd", entry.get("sd"), "a standard deviation > 0")
        spec = entry.get("regimen")
        regimen = None
        if spec is not None:
            if "interval" in spec:
                regimen = Regimen.repeated(
                    spec["amount"], spec["interval"], n_doses=2, route=spec["route"], steady_state=True
                )
            else:
                regimen = Regimen.single(spec["amount"], spec["route"])
        targets.append(
            Target(
                name=entry["name"],
                metric=metric,
                mean=float(entry["mean"]),
                sd=float(entry["sd"]),
                unit=entry.get("unit", ""),
                source=entry["source"],
                regimen=regimen,
                fitted=entry.get("fitted", True),
            )
        )
    return targets


def predict(model: Model, target: Target) -> float:
    """The model's value of ``target.metric`` under ``target.regimen``. Study regimens (up to
    1500 mg at once) are facts to match, not prescriptions: no label warnings."""
    if target.metric in ("f", "t_half_alpha", "t_half_beta"):
        return float(getattr(model, target.metric))
    if target.metric == "cmax_ss":
        tau = target.regimen.interval
        return float(simulate(model, target.regimen, np.linspace(0.0, tau, 97), check_label=False).peak()[0][0])
    sim = simulate(model, target.regimen, _WINDOW, check_label=False)
    if target.metric == "auc_0_24":
        return float(sim.auc(0.0, 24.0)[0])
    cmax, tmax = sim.peak()
    return float(cmax[0] if target.metric == "cmax" else tmax[0])


def calibration_table(model: Model, targets: list[Target]) -> pd.DataFrame:
    """Observed vs predicted for every target, with z = (predicted - observed) / SD."""
    rows = []
    for t in targets:
        pred = predict(model, t)
        rows.append((t.name, t.mean, t.sd, pred, (pred - t.mean) / t.sd, t.unit, t.fitted, t.source))
    columns = ["target", "observed", "sd", "predicted", "z", "unit", "fitted", "source"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate_mildronate`: the fitted model, its table and the objective
    (half the sum of squared z-scores of the fitted targets)."""

    model: Model
    table: pd.DataFrame
    objective: float
    converged: bool


def calibrate_mildronate(
    t_half_alpha: float = 6.06, t_half_beta: float = 15.34, targets: list[Target] | None = None
) -> Calibration:
    """Fit CL, V1, ka and F of the two-compartment mildronate model with the label half-lives
    held fixed (distribution ``t_half_alpha``, terminal ``t_half_beta``, h).

    With the half-lives fixed, V1 must keep k10 = CL/V1 strictly between beta and alpha (else no
    two-compartment model has those half-lives); the search therefore runs over the position of
    k10 in that interval (a logit), log CL, log ka and the logit of F, so every trial is a valid
    model. A few deterministic starting points guard against a local minimum.
    """
    targets = load_targets() if targets is None else targets
    alpha, beta = LN2 / t_half_alpha, LN2 / t_half_beta

    def build(x: np.ndarray) -> Model:
        cl, position, ka, f = np.exp(x[0]), expit(x[1]), np.exp(x[2]), expit(x[3])
        k10 = beta + (alpha - beta) * position
        return Model.from_half_lives(
            t_half_alpha, t_half_beta, cl / k10, cl=cl, ka=ka, f=f, name="mildronate (calibrated)"
        )

    starts = [
        np.array([np.log(cl), logit(p), np.log(2.0), logit(0.78)]) for cl, p in ((5.7, 0.5), (5.7, 0.9), (3.0, 0.2))
    ]
    return fit(build, starts, targets)


def fit(build: Callable[[np.ndarray], Model], starts: list[np.ndarray], targets: list[Target]) -> Calibration:
    """Least-squares fit of the z-scores of the fitted ``targets`` over the unconstrained vector
    that ``build`` turns into a model; the best of the ``starts`` wins."""
    fitted = [t for t in targets if t.fitted]

    def residuals(x: np.ndarray) -> np.ndarray:
        model = build(x)
        return np.array([(predict(model, t) - t.mean) / t.sd for t in fitted])

    best = None
    for x0 in starts:
        result = least_squares(residuals, x0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
        if best is None or result.cost < best.cost:
            best = result
    model = build(best.x)
    return Calibration(model, calibration_table(model, targets), float(best.cost), bool(best.success))
