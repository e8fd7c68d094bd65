"""Calibration of a model against published summary statistics ("targets").

A target is a reported mean ± SD of one metric under one regimen (e.g. Cmax after 500 mg oral,
13.8 ± 3.2 mg/L). Its z-score is (predicted - mean) / SD, with the between-subject SD as the
scale: a typical subject lies within about ±1, so |z| > 2 says the model cannot reproduce that
mean. The calibration minimises half the sum of squared z-scores of the fitted targets
(``scipy.optimize.least_squares``).

Everything drug-specific is data: a targets file (``params/<drug>-targets.toml``) lists the
targets and, in its ``[calibration]`` table, which parameter file is calibrated, which of its
values are held (e.g. a label's half-lives) and which are searched, on which scale and from
which starts. :func:`calibrate` reads it; no drug number lives here.

Metrics: ``cmax``, ``tmax`` (single dose, over the 24 h after it), ``auc_0_24`` (mg·h/L),
``cmax_ss`` (peak over one interval at steady state), and any model property by name (``f``,
``t_half_alpha``, ``t_half_beta``, ``cl``, ``vss``, ...).

Predictions are exact and cheap: the model is linear, so every target of one regimen shape
(route, and interval for steady state) is a multiple of the response to a unit dose, which the
engine's closed form gives directly (``transfer_matrix``, ``steady_state``). A peak is where the
central amount's slope (the model's mass balance) changes sign, found by a bracketing root
search to rounding accuracy, so the objective is smooth enough for finite-difference gradients.
:func:`predict` checks every value against a full :func:`pkmodel.simulation.simulate` run in the tests.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import elementwise, least_squares
from scipy.special import expit, logit

from pkmodel.dosing.regimen import Regimen
from pkmodel.engine.analytic import CENTRAL, DEPOT, N_STATES, Kinetics, transfer_matrix
from pkmodel.engine.steady import steady_state
from pkmodel.errors import PKModelError
from pkmodel.model import LN2, Model
from pkmodel.params import data_dir, load_params, model_from_fields
from pkmodel.units import Kind, parse_quantity

REGIMEN_METRICS = ("cmax", "tmax", "auc_0_24", "cmax_ss")
WINDOW_H = 24.0  # single-dose metrics are those of a 24 h sampling window (the name auc_0_24 says so)
# A model's own numbers (fields and derived properties) can be targets too.
MODEL_METRICS = ("cl", "v1", "q", "v2", "ka", "f", "tlag", "k10", "k12", "k21", "alpha", "beta", "t_half_alpha",
                 "t_half_beta", "vss")  # fmt: skip
TRANSFORMS = ("log", "logit")
# A searched coordinate that is not a model field: the share of a dose's AUC that the terminal
# (beta) phase carries, (alpha - k10) / (alpha - beta) for k10 = CL/V1 (exactly: the B/beta part
# of A/alpha + B/beta). With both half-lives held, a two-compartment model exists only for a
# share strictly between 0 (k10 = alpha: no peripheral compartment, the terminal phase vanishes)
# and 1 (k10 = beta), so a logit of it keeps every trial valid; V1 follows as CL / k10.
TERMINAL_SHARE = "terminal_auc_share"
_SOURCES = (DEPOT, CENTRAL, 2)


@dataclass(frozen=True)
class Target:
    """One published mean ± SD of ``metric``: under ``amount`` mg by ``route`` (single dose, or at
    steady state every ``interval`` h) for the regimen metrics, or a model property."""

    name: str
    metric: str
    mean: float
    sd: float
    unit: str
    source: str
    amount: float | None = None
    route: str | None = None
    interval: float | None = None
    fitted: bool = True

    @property
    def regimen(self) -> Regimen | None:
        """The study regimen as a :class:`Regimen` (for plots and the cross-check with simulate)."""
        if self.amount is None or self.route is None:
            return None
        if self.interval is None:
            return Regimen.single(self.amount, self.route)
        return Regimen.repeated(self.amount, self.interval, n_doses=2, route=self.route, steady_state=True)


@dataclass(frozen=True)
class Search:
    """One searched coordinate: a model field (or ``terminal_auc_share``), the scale it is searched
    on (``log`` for a positive value, ``logit`` for a fraction), its starting values and optional
    ``lower`` / ``upper`` bounds (a rule of the calibration, stated in its file)."""

    name: str
    transform: str
    starts: tuple[float, ...]
    lower: float | None = None
    upper: float | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds on the free scale (-inf / inf where none is declared)."""
        lo = -np.inf if self.lower is None else float(self.to_free(self.lower))
        hi = np.inf if self.upper is None else float(self.to_free(self.upper))
        return lo, hi

    def to_free(self, value: Any) -> np.ndarray:
        return np.log(value) if self.transform == "log" else logit(value)

    def from_free(self, x: Any) -> np.ndarray:
        return np.exp(x) if self.transform == "log" else expit(x)


@dataclass(frozen=True)
class CalibrationSpec:
    """The ``[calibration]`` table of a targets file: the parameter file calibrated, the values
    it holds, the coordinates searched and the targets."""

    params: str
    held: tuple[str, ...]
    search: tuple[Search, ...]
    targets: tuple[Target, ...]
    combine_starts: str = "product"
    description: str = ""
    path: Path | None = field(default=None, compare=False)


def _read_toml(name_or_path: str | Path, what: str) -> tuple[dict[str, Any], Path]:
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = Path(str(data_dir() / f"{name_or_path}.toml"))
    if not path.is_file():
        raise PKModelError(what, str(name_or_path), "a TOML file path or the name of a file shipped in params/")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PKModelError(what, str(name_or_path), f"a valid UTF-8 TOML file ({err})") from None


def load_targets(name_or_path: str | Path) -> list[Target]:
    """Targets from a TOML file: shipped name (``params/<name>.toml``) or a path."""
    doc, _ = _read_toml(name_or_path, "targets")
    return _targets(doc)


def _targets(doc: dict[str, Any]) -> list[Target]:
    targets = []
    for i, entry in enumerate(doc.get("target", [])):
        where = f"target[{i}]"
        metric = entry.get("metric")
        if metric not in REGIMEN_METRICS + MODEL_METRICS:
            raise PKModelError(f"{where}.metric", metric, f"allowed: {', '.join(REGIMEN_METRICS + MODEL_METRICS)}")
        sd = entry.get("sd")
        if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd > 0 or not np.isfinite(sd):
            raise PKModelError(f"{where}.sd", sd, "a standard deviation > 0")
        spec = entry.get("regimen")
        amount = route = interval = None
        if (spec is None) != (metric not in REGIMEN_METRICS):
            raise PKModelError(
                f"{where}.regimen", spec, f"a regimen exactly when the metric is one of {REGIMEN_METRICS}"
            )
        if spec is not None:
            amount = parse_quantity(spec.get("amount"), "amount", field=f"{where}.regimen.amount", positive=True)
            route = spec.get("route")
            if route not in ("iv", "oral"):
                raise PKModelError(f"{where}.regimen.route", route, "iv (bolus) or oral")
            if (metric == "cmax_ss") != ("interval" in spec):
                raise PKModelError(f"{where}.regimen.interval", spec.get("interval"), "an interval exactly for cmax_ss")
            if "interval" in spec:
                interval = parse_quantity(spec["interval"], "time", field=f"{where}.regimen.interval", positive=True)
        targets.append(
            Target(
                name=entry["name"],
                metric=metric,
                mean=float(entry["mean"]),
                sd=float(sd),
                unit=entry.get("unit", ""),
                source=entry["source"],
                amount=amount,
                route=route,
                interval=interval,
                fitted=bool(entry.get("fitted", True)),
            )
        )
    return targets


def load_calibration(name_or_path: str | Path) -> CalibrationSpec:
    """The calibration a targets file declares (its ``[calibration]`` table and targets)."""
    doc, path = _read_toml(name_or_path, "targets")
    table = doc.get("calibration")
    if not isinstance(table, dict):
        raise PKModelError("calibration", str(name_or_path), "the targets file needs a [calibration] table")
    params = table.get("params")
    if not isinstance(params, str):
        raise PKModelError("calibration.params", params, "the name or path of the parameter file calibrated")
    held = table.get("held", [])
    if not isinstance(held, list) or not all(isinstance(h, str) for h in held):
        raise PKModelError("calibration.held", held, "a list of parameter names")
    search = []
    for name, entry in table.get("search", {}).items():
        transform = entry.get("transform")
        if transform not in TRANSFORMS:
            raise PKModelError(f"calibration.search.{name}.transform", transform, f"allowed: {', '.join(TRANSFORMS)}")
        starts = entry.get("start")
        starts = starts if isinstance(starts, list) else [starts]
        values = []
        for s in starts:
            value = _number(s, name, f"calibration.search.{name}.start")
            ok = value > 0 and (transform == "log" or value < 1)
            if not ok:
                raise PKModelError(f"calibration.search.{name}.start", s, "> 0 (log) or in (0, 1) (logit)")
            values.append(value)
        bounds = [
            None if entry.get(b) is None else _number(entry[b], name, f"calibration.search.{name}.{b}")
            for b in ("lower", "upper")
        ]
        found = Search(name, transform, tuple(values), *bounds)
        lo, hi = found.bounds
        if not all(lo < found.to_free(v) < hi for v in values):
            raise PKModelError(f"calibration.search.{name}.start", starts, f"strictly inside the bounds {bounds}")
        search.append(found)
    if not search:
        raise PKModelError("calibration.search", None, "at least one searched parameter")
    combine = table.get("combine_starts", "product")
    if combine not in ("product", "zip"):
        raise PKModelError("calibration.combine_starts", combine, "product (every combination) or zip (i-th with i-th)")
    if combine == "zip" and len({len(s.starts) for s in search if len(s.starts) > 1}) > 1:
        raise PKModelError("calibration.search", [len(s.starts) for s in search], "equal numbers of starts for zip")
    params_path = Path(params)
    if not params_path.is_absolute() and params_path.suffix == ".toml":
        params = str(path.parent / params_path)
    return CalibrationSpec(
        params, tuple(held), tuple(search), tuple(_targets(doc)), combine, str(table.get("description", "")), path
    )


_KINDS: dict[str, Kind] = {
    "cl": "flow", "q": "flow", "v1": "volume", "v2": "volume", "ka": "rate_constant", "k10": "rate_constant",
    "k12": "rate_constant", "k21": "rate_constant", "t_half_alpha": "time", "t_half_beta": "time", "tlag": "time",
}  # fmt: skip


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, str) and name in _KINDS:
        return parse_quantity(value, _KINDS[name], field=where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise PKModelError(where, value, "a finite number (or a string with a unit)")
    return float(value)


# --- exact predictions ------------------------------------------------------------------------


def _state_slope(kin: Kinetics, state: np.ndarray) -> np.ndarray:
    """d(central amount)/dt of ``state`` (3, n): in from the depot, out by elimination and
    distribution, back from the peripheral compartment (the model's mass balance)."""
    return kin.ka * state[DEPOT] - (kin.k10 + kin.k12) * state[CENTRAL] + kin.k21 * state[2]


def _subset(kin: Kinetics, who: np.ndarray) -> Kinetics:
    return Kinetics(*(x[who] for x in (kin.ka, kin.k10, kin.k12, kin.k21)))


def _peak(kin: Kinetics, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time (h after the start) and central amount (per unit dose) of the peak over [0, end] of
    the free decay from ``start`` (3, n). The curve has a single maximum: it rises while the slope
    is positive, so the peak is at 0 (slope <= 0 at once), at ``end`` (still rising) or at the
    one root of the slope between them."""

    def state_at(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        sub = _subset(kin, who)
        return np.einsum("tsn,sn->tn", transfer_matrix(sub, t, _SOURCES), start[:, who])

    def slope(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        who = who.astype(int).ravel()
        return _state_slope(_subset(kin, who), state_at(t.ravel(), who)).reshape(t.shape)

    n = start.shape[1]
    everyone = np.arange(n)
    tmax = np.zeros(n)
    tmax = np.where(slope(end, everyone.astype(float)) >= 0, end, tmax)
    inside = (_state_slope(kin, start) > 0) & (tmax < end)
    if np.any(inside):
        who = everyone[inside]
        root = elementwise.find_root(slope, (np.zeros(who.size), end[who]), args=(who.astype(float),))
        tmax[who] = root.x
    return tmax, state_at(tmax, everyone)[CENTRAL]


def _unit_start(kin: Kinetics, cmt: int, interval: float | None) -> np.ndarray:
    """State (3, n) just after a unit dose into ``cmt``: alone, or at steady state every ``interval`` h."""
    n = kin.k10.shape[0]
    state = np.zeros((N_STATES, n))
    if interval is not None:
        state += steady_state(
            kin, _SOURCES, cmt=cmt, amount=np.ones(n), tau=interval, lag=np.zeros(n), duration=np.zeros(n)
        ).state
    state[cmt] += 1.0
    return state


def predict_many(model: Model, targets: list[Target] | tuple[Target, ...]) -> np.ndarray:
    """Predictions (n_targets, n_subjects) of every target for a model whose fields may be arrays
    (one subject per element): one unit-dose response per regimen shape, scaled by the dose."""
    n = model.n_subjects or 1
    kin = model.kinetics(n)
    v1 = np.broadcast_to(np.asarray(model.v1, dtype=float), (n,))
    f = np.broadcast_to(np.asarray(model.f, dtype=float), (n,))
    lag = np.broadcast_to(np.asarray(model.tlag, dtype=float), (n,))
    out = np.empty((len(targets), n))
    shapes: dict[tuple[str, float | None], dict[str, np.ndarray]] = {}
    for i, t in enumerate(targets):
        if t.amount is None or t.route is None:
            out[i] = np.broadcast_to(np.asarray(getattr(model, t.metric), dtype=float), (n,))
            continue
        key = (t.route, t.interval)
        if key not in shapes:
            cmt = DEPOT if t.route == "oral" else CENTRAL
            if t.route == "oral" and model.ka is None:
                raise PKModelError("ka", None, f"target {t.name!r} has an oral dose: the model needs ka")
            start = _unit_start(kin, cmt, t.interval)
            scale = (f if t.route == "oral" else 1.0) / v1  # mg/L per mg of dose
            if t.interval is None:
                # A lag shifts the single-dose curve; the window's end moves closer.
                lagged = lag if t.route == "oral" else np.zeros(n)
                end = np.maximum(WINDOW_H - lagged, 0.0)
                tpk, peak = _peak(kin, start, end)
                auc = np.einsum("tsn,sn->tn", transfer_matrix(kin, end, _SOURCES, extra_zeros=1), start)[CENTRAL]
                shapes[key] = {"cmax": peak * scale, "tmax": tpk + lagged, "auc_0_24": auc * scale}
            else:
                # The peak of a periodic curve over one whole period does not depend on the lag.
                _, peak = _peak(kin, start, np.full(n, t.interval))
                shapes[key] = {"cmax_ss": peak * scale}
        per_mg = shapes[key][t.metric]
        out[i] = per_mg if t.metric == "tmax" else per_mg * t.amount
    return out


def predict(model: Model, target: Target) -> float:
    """The model's value of ``target.metric`` (in the target's unit) for a single-subject model."""
    return float(predict_many(model, [target])[0, 0])


def calibration_table(model: Model, targets: list[Target] | tuple[Target, ...]) -> pd.DataFrame:
    """Observed vs predicted for every target, with z = (predicted - observed) / SD."""
    predicted = predict_many(model, targets)[:, 0]
    rows = [
        (t.name, t.mean, t.sd, p, (p - t.mean) / t.sd, t.unit, t.fitted, t.source)
        for t, p in zip(targets, predicted, strict=True)
    ]
    columns = ["target", "observed", "sd", "predicted", "z", "unit", "fitted", "source"]
    return pd.DataFrame(rows, columns=columns)


# --- the fit ----------------------------------------------------------------------------------


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
            self.held[k] = _number(v, k, f"held.{k}")
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
