"""Pictures of a fit of one subject's data (:func:`pkmodel.fit`): observed against predicted
concentrations, and the weighted residuals.

As every plot of pkmodel, each function takes an optional ``ax`` and returns the
:class:`matplotlib.axes.Axes` it drew on (a new figure's when ``ax`` is None). Units on the axes:
concentration mg/L, time h; weighted residuals are in units of their estimated SD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pkmodel.analysis.fit_result import FitResult
from pkmodel.errors import PKModelError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RESIDUAL_AXES = ("time", "predicted")
OBSERVED = "Observed concentration (mg/L)"
PREDICTED = "Predicted concentration (mg/L)"
WEIGHTED = "Weighted residual (SD units)"
# About 95 % of weighted residuals lie within ±2 SD when the model and its error model are right.
GUIDE_SD = 2.0


def _axes(result: FitResult, ax: Axes | None) -> Axes:
    if not isinstance(result, FitResult):
        raise PKModelError("result", type(result).__name__, "the FitResult that pkmodel.fit returns")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4.8, 4.2), layout="constrained")
    return ax


def observed_vs_predicted(result: FitResult, ax: Axes | None = None, *, log: bool = False) -> Axes:
    """Observed against predicted concentrations (mg/L), with the line of identity: points
    scattered evenly about it show no systematic misfit. ``log=True`` uses logarithmic axes
    (zero concentrations are left out)."""
    ax = _axes(result, ax)
    obs, pred = np.asarray(result.observed), np.asarray(result.predicted)
    if log:
        keep = (obs > 0) & (pred > 0)
        obs, pred = obs[keep], pred[keep]
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.scatter(pred, obs, s=18, label="observations", gid="observations")
    both = np.concatenate([obs, pred])
    if both.size:
        lo, hi = float(both.min()), float(both.max())
        ax.plot([lo, hi], [lo, hi], color="0.4", linewidth=1, linestyle="--", label="identity", gid="identity")
    ax.set_xlabel(PREDICTED)
    ax.set_ylabel(OBSERVED)
    ax.set_title(result.model.name or "Observed vs predicted")
    ax.legend(loc="upper left", frameon=False)
    return ax


def residuals(result: FitResult, ax: Axes | None = None, *, x: str = "time") -> Axes:
    """Weighted residuals (observed − predicted, over their estimated SD) against ``x``: "time"
    (h, default) or "predicted" (mg/L), with the zero line and ±2 SD guides. A trend or a funnel
    says the structural or the error model is wrong."""
    if x not in RESIDUAL_AXES:
        raise PKModelError("x", x, f"allowed: {', '.join(RESIDUAL_AXES)}")
    ax = _axes(result, ax)
    along = np.asarray(result.times if x == "time" else result.predicted)
    ax.scatter(along, np.asarray(result.weighted_residuals), s=18, gid="residuals")
    ax.axhline(0.0, color="0.4", linewidth=1)
    for level in (-GUIDE_SD, GUIDE_SD):
        ax.axhline(level, color="0.6", linewidth=1, linestyle=":")
    ax.set_xlabel("Time (h)" if x == "time" else PREDICTED)
    ax.set_ylabel(WEIGHTED)
    ax.set_title(f"Residuals ({result.error} error)")
    return ax
