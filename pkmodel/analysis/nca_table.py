"""The result table of an NCA: every parameter of one interval for every subject at once (padded
arrays, vectorised over subjects), with the reason each NaN has.

Units: time h, concentration mg/L, dose mg, AUC mg·h/L, AUMC mg·h²/L, λz 1/h, CL L/h, V L.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.analysis.auc_rules import segment_areas
from pkmodel.analysis.nca_options import NcaOptions
from pkmodel.analysis.nca_profiles import Profiles
from pkmodel.analysis.terminal_phase import lambda_z

if TYPE_CHECKING:
    import pandas as pd

#: Output columns after the subject, interval and route columns, in order.
COLUMNS = (
    "dose", "cmax", "tmax", "cmin", "ctrough", "tlast", "clast.obs", "auclast", "aumclast",
    "lambda.z", "r.squared", "adj.r.squared", "lambda.z.time.first", "lambda.z.time.last",
    "lambda.z.n.points", "clast.pred", "half.life", "span.ratio",
    "aucinf.obs", "aucinf.pred", "aucpext.obs", "aucpext.pred", "aumcinf.obs", "mrt.obs",
    "cl.obs", "cl.pred", "vz.obs", "vz.pred", "vss.obs",
    "auctau", "cav", "ptf", "swing", "exclude",
)


def interval_table(
    p: Profiles, start: np.ndarray, end: np.ndarray, manual: Any, o: NcaOptions
) -> pd.DataFrame:
    """One row per subject of the NCA parameters over [start, end] (h, per subject); ``manual``:
    the λz points picked (see :func:`pkmodel.analysis.nca_profiles.manual_points`)."""
    # Divisions by a zero AUC or λz and overflow of absurd concentrations give inf/NaN that the
    # end of _interval_values turns into NaN with a reason: no floating-point warning is news.
    with np.errstate(all="ignore"):
        return _interval_values(p, start, end, manual, o)


def _interval_values(
    p: Profiles, start: np.ndarray, end: np.ndarray, manual: Any, o: NcaOptions
) -> pd.DataFrame:
    import pandas as pd

    n, m = p.time.shape
    rows = np.arange(n)
    reasons = _Reasons(n)
    a, b = start[:, None], end[:, None]
    inside = np.isfinite(p.time) & (p.time >= a) & (p.time <= b)
    conc = p.conc if p.conc_before is None else np.where(p.time == b, p.conc_before, p.conc)
    c = np.where(inside, conc, np.nan)
    measurable = inside & (c > 0) & (c >= (o.lloq or 0.0))
    idx = np.arange(m)
    first_meas = np.where(measurable.any(axis=1), np.argmax(measurable, axis=1), m)
    last_meas = np.where(measurable.any(axis=1), m - 1 - np.argmax(measurable[:, ::-1], axis=1), -1)
    blq = inside & ~measurable
    before = blq & (idx < first_meas[:, None])
    between = blq & (idx > first_meas[:, None]) & (idx < last_meas[:, None])
    value = np.where(measurable, c, np.nan)
    value = np.where(before, o.blq_first, value)
    value = np.where(between, o.blq_middle, value)
    kept = np.isfinite(value)

    # Compact the kept samples to the left of each row; order is kept.
    order = np.argsort(~kept, axis=1, kind="stable")
    t = np.take_along_axis(np.where(kept, p.time, np.nan), order, axis=1)
    v = np.take_along_axis(value, order, axis=1)
    meas = np.take_along_axis(measurable & kept, order, axis=1)
    k = kept.sum(axis=1)
    has = k > 0
    reasons.add(~has, "no sample in the interval")

    v_or = np.where(np.isfinite(v), v, -np.inf)
    i_max = np.argmax(v_or, axis=1)  # the first maximum: PKNCA first.tmax
    cmax = np.where(has, v_or[rows, i_max], np.nan)
    tmax = np.where(has, t[rows, i_max], np.nan)
    cmin = np.where(has, np.nanmin(np.where(np.isfinite(v), v, np.inf), axis=1), np.nan)
    cmin = np.where(np.isfinite(cmin), cmin, np.nan)
    j_last = np.where(meas.any(axis=1), m - 1 - np.argmax(meas[:, ::-1], axis=1), -1)
    any_meas = j_last >= 0
    reasons.add(has & ~any_meas, "no measurable concentration" + (" (>= lloq)" if o.lloq else " (> 0)"))
    tlast = np.where(any_meas, t[rows, np.maximum(j_last, 0)], np.nan)
    clast = np.where(any_meas, v[rows, np.maximum(j_last, 0)], np.nan)

    # AUC and AUMC over the segments up to Tlast.
    t0, t1 = t[:, :-1], t[:, 1:]
    c0, c1 = v[:, :-1], v[:, 1:]
    seg = (np.arange(m - 1)[None, :] < j_last[:, None]) if m > 1 else np.zeros((n, 0), dtype=bool)
    auc_seg, aumc_seg = segment_areas(t0 - a, t1 - a, c0, c1, o.auc_method)
    starts_at_a = has & (t[:, 0] == start)
    reasons.add(has & ~starts_at_a, "no sample at the interval start (AUCs need one)")
    auc_ok = starts_at_a & any_meas
    auclast = np.where(auc_ok, np.where(seg, auc_seg, 0.0).sum(axis=1), np.nan)
    aumclast = np.where(auc_ok, np.where(seg, aumc_seg, 0.0).sum(axis=1), np.nan)

    # λz: candidate points and the fit.
    dose_in = (p.dose_time >= start[:, None]) & (p.dose_time < end[:, None])
    last_dose_end = np.max(np.where(dose_in, p.dose_end, -np.inf), axis=1, initial=-np.inf)
    after_tmax = (t >= tmax[:, None]) if o.allow_tmax_in_half_life else (t > tmax[:, None])
    eligible = meas & after_tmax & (t > last_dose_end[:, None])
    picked = np.zeros(n, dtype=bool)
    if manual is not None:
        mask, picked = manual
        chosen = np.take_along_axis(np.where(kept, mask, False), order, axis=1) & meas
        eligible = np.where(picked[:, None], chosen, eligible)
    fit = lambda_z(t, v, eligible, tlast, clast, picked, o)
    reasons.add(any_meas & np.isnan(fit["lambda.z"]), fit["reason"])

    lz = fit["lambda.z"]
    aucinf_obs = auclast + clast / lz
    aucinf_pred = auclast + fit["clast.pred"] / lz
    tl = tlast - start
    aumcinf = aumclast + clast * tl / lz + clast / lz**2
    amount = np.where(dose_in, p.dose_amount, 0.0).sum(axis=1)
    dose = np.where(dose_in.any(axis=1), amount, np.nan)
    reasons.add(~dose_in.any(axis=1), "no dose in the interval (CL, V)")
    iv = p.route == "intravascular"
    infusion = np.max(np.where(dose_in, p.dose_end - p.dose_time, 0.0), axis=1, initial=0.0)
    mrt = aumcinf / aucinf_obs - np.where(iv, infusion / 2, 0.0)
    cl_obs, cl_pred = dose / aucinf_obs, dose / aucinf_pred
    finite_end = np.isfinite(end)
    at_end = finite_end & any_meas & (tlast == end)
    reasons.add(finite_end & ~at_end & has, "no measurable concentration at the interval end (AUCtau)")
    auctau = np.where(at_end, auclast, np.nan)
    cav = auctau / (end - start)
    j_end = np.where(finite_end[:, None] & (t == end[:, None]), True, False)
    ctrough = np.where(j_end.any(axis=1), v[rows, np.argmax(j_end, axis=1)], np.nan)

    columns = {
        "dose": dose,
        "cmax": cmax,
        "tmax": tmax,
        "cmin": np.where(finite_end, cmin, np.nan),
        "ctrough": ctrough,
        "tlast": tlast,
        "clast.obs": clast,
        "auclast": auclast,
        "aumclast": aumclast,
        **{key: fit[key] for key in (
            "lambda.z", "r.squared", "adj.r.squared", "lambda.z.time.first", "lambda.z.time.last",
            "lambda.z.n.points", "clast.pred", "half.life", "span.ratio",
        )},
        "aucinf.obs": aucinf_obs,
        "aucinf.pred": aucinf_pred,
        "aucpext.obs": 100 * (1 - auclast / aucinf_obs),
        "aucpext.pred": 100 * (1 - auclast / aucinf_pred),
        "aumcinf.obs": aumcinf,
        "mrt.obs": mrt,
        "cl.obs": cl_obs,
        "cl.pred": cl_pred,
        "vz.obs": cl_obs / lz,
        "vz.pred": cl_pred / lz,
        "vss.obs": np.where(iv, cl_obs * mrt, np.nan),
        "auctau": auctau,
        "cav": cav,
        "ptf": np.where(finite_end, 100 * (cmax - cmin) / cav, np.nan),
        "swing": np.where(finite_end & (cmin > 0), 100 * (cmax - cmin) / np.where(cmin > 0, cmin, 1.0), np.nan),
    }
    out: dict[str, Any] = {p.subject_name: p.subjects, "start": start, "end": end, "route": p.route}
    overflow = np.zeros(n, dtype=bool)
    for key, col in columns.items():
        values = np.array(col, dtype=float)
        bad = np.isinf(values)
        overflow |= bad
        values[bad] = np.nan
        out[key] = values
    reasons.add(overflow, "a value beyond the floating-point range")
    out["lambda.z.n.points"] = pd.Series(out["lambda.z.n.points"]).astype("Int64")  # a count, NA when none
    out["exclude"] = reasons.text()
    return pd.DataFrame(out)


class _Reasons:
    """Why a row's values are NaN: texts gathered per row, vectorised over rows."""

    def __init__(self, n: int) -> None:
        self.parts: list[tuple[np.ndarray, Any]] = []
        self.n = n

    def add(self, mask: Any, text: Any) -> None:
        self.parts.append((np.asarray(mask, dtype=bool), text))

    def text(self) -> np.ndarray:
        out = np.full(self.n, "", dtype=object)
        for mask, text in self.parts:
            if not mask.any():
                continue
            words = np.broadcast_to(np.asarray(text, dtype=object), (self.n,))
            sep = np.where(out == "", "", "; ")
            out = np.where(mask, out + sep + words, out)
        return out
