"""The AUC rules of an NCA: the area (AUC, mg·h/L) and first moment (AUMC, mg·h²/L) under the
concentration between two consecutive samples, by the linear trapezoid or by PKNCA's default
"lin up/log down" (the log trapezoid where the concentration falls between two positive values,
the linear one elsewhere)."""

from __future__ import annotations

import numpy as np


def segment_areas(
    x0: np.ndarray, x1: np.ndarray, c0: np.ndarray, c1: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AUMC of each segment between consecutive samples (x: time since the interval
    start, h): the linear trapezoid, or where the concentration falls between two positive
    values and the method is "lin up/log down", the exact integral of the exponential through
    both points."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dt = x1 - x0
        lin_auc = dt * (c0 + c1) / 2
        # ∫ x·C(x) for C linear in x: Δx/6 · (c0 (2 x0 + x1) + c1 (x0 + 2 x1)).
        lin_aumc = dt / 6 * (c0 * (2 * x0 + x1) + c1 * (x0 + 2 * x1))
        if method == "linear":
            return lin_auc, lin_aumc
        down = (c1 < c0) & (c1 > 0)
        k = np.log(c0 / c1) / dt
        log_auc = (c0 - c1) / k
        log_aumc = (x0 * c0 - x1 * c1) / k + (c0 - c1) / k**2
        return np.where(down, log_auc, lin_auc), np.where(down, log_aumc, lin_aumc)
