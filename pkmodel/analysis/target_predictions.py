"""Exact predictions of calibration targets: what a model says a published metric should be.

Predictions are exact and cheap: the model is linear, so every target of one regimen shape
(route, and interval for steady state) is a multiple of the response to a unit dose, which the
engine's closed form gives directly (``transfer_matrix``, ``steady_state``). A peak is where the
central amount's slope (the model's mass balance) changes sign, found by a bracketing root
search to rounding accuracy, so the objective is smooth enough for finite-difference gradients.
:func:`predict` checks every value against a full :func:`pkmodel.simulation.simulate` run in the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import elementwise

from pkmodel.analysis.calibration_targets import Target
from pkmodel.engine.analytic import CENTRAL, DEPOT, N_STATES, Kinetics, transfer_matrix
from pkmodel.engine.steady import steady_state
from pkmodel.errors import PKModelError
from pkmodel.model import Model

WINDOW_H = 24.0  # single-dose metrics are those of a 24 h sampling window (the name auc_0_24 says so)
_SOURCES = (DEPOT, CENTRAL, 2)


def _state_slope(kin: Kinetics, state: np.ndarray) -> np.ndarray:
    """d(central amount)/dt of ``state`` (3, n): in from the depot, out by elimination and
    distribution, back from the peripheral compartment (the model's mass balance)."""
    return kin.ka * state[DEPOT] - (kin.k10 + kin.k12) * state[CENTRAL] + kin.k21 * state[2]


def _peak(kin: Kinetics, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time (h after the start) and central amount (per unit dose) of the peak over [0, end] of
    the free decay from ``start`` (3, n). The curve has a single maximum: it rises while the slope
    is positive, so the peak is at 0 (slope <= 0 at once), at ``end`` (still rising) or at the
    one root of the slope between them."""

    def state_at(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        sub = kin.subset(who)
        return np.einsum("tsn,sn->tn", transfer_matrix(sub, t, _SOURCES), start[:, who])

    def slope(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        who = who.astype(int).ravel()
        return _state_slope(kin.subset(who), state_at(t.ravel(), who)).reshape(t.shape)

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
