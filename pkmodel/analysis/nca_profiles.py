"""Reading the inputs of an NCA: a simulation, a NONMEM-style dataset or a tidy DataFrame becomes
padded per-subject arrays of samples and doses (:class:`Profiles`), with every check on the way;
then the intervals to analyse and the points picked for λz.

Units: time h, concentration mg/L, dose mg.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.analysis.nca_options import is_number
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CELLS, MAX_TIME_H

if TYPE_CHECKING:
    import pandas as pd

ROUTES = ("extravascular", "intravascular")


@dataclass(frozen=True)
class Profiles:
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


def read_profiles(
    data: Any,
    *,
    subject: str,
    time: str,
    conc: str,
    dose: Any,
    dose_time: Any,
    duration: Any,
    route: Any,
    depot: Any,
) -> Profiles:
    """The profiles of ``data`` (a Simulation, a NONMEM-style dataset or a tidy DataFrame; see
    :func:`pkmodel.analysis.nca.nca` for the arguments)."""
    import pandas as pd

    from pkmodel.simulation.result import Simulation

    if isinstance(data, Simulation):
        if dose is not None or route is not None:
            raise PKModelError("dose/route", (dose, route), "a Simulation brings its own doses and route; omit them")
        return _from_simulation(data)
    if isinstance(data, pd.DataFrame) and {"ID", "TIME", "EVID", "DV"} <= set(data.columns):
        if dose is not None or route is not None:
            raise PKModelError("dose/route", (dose, route), "a dataset brings its own doses (AMT) and route (CMT)")
        return _from_dataset(data, depot)
    if isinstance(data, pd.DataFrame):
        return _from_tidy(data, subject, time, conc, dose, dose_time, duration, route)
    raise PKModelError(
        "data", type(data).__name__, "a pkmodel Simulation, a NONMEM-style dataset or a tidy pandas DataFrame"
    )


def _from_simulation(sim: Any) -> Profiles:
    n = sim.n_subjects
    doses = [d for d in sim.regimen.doses if d.amount > 0]
    oral = any(d.route == "oral" for d in doses)
    # An infusion given by rate lasts amount/rate for the nominal amount the NCA is told about.
    length = [d.duration if d.duration > 0 else (d.amount / d.rate if d.rate else 0.0) for d in doses]
    conc = np.asarray(sim.concentration, dtype=float)
    _check_conc(conc, lambda i: f"concentration[{np.unravel_index(i, conc.shape)}]")
    check_size(n, len(sim.times))
    # A simulated value at a bolus time includes the bolus (right-continuous); the end of a
    # dosing interval needs the value just before it, which only differs at bolus times.
    bolus_at_sample = any(not d.infusion and d.route != "oral" and np.isin(d.time, sim.times) for d in doses)
    before = sim.at(sim.times, left=True) if bolus_at_sample else None
    return Profiles(
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


def _from_dataset(data: pd.DataFrame, depot: bool | None) -> Profiles:
    import pandas as pd

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
    check_size(len(subjects), width)
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
    return Profiles(subjects, profiles.time, profiles.conc, dose_time, dose_amount, dose_end, route, "ID")


def _from_tidy(
    data: pd.DataFrame, subject: str, time: str, conc: str, dose: Any, dose_time: Any, duration: Any, route: Any
) -> Profiles:
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
    if not (is_number(duration) and 0 <= duration <= MAX_TIME_H):
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
    return Profiles(
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
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise PKModelError(field, value, "a dose in mg: a finite number > 0")


def _pad(data: pd.DataFrame, subject: str, time: str, conc: str) -> Profiles:
    """Rows of each subject (in the order given) into padded arrays, with the checks."""
    import pandas as pd

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
    check_size(len(subjects), int(counts.max()))
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
    return Profiles(np.asarray(subjects), time_2d, conc_2d, empty, empty, empty, np.array([]), subject)


def _column(data: pd.DataFrame, name: str, what: str) -> np.ndarray:
    import pandas as pd

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


def check_size(n_subjects: int, n_points: int) -> None:
    """Refuse, before allocating, data whose padded arrays would exceed ``MAX_CELLS``."""
    if n_subjects * max(n_points, 1) > MAX_CELLS:
        raise PKModelError(
            "data",
            f"{n_subjects} subjects x {n_points} samples",
            f"at most {MAX_CELLS:,} subject-samples at once; analyse the subjects in groups",
        )


def interval_bounds(intervals: Any, profiles: Profiles) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start, end) arrays (h, one value per subject) of each interval: those given, checked, or
    by default one interval per subject from its first dose (or first sample) to infinity."""
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
            ok = is_number(a) and is_number(b) and 0 <= a < b <= MAX_TIME_H or (a <= MAX_TIME_H and b == np.inf)
            ok = ok and 0 <= a
        if not ok:
            allowed = f"a (start, end) pair of times in h, 0 <= start < end <= {MAX_TIME_H:g} or end = inf"
            raise PKModelError("intervals", pair, allowed)
        out.append((np.full(n, float(a)), np.full(n, float(b))))
    return out


def manual_points(points: Any, profiles: Profiles) -> tuple[np.ndarray, np.ndarray] | None:
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

