"""Non-compartmental analysis (NCA) of concentration-time data with PKNCA's conventions and names.

    >>> table = nca(sim)                                    # a pkmodel.simulation.simulate.Simulation
    >>> table = nca(frame, subject="id", time="t", conc="c", dose=500.0)   # a tidy DataFrame
    >>> table = nca(read_dataset("study.csv"), depot=True)  # a NONMEM-style dataset

One row per subject and interval; column names are PKNCA's (the R package by Bill Denney,
https://billdenney.github.io/pknca/): ``cmax``, ``tmax``, ``tlast``, ``clast.obs``,
``auclast``, ``aucinf.obs``, ``lambda.z``, ``adj.r.squared``, ``half.life``, ... (see
:func:`nca` for the full list with units). The conventions followed, each from PKNCA's
documentation (``PKNCA.options``, ``pk.calc.half.life``, ``clean.conc.blq``, the
"Half-Life Calculation" and "Options for Controlling PKNCA" vignettes):

- **Tmax** is the first time of the maximum (PKNCA ``first.tmax = TRUE``).
- **Tlast/Clast** are the last measurable concentration: > 0 and, when an LLOQ is given, >= LLOQ.
- **AUC** by ``"lin up/log down"`` (PKNCA's default ``auc.method``: the log trapezoid where the
  concentration falls between two positive values, the linear one elsewhere) or ``"linear"``;
  AUClast runs from the interval start to Tlast. An AUC needs a concentration at the interval
  start (PKNCA refuses an AUC starting before the first measurement); otherwise it is NaN with the
  reason in ``exclude``.
- **λz** (``lambda.z``) by log-linear least squares on the terminal points, chosen as PKNCA's
  ``pk.calc.half.life`` does: candidates are the last 3, 4, ... measurable points after Tmax
  (Tmax itself excluded unless ``allow_tmax_in_half_life``; ``allow.tmax.in.half.life = FALSE``
  in PKNCA) and after the end of the last dose in the interval; among the candidates with
  λz > 0 and an adjusted R² above (best adjusted R² − ``adj_r_squared_factor``, 1e-4 as in
  PKNCA), the one with the most points wins. At least ``min_hl_points`` (3) points are needed;
  otherwise λz and what depends on it are NaN, with the reason. ``lambda_z_times`` instead uses
  exactly the points the user picks (PKNCA's ``manually.selected.points``).
  adj.r.squared = 1 − (1 − r²)(n − 1)/(n − 2); span.ratio = (last − first time of the fit)/t½.
- **AUCinf** = AUClast + Clast/λz with the observed Clast (``aucinf.obs``) or the one the
  regression predicts at Tlast (``aucinf.pred``); ``aucpext`` = 100 (1 − AUClast/AUCinf) %.
- **BLQ** (PKNCA ``conc.blq``; a value is BLQ when it is 0 or below ``lloq``): a rule for the
  BLQ values before the first measurable one (``first``) and for those between the first and the
  last measurable ones (``middle``): ``"zero"`` (PKNCA's "keep": the value counts as 0),
  ``"drop"`` (the sample is removed), ``"lloq/2"`` (the value becomes LLOQ/2) or a number (mg/L).
  The default ``"pknca"`` is PKNCA's default: first zero, middle drop. BLQ values after Tlast
  never enter AUClast or λz (PKNCA's ``last`` rule matters only for its AUCall, not computed
  here). Imputed values enter the AUC but never λz, Tlast or Clast: an imputed value is not a
  measurement.
- **Dosing intervals** (a finite end): ``auctau`` (AUC over the interval; needs a measurable
  concentration at its end), ``cav`` = AUCτ/τ, ``cmin``, ``ctrough`` (concentration at the end),
  ``ptf`` = 100 (Cmax − Cmin)/Cav % (PKNCA's peak-trough fluctuation) and ``swing`` =
  100 (Cmax − Cmin)/Cmin %. :func:`accumulation` gives the accumulation ratios between two
  intervals.

Units: time h, concentration mg/L, dose mg, AUC mg·h/L, AUMC mg·h²/L, λz 1/h, CL L/h, V L.
CL and Vz after extravascular doses are CL/F and Vz/F (the dose is the nominal amount).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CELLS, MAX_TIME_H

AUC_METHODS = ("lin up/log down", "linear")
ROUTES = ("extravascular", "intravascular")
BLQ_RULES = ("zero", "drop", "lloq/2")
#: Named BLQ handling: the rule for BLQ values before the first measurable value and between
#: the first and the last measurable values.
BLQ_PRESETS = {
    "pknca": ("zero", "drop"),
    "zero": ("zero", "zero"),
    "drop": ("drop", "drop"),
    "lloq/2": ("lloq/2", "lloq/2"),
}

#: Output columns after the subject, interval and route columns, in order.
COLUMNS = (
    "dose", "cmax", "tmax", "cmin", "ctrough", "tlast", "clast.obs", "auclast", "aumclast",
    "lambda.z", "r.squared", "adj.r.squared", "lambda.z.time.first", "lambda.z.time.last",
    "lambda.z.n.points", "clast.pred", "half.life", "span.ratio",
    "aucinf.obs", "aucinf.pred", "aucpext.obs", "aucpext.pred", "aumcinf.obs", "mrt.obs",
    "cl.obs", "cl.pred", "vz.obs", "vz.pred", "vss.obs",
    "auctau", "cav", "ptf", "swing", "exclude",
)


@dataclass(frozen=True)
class _Profiles:
    """Observations as padded arrays: one row per subject; ``time`` (h) and ``conc`` (mg/L)
    NaN after a subject's last sample. Doses as padded arrays too: ``dose_time`` (h; NaN pads),
    ``dose_amount`` (mg), ``dose_end`` (h, time + infusion duration). ``route`` per subject.
    ``conc_before``: for a simulation with boluses, the concentrations just before each time
    (left limits), used at an interval's end: a dosing interval ends just before the next dose."""

    subjects: np.ndarray
    time: np.ndarray
    conc: np.ndarray
    dose_time: np.ndarray
    dose_amount: np.ndarray
    dose_end: np.ndarray
    route: np.ndarray
    subject_name: str
    conc_before: np.ndarray | None = None


@dataclass(frozen=True)
class _Options:
    auc_method: str
    lloq: float | None
    blq_first: float  # mg/L given to a BLQ sample before the first measurable one; NaN drops it
    blq_middle: float  # likewise between measurable samples
    min_hl_points: int
    adj_r_squared_factor: float
    allow_tmax_in_half_life: bool


def nca(
    data: Any,
    *,
    subject: str = "subject",
    time: str = "time",
    conc: str = "conc",
    dose: float | Mapping[Any, float] | None = None,
    dose_time: float | Sequence[float] = 0.0,
    duration: float = 0.0,
    route: str | None = None,
    depot: bool | None = None,
    intervals: Sequence[tuple[float, float]] | None = None,
    auc_method: str = "lin up/log down",
    lloq: float | None = None,
    blq: str | Mapping[str, str | float] = "pknca",
    lambda_z_times: Sequence[float] | Mapping[Any, Sequence[float]] | None = None,
    min_hl_points: int = 3,
    adj_r_squared_factor: float = 1e-4,
    allow_tmax_in_half_life: bool = False,
) -> pd.DataFrame:
    """NCA parameters per subject and interval (PKNCA conventions; see the module docstring).

    ``data``, one of:

    - a :class:`pkmodel.simulation.simulate.Simulation`: its ``times`` and ``concentration``; the doses and
      the route come from its regimen (extravascular when any dose is oral; the dose is the
      nominal amount); subjects are numbered 0, 1, ... in a ``subject`` column.
    - a NONMEM-style dataset (a DataFrame with ``ID``, ``TIME``, ``EVID`` and ``DV`` columns, as
      :func:`pkmodel.dosing.dataset.read_dataset` returns; it is checked again here): observations are
      the EVID 0 records (without MDV = 1), doses the dose records with their ADDL doses (read by
      :func:`pkmodel.dosing.records.dataset_doses`; ``depot`` says how CMT is numbered, as there);
      subjects in an ``ID`` column.
    - a tidy DataFrame with columns ``subject``, ``time`` (h) and ``conc`` (mg/L) (names
      configurable), one row per sample, times increasing within a subject. Doses are then
      ``dose`` (mg; one number, or a mapping subject -> mg) given at each of ``dose_time`` (h;
      one time or several), lasting ``duration`` (h, 0 for a bolus), by ``route``.

    ``route``: "extravascular" or "intravascular" (needed for tidy data with a dose; Vss is only
    computed for intravascular doses). ``intervals``: (start, end) pairs in h, end may be
    ``math.inf``; by default one interval per subject from the first dose (or, without doses,
    the first sample) to infinity. The dose of an interval is the sum of the doses given in
    [start, end). ``auc_method``: "lin up/log down" (default) or "linear". ``lloq`` (mg/L):
    values below it are BLQ (without it, only zeros are); ``blq``: "pknca" (default: zero before
    the first measurable value, dropped between measurable values), "zero", "drop", "lloq/2" (one
    rule in both places), or a mapping with keys "first" and/or "middle" and values "zero",
    "drop", "lloq/2" or a number (mg/L); a key left out keeps PKNCA's default.
    ``lambda_z_times``: times (h) of the points to fit λz on, for every subject or as a mapping
    subject -> times (subjects absent from the mapping use the automatic rule).

    Columns: the subject column, ``start``, ``end`` (h), ``route``, ``dose`` (mg), ``cmax``,
    ``cmin``, ``ctrough``, ``clast.obs``, ``clast.pred`` (mg/L), ``tmax``, ``tlast``,
    ``lambda.z.time.first``, ``lambda.z.time.last``, ``half.life`` (h), ``auclast``,
    ``aucinf.obs``, ``aucinf.pred``, ``auctau`` (mg·h/L), ``aumclast``, ``aumcinf.obs`` (mg·h²/L,
    time measured from the interval start), ``mrt.obs`` (h; AUMCinf/AUCinf minus half the
    infusion duration for intravascular doses), ``lambda.z`` (1/h), ``r.squared``,
    ``adj.r.squared``, ``lambda.z.n.points``, ``span.ratio``, ``aucpext.obs``, ``aucpext.pred``,
    ``ptf``, ``swing`` (%), ``cl.obs``, ``cl.pred`` (L/h; CL/F when extravascular), ``vz.obs``,
    ``vz.pred`` (L; Vz/F when extravascular), ``vss.obs`` (L, intravascular only), ``cav``
    (mg/L), and ``exclude``: why values of the row are NaN ("" when none is).

    Invalid input raises :class:`PKModelError`; a profile that does not allow a parameter
    (too few points for λz, no sample at the interval start, no dose) gives NaN and a reason.
    """
    options = _options(auc_method, lloq, blq, min_hl_points, adj_r_squared_factor, allow_tmax_in_half_life)
    if _is_simulation(data):
        if dose is not None or route is not None:
            raise PKModelError("dose/route", (dose, route), "a Simulation brings its own doses and route; omit them")
        profiles = _from_simulation(data)
    elif isinstance(data, pd.DataFrame) and {"ID", "TIME", "EVID", "DV"} <= set(data.columns):
        if dose is not None or route is not None:
            raise PKModelError("dose/route", (dose, route), "a dataset brings its own doses (AMT) and route (CMT)")
        profiles = _from_dataset(data, depot)
    elif isinstance(data, pd.DataFrame):
        profiles = _from_tidy(data, subject, time, conc, dose, dose_time, duration, route)
    else:
        raise PKModelError(
            "data", type(data).__name__, "a pkmodel Simulation, a NONMEM-style dataset or a tidy pandas DataFrame"
        )
    bounds = _intervals(intervals, profiles)
    manual = _manual_points(lambda_z_times, profiles)
    tables = [_interval_table(profiles, start, end, manual, options) for start, end in bounds]
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    if len(tables) > 1:
        # One block per interval -> subject by subject, intervals in the order given.
        n = len(profiles.subjects)
        order = np.lexsort((np.repeat(np.arange(len(tables)), n), np.tile(np.arange(n), len(tables))))
        table = table.iloc[order].reset_index(drop=True)
    return table


def accumulation(table: pd.DataFrame, first: tuple[float, float], steady: tuple[float, float]) -> pd.DataFrame:
    """Accumulation ratios per subject from an :func:`nca` table with both intervals:
    ``rac.auctau`` = AUCτ(steady)/AUCτ(first) and ``rac.cmax`` = Cmax(steady)/Cmax(first)
    (dimensionless). ``first`` and ``steady``: the (start, end) pairs (h) given to :func:`nca`."""
    if not isinstance(table, pd.DataFrame) or not {"start", "end", "auctau", "cmax"} <= set(table.columns):
        raise PKModelError("table", type(table).__name__, "a table returned by pkmodel.analysis.nca.nca")
    subject = table.columns[0]
    rows = []
    for name, (a, b) in (("first", first), ("steady", steady)):
        pick = table[(table["start"] == float(a)) & (table["end"] == float(b))]
        if pick.empty:
            have = sorted(set(zip(table["start"], table["end"], strict=True)))
            raise PKModelError(name, (a, b), f"an interval of the table; it has {have}")
        rows.append(pick.set_index(subject))
    one, ss = rows
    out = pd.DataFrame(
        {"rac.auctau": ss["auctau"] / one["auctau"], "rac.cmax": ss["cmax"] / one["cmax"]}
    )
    return out.rename_axis(subject).reset_index()


# --- checking the options ------------------------------------------------------------------------


def _options(
    auc_method: Any, lloq: Any, blq: Any, min_hl_points: Any, factor: Any, allow_tmax: Any
) -> _Options:
    if auc_method not in AUC_METHODS:
        raise PKModelError("auc_method", auc_method, f"allowed: {', '.join(repr(m) for m in AUC_METHODS)}")
    if lloq is not None and not (_is_number(lloq) and math.isfinite(lloq) and lloq > 0):
        raise PKModelError("lloq", lloq, "a lower limit of quantification in mg/L: a finite number > 0, or None")
    if isinstance(blq, str):
        if blq not in BLQ_PRESETS:
            raise PKModelError("blq", blq, f"allowed: {', '.join(BLQ_PRESETS)}, or a mapping with 'first'/'middle'")
        first, middle = BLQ_PRESETS[blq]
    elif isinstance(blq, Mapping):
        unknown = set(blq) - {"first", "middle"}
        if unknown:
            raise PKModelError("blq", dict(blq), f"keys allowed: 'first', 'middle'; not {sorted(map(str, unknown))}")
        first, middle = blq.get("first", "zero"), blq.get("middle", "drop")
    else:
        raise PKModelError("blq", blq, "a preset name or a mapping {'first': rule, 'middle': rule}")
    values: list[float] = []
    for key, rule in (("first", first), ("middle", middle)):
        if isinstance(rule, str):
            if rule not in BLQ_RULES:
                raise PKModelError(f"blq[{key!r}]", rule, f"allowed: {', '.join(BLQ_RULES)} or a number (mg/L) >= 0")
            if rule == "lloq/2":
                if lloq is None:
                    raise PKModelError(f"blq[{key!r}]", rule, "'lloq/2' needs lloq (mg/L)")
                values.append(float(lloq) / 2)
            else:
                values.append(0.0 if rule == "zero" else np.nan)
        elif not (_is_number(rule) and math.isfinite(rule) and rule >= 0):
            raise PKModelError(f"blq[{key!r}]", rule, f"allowed: {', '.join(BLQ_RULES)} or a number (mg/L) >= 0")
        else:
            values.append(float(rule))
    if isinstance(min_hl_points, bool) or not isinstance(min_hl_points, numbers.Integral) or min_hl_points < 3:
        raise PKModelError("min_hl_points", min_hl_points, "a whole number >= 3")
    if not (_is_number(factor) and math.isfinite(factor) and factor >= 0):
        raise PKModelError("adj_r_squared_factor", factor, "a finite number >= 0")
    if not isinstance(allow_tmax, bool):
        raise PKModelError("allow_tmax_in_half_life", allow_tmax, "True or False")
    blq_first, blq_middle = values
    lloq_mg_l = None if lloq is None else float(lloq)
    return _Options(
        auc_method, lloq_mg_l, blq_first, blq_middle, int(min_hl_points), float(factor), allow_tmax
    )


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_simulation(data: Any) -> bool:
    from pkmodel.simulation.simulate import Simulation

    return isinstance(data, Simulation)


# --- reading the inputs --------------------------------------------------------------------------


def _from_simulation(sim: Any) -> _Profiles:
    n = sim.n_subjects
    doses = [d for d in sim.regimen.doses if d.amount > 0]
    oral = any(d.route == "oral" for d in doses)
    # An infusion given by rate lasts amount/rate for the nominal amount the NCA is told about.
    length = [d.duration if d.duration > 0 else (d.amount / d.rate if d.rate else 0.0) for d in doses]
    conc = np.asarray(sim.concentration, dtype=float)
    _check_conc(conc, lambda i: f"concentration[{np.unravel_index(i, conc.shape)}]")
    _check_size(n, len(sim.times))
    # A simulated value at a bolus time includes the bolus (right-continuous); the end of a
    # dosing interval needs the value just before it, which only differs at bolus times.
    bolus_at_sample = any(not d.infusion and d.route != "oral" and np.isin(d.time, sim.times) for d in doses)
    before = sim.at(sim.times, left=True) if bolus_at_sample else None
    return _Profiles(
        subjects=np.arange(n),
        time=np.broadcast_to(np.asarray(sim.times, dtype=float), conc.shape),
        conc=conc,
        dose_time=np.broadcast_to(np.array([d.time for d in doses], dtype=float), (n, len(doses))),
        dose_amount=np.broadcast_to(np.array([d.amount for d in doses], dtype=float), (n, len(doses))),
        dose_end=np.broadcast_to(np.array([d.time + e for d, e in zip(doses, length, strict=True)]), (n, len(doses))),
        route=np.full(n, "extravascular" if oral else "intravascular", dtype=object),
        subject_name="subject",
        conc_before=before,
    )


def _from_dataset(data: pd.DataFrame, depot: bool | None) -> _Profiles:
    from pkmodel.dosing.dataset import read_dataset
    from pkmodel.dosing.records import dataset_doses

    if not isinstance(depot, bool):
        raise PKModelError(
            "depot", depot, "a NONMEM dataset needs depot=True (CMT 1 is the depot, ADVAN2/4) or False (ADVAN1/3)"
        )
    records = read_dataset(data)
    obs = records["EVID"].to_numpy() == 0
    if "MDV" in records.columns:
        obs &= pd.to_numeric(records["MDV"], errors="coerce").fillna(0).to_numpy() != 1
    dv = pd.to_numeric(records["DV"], errors="coerce").to_numpy(dtype=float)
    bad = obs & ~np.isfinite(dv)
    if bad.any():
        row = int(np.argmax(bad))
        raise PKModelError(
            f"row {row + 1}, column DV", records["DV"].iloc[row], "an observation (EVID 0, MDV 0) needs a number >= 0"
        )
    frame = pd.DataFrame({"ID": records["ID"].to_numpy()[obs], "TIME": records["TIME"].to_numpy()[obs], "DV": dv[obs]})
    doses = dataset_doses(records, depot=depot)
    by_id = {
        key: [r.dose for r in recs if r.cancelled_by is None and r.dose.amount > 0] for key, recs in doses.items()
    }
    profiles = _pad(frame, "ID", "TIME", "DV")
    subjects = profiles.subjects
    width = max([len(v) for v in by_id.values()] + [0])
    _check_size(len(subjects), width)
    dose_time = np.full((len(subjects), width), np.nan)
    dose_amount = np.zeros((len(subjects), width))
    dose_end = np.full((len(subjects), width), np.nan)
    route = np.full(len(subjects), "", dtype=object)
    for i, key in enumerate(subjects):
        ds = by_id.get(key, [])
        dose_time[i, : len(ds)] = [d.time for d in ds]
        dose_amount[i, : len(ds)] = [d.amount for d in ds]
        dose_end[i, : len(ds)] = [d.time + (d.duration or (d.amount / d.rate if d.rate else 0.0)) for d in ds]
        if ds:
            route[i] = "extravascular" if any(d.route == "oral" for d in ds) else "intravascular"
    return _Profiles(subjects, profiles.time, profiles.conc, dose_time, dose_amount, dose_end, route, "ID")


def _from_tidy(
    data: pd.DataFrame, subject: str, time: str, conc: str, dose: Any, dose_time: Any, duration: Any, route: Any
) -> _Profiles:
    for field, name in (("subject", subject), ("time", time), ("conc", conc)):
        if name not in data.columns:
            raise PKModelError(field, name, f"a column of the data; it has {list(data.columns)}")
    profiles = _pad(data, subject, time, conc)
    n = len(profiles.subjects)
    if route is None and dose is not None:
        raise PKModelError("route", None, f"with a dose, say the route: {', '.join(ROUTES)}")
    if route is not None and route not in ROUTES:
        raise PKModelError("route", route, f"allowed: {', '.join(ROUTES)}")
    try:
        times = np.atleast_1d(np.asarray(dose_time, dtype=float))
    except (TypeError, ValueError):
        times = np.array([np.nan])
    if isinstance(dose_time, (str, bool)) or times.ndim != 1 or times.size == 0 or not np.all(
        (times >= 0) & (times <= MAX_TIME_H)
    ):
        raise PKModelError("dose_time", dose_time, f"a time in h, or a sequence of them, from 0 to {MAX_TIME_H:g}")
    if not (_is_number(duration) and 0 <= duration <= MAX_TIME_H):
        raise PKModelError("duration", duration, f"an infusion duration in h from 0 to {MAX_TIME_H:g} (0: bolus)")
    if duration > 0 and route == "extravascular":
        raise PKModelError("duration", duration, "an infusion duration needs route='intravascular'")
    if dose is None:
        amounts = np.full(n, np.nan)
    elif isinstance(dose, Mapping):
        unknown = [k for k in dose if k not in set(profiles.subjects.tolist())]
        if unknown:
            raise PKModelError("dose", unknown[0], "a subject of the data (a key of the dose mapping)")
        amounts = np.array([dose.get(k, np.nan) for k in profiles.subjects.tolist()], dtype=float)
        for k, v in dose.items():
            _check_dose(f"dose[{k!r}]", v)
    else:
        _check_dose("dose", dose)
        amounts = np.full(n, float(dose))
    given = np.isfinite(amounts)[:, None]
    return _Profiles(
        subjects=profiles.subjects,
        time=profiles.time,
        conc=profiles.conc,
        dose_time=np.where(given, times, np.nan),
        dose_amount=np.where(given, amounts[:, None], 0.0),
        dose_end=np.where(given, times + float(duration), np.nan),
        route=np.full(n, route or "", dtype=object),
        subject_name=subject,
    )


def _check_dose(field: str, value: Any) -> None:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise PKModelError(field, value, "a dose in mg: a finite number > 0")


def _pad(data: pd.DataFrame, subject: str, time: str, conc: str) -> _Profiles:
    """Rows of each subject (in the order given) into padded arrays, with the checks."""
    ids = data[subject]
    if ids.isna().any():
        row = int(np.argmax(ids.isna().to_numpy()))
        raise PKModelError(f"row {row + 1}, column {subject}", None, "every sample needs a subject")
    t = _column(data, time, "a time in h")
    c = _column(data, conc, "a concentration in mg/L")
    if len(t) == 0:
        raise PKModelError("data", "no rows", "NCA needs at least one sample")
    bad = ~np.isfinite(t) | (t < 0) | (t > MAX_TIME_H)
    if bad.any():
        row = int(np.argmax(bad))
        raise PKModelError(f"row {row + 1}, column {time}", t[row], f"times must be finite, from 0 to {MAX_TIME_H:g} h")
    _check_conc(c, lambda i: f"row {i + 1}, column {conc}")
    codes, subjects = pd.factorize(ids, sort=False)
    counts = np.bincount(codes)
    _check_size(len(subjects), int(counts.max()))
    position = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    time_2d = np.full((len(subjects), int(counts.max())), np.nan)
    conc_2d = np.full_like(time_2d, np.nan)
    time_2d[codes, position] = t
    conc_2d[codes, position] = c
    step = np.diff(time_2d, axis=1)
    back = step <= 0  # NaN pads compare False
    if back.any():
        i, j = np.argwhere(back)[0]
        rows = np.flatnonzero(codes == i)
        raise PKModelError(
            f"row {rows[j + 1] + 1}, column {time}",
            f"{time_2d[i, j]!r} then {time_2d[i, j + 1]!r} for subject {subjects[i]!r}",
            "times must increase strictly within a subject (sort the rows; one sample per time)",
        )
    empty = np.zeros((len(subjects), 0))
    return _Profiles(np.asarray(subjects), time_2d, conc_2d, empty, empty, empty, np.array([]), subject)


def _column(data: pd.DataFrame, name: str, what: str) -> np.ndarray:
    values = pd.to_numeric(data[name], errors="coerce").to_numpy(dtype=float)
    text = np.isnan(values) & data[name].notna().to_numpy()
    if text.any():
        row = int(np.argmax(text))
        raise PKModelError(f"row {row + 1}, column {name}", data[name].iloc[row], f"expected {what}")
    return values


def _check_conc(c: np.ndarray, where: Any) -> None:
    bad = ~(np.isfinite(c) & (c >= 0))
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        value = float(c.ravel()[i])
        allowed = "concentrations must be finite numbers >= 0 mg/L (BLQ as 0 or with lloq; remove missing samples)"
        raise PKModelError(where(i), value, allowed)


def _check_size(n_subjects: int, n_points: int) -> None:
    if n_subjects * max(n_points, 1) > MAX_CELLS:
        raise PKModelError(
            "data",
            f"{n_subjects} subjects x {n_points} samples",
            f"at most {MAX_CELLS:,} subject-samples at once; analyse the subjects in groups",
        )


def _intervals(intervals: Any, profiles: _Profiles) -> list[tuple[np.ndarray, np.ndarray]]:
    n = len(profiles.subjects)
    if intervals is None:
        first_dose = np.min(np.where(np.isnan(profiles.dose_time), np.inf, profiles.dose_time), axis=1, initial=np.inf)
        first_sample = profiles.time[:, 0]
        return [(np.where(np.isfinite(first_dose), first_dose, first_sample), np.full(n, np.inf))]
    if isinstance(intervals, (str, bytes)) or not isinstance(intervals, Sequence) or len(intervals) == 0:
        raise PKModelError("intervals", intervals, "a non-empty sequence of (start, end) pairs in h")
    out = []
    for pair in intervals:
        ok = isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2
        if ok:
            a, b = pair
            ok = _is_number(a) and _is_number(b) and 0 <= a < b <= MAX_TIME_H or (a <= MAX_TIME_H and b == np.inf)
            ok = ok and 0 <= a
        if not ok:
            allowed = f"a (start, end) pair of times in h, 0 <= start < end <= {MAX_TIME_H:g} or end = inf"
            raise PKModelError("intervals", pair, allowed)
        out.append((np.full(n, float(a)), np.full(n, float(b))))
    return out


def _manual_points(points: Any, profiles: _Profiles) -> tuple[np.ndarray, np.ndarray] | None:
    """A boolean mask (subjects × samples) of the points picked for λz and which subjects have
    a pick; ``None`` means the automatic rule for everyone."""
    if points is None:
        return None
    n = len(profiles.subjects)
    mask = np.zeros(profiles.time.shape, dtype=bool)
    picked = np.zeros(n, dtype=bool)
    if isinstance(points, Mapping):
        index = {k: i for i, k in enumerate(profiles.subjects.tolist())}
        items = []
        for key, times in points.items():
            if key not in index:
                raise PKModelError("lambda_z_times", key, "a subject of the data (a key of the mapping)")
            items.append((index[key], times, f"lambda_z_times[{key!r}]"))
    else:
        items = [(i, points, "lambda_z_times") for i in range(n)]
    for i, times, field in items:
        arr = _time_list(times, field)
        hit = np.isin(profiles.time[i], arr)
        missing = arr[~np.isin(arr, profiles.time[i])]
        if missing.size:
            raise PKModelError(field, float(missing[0]), f"a sample time of subject {profiles.subjects[i]!r}")
        mask[i] = hit
        picked[i] = True
    return mask, picked


def _time_list(times: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise PKModelError(field, times, "a sequence of sample times in h") from None
    if arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr)):
        raise PKModelError(field, times, "at least 2 finite sample times in h")
    return arr


# --- the parameters of one interval --------------------------------------------------------------


def _interval_table(
    p: _Profiles, start: np.ndarray, end: np.ndarray, manual: Any, o: _Options
) -> pd.DataFrame:
    # Divisions by a zero AUC or λz and overflow of absurd concentrations give inf/NaN that the
    # end of _interval_values turns into NaN with a reason: no floating-point warning is news.
    with np.errstate(all="ignore"):
        return _interval_values(p, start, end, manual, o)


def _interval_values(
    p: _Profiles, start: np.ndarray, end: np.ndarray, manual: Any, o: _Options
) -> pd.DataFrame:
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
    auc_seg, aumc_seg = _segments(t0 - a, t1 - a, c0, c1, o.auc_method)
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
    fit = _lambda_z(t, v, eligible, tlast, clast, picked, o)
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



def _segments(
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


def _lambda_z(
    t: np.ndarray, c: np.ndarray, eligible: np.ndarray, tlast: np.ndarray, clast: np.ndarray,
    picked: np.ndarray, o: _Options,
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
