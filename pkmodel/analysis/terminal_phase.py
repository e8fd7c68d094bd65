"""The terminal phase of an NCA: λz (``lambda.z``, 1/h) by log-linear least squares on the last
measurable points, chosen as PKNCA's ``pk.calc.half.life`` does.

Candidates are the last 3, 4, ... eligible points (measurable, after Tmax, after the end of the
last dose of the interval; which points are eligible is decided by the caller). Among the
candidates with λz > 0 and an adjusted R² above (best adjusted R² − ``adj_r_squared_factor``),
the one with the most points wins. adj.r.squared = 1 − (1 − r²)(n − 1)/(n − 2); span.ratio =
(last − first time of the fit)/t½. Points the user picks are fitted as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pkmodel.analysis.nca_options import NcaOptions


def lambda_z(
    t: np.ndarray, c: np.ndarray, eligible: np.ndarray, tlast: np.ndarray, clast: np.ndarray,
    picked: np.ndarray, o: NcaOptions,
) -> dict[str, Any]:
    """The terminal regression of log(conc) on time for every candidate set at once.

    Candidate j uses every eligible point from sample j on (the last 1, 2, ... eligible points);
    sums over those points come from reversed cumulative sums, centred on (Tlast, log Clast) so
    that they stay small. Rows in ``picked`` fit all their eligible points (chosen by the user).
    """
    n, m = t.shape
    rows = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.where(eligible, t - tlast[:, None], 0.0)
        y = np.where(eligible, np.log(np.where(eligible, c, 1.0)) - np.log(clast)[:, None], 0.0)

        def tail_sum(a: np.ndarray) -> np.ndarray:
            return np.cumsum(a[:, ::-1], axis=1)[:, ::-1]

        cnt = tail_sum(eligible.astype(float))
        sx, sy = tail_sum(x), tail_sum(y)
        sxx, sxy, syy = tail_sum(x * x), tail_sum(x * y), tail_sum(y * y)
        mx, my = sx / cnt, sy / cnt
        cxx, cxy, cyy = sxx - sx * mx, sxy - sx * my, syy - sy * my
        slope = cxy / cxx
        r2 = cxy**2 / (cxx * cyy)
        adj = 1 - (1 - r2) * (cnt - 1) / (cnt - 2)
        lz = -slope
        candidate = eligible & (cnt >= o.min_hl_points)
        adj_c = np.where(candidate & np.isfinite(adj), adj, -np.inf)
        best_adj = adj_c.max(axis=1, initial=-np.inf)
        good = candidate & (lz > 0) & (adj_c > best_adj[:, None] - o.adj_r_squared_factor)
        # The most points = the earliest first point.
        j_auto = np.argmax(good, axis=1)
        found = good.any(axis=1) & ~picked
        j_manual = np.argmax(eligible, axis=1)
        manual_ok = picked & (eligible.sum(axis=1) >= 2)
        j = np.where(picked, j_manual, j_auto)
        lz_j = lz[rows, j]
        ok = (found | manual_ok) & (lz_j > 0) & np.isfinite(lz_j)
        n_el = eligible.sum(axis=1)
        reason = np.where(
            picked & ~manual_ok,
            "fewer than 2 measurable points picked for lambda.z",
            np.where(
                picked,
                "the picked points give lambda.z <= 0",
                np.where(
                    n_el < o.min_hl_points,
                    f"too few points for lambda.z (min_hl_points={o.min_hl_points})",
                    "no terminal regression with lambda.z > 0",
                ),
            ),
        )
        lam = np.where(ok, lz_j, np.nan)
        half = np.log(2) / lam
        t_first = np.where(ok, t[rows, j], np.nan)
        j_lastfit = m - 1 - np.argmax(eligible[:, ::-1], axis=1)
        t_lastfit = np.where(ok, t[rows, j_lastfit], np.nan)
        intercept = my[rows, j] - slope[rows, j] * mx[rows, j]
        return {
            "lambda.z": lam,
            "r.squared": np.where(ok, r2[rows, j], np.nan),
            "adj.r.squared": np.where(ok, adj[rows, j], np.nan),
            "lambda.z.time.first": t_first,
            "lambda.z.time.last": t_lastfit,
            "lambda.z.n.points": np.where(ok, cnt[rows, j], np.nan),
            "clast.pred": np.where(ok, clast * np.exp(intercept), np.nan),
            "half.life": half,
            "span.ratio": (t_lastfit - t_first) / half,
            "reason": reason,
        }

