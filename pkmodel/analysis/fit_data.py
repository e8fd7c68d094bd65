"""Reading one subject's data for a fit (:func:`pkmodel.analysis.estimate.fit`): the regimen,
the observation times (h) and concentrations (mg/L), and which observations see the value just
before a dose given at their time.

- a NONMEM-style dataset (as :func:`pkmodel.read_dataset` returns: ``ID``, ``TIME``, ``EVID``,
  ``DV``, ...) of one ID: its dose records are the regimen (read by
  :func:`pkmodel.dosing.records.dataset_regimens`; CMT numbering with a depot when the model has
  ``ka``), its EVID 0 records (MDV 0) the observations ``DV``. As in NONMEM, an observation placed
  before a dose record with the same TIME sees the value before that dose.
- a tidy DataFrame with columns ``time_h`` and ``conc_mg_L``, plus the :class:`Regimen` given; a
  sample at the time of a dose is taken just before it (a trough).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CONCENTRATION_MG_L, MAX_TIME_H, MAX_TIMES
from pkmodel.model import Model

#: Tidy data columns: time (h) and concentration (mg/L), as in ``Simulation.data``.
TIME, CONC = "time_h", "conc_mg_L"


@dataclass(frozen=True)
class Observations:
    """One subject's observations and the regimen they follow."""

    regimen: Regimen
    times: np.ndarray  # h, non-decreasing
    conc: np.ndarray  # mg/L
    left: np.ndarray  # bool: the value just before a dose at that time


def read_observations(model: Model, data: Any, regimen: Any) -> Observations:
    """The observations of ``data`` (a dataset of one ID, or a tidy frame with ``regimen``)."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise PKModelError("data", type(data).__name__, "a NONMEM-style dataset or a tidy DataFrame (time_h, conc_mg_L)")
    if {"ID", "TIME", "EVID", "DV"} <= set(data.columns):
        if regimen is not None:
            raise PKModelError("regimen", str(regimen), "a dataset brings its own doses: omit the regimen")
        return _from_dataset(model, data)
    if not {TIME, CONC} <= set(data.columns):
        raise PKModelError(
            "data", list(data.columns), f"a NONMEM-style dataset (ID, TIME, EVID, DV) or columns {TIME!r}, {CONC!r}"
        )
    if not isinstance(regimen, Regimen):
        raise PKModelError("regimen", type(regimen).__name__, "tidy data needs the pkmodel.Regimen given")
    times = _numbers(data[TIME], TIME)
    conc = _numbers(data[CONC], CONC)
    _check(times, conc, TIME, CONC)
    return Observations(regimen, times, conc, np.ones(times.size, dtype=bool))


def _from_dataset(model: Model, data: Any) -> Observations:
    # The dataset rules live with simulate_dataset: which compartment an observation may name,
    # and whether it sees the value before or after the doses of its TIME (record order).
    import pandas as pd

    from pkmodel.dosing.dataset import read_dataset
    from pkmodel.dosing.records import dataset_doses, dataset_regimens
    from pkmodel.simulation.simulate_dataset import _check_observation_compartments, _timing

    records = read_dataset(data)
    ids = pd.unique(records["ID"])
    if len(ids) != 1:
        raise PKModelError("data", f"{len(ids)} IDs", "one subject's records (select one ID)")
    depot = model.ka is not None
    _check_observation_compartments(records, depot)
    evid = records["EVID"].to_numpy()
    obs = evid == 0
    if "MDV" in records.columns:
        obs &= pd.to_numeric(records["MDV"], errors="coerce").fillna(0).to_numpy() != 1
    peripheral = model.v2 is not None
    doses = next(iter(dataset_doses(records, depot=depot, peripheral=peripheral).values()), [])
    if not doses:
        raise PKModelError("data", "no dose records", "a dataset with the subject's doses (EVID 1 or 4)")
    time = records["TIME"].to_numpy(dtype=float)
    dv = pd.to_numeric(records["DV"], errors="coerce").to_numpy(dtype=float)
    rows = np.flatnonzero(obs)
    _check(time[rows], dv[rows], "TIME", "DV", rows)
    dosing = np.flatnonzero(np.isin(evid, (1, 3, 4)))
    timing = [_timing(int(r), float(time[r]), [int(e) for e in dosing[time[dosing] == time[r]]], doses, float(model.tlag))
              for r in rows]  # fmt: skip
    if "prefix" in timing:
        r = int(rows[timing.index("prefix")])
        raise PKModelError(
            f"row {r + 1}", f"an observation at {time[r]:g} h between dose events of that time",
            "an observation before or after all the doses of its time (simulate_dataset reads this one; fit does not)",
        )
    (regimen,) = dataset_regimens(records, depot=depot, peripheral=peripheral).values()
    return Observations(regimen, time[rows], dv[rows], np.array([how == "left" for how in timing], dtype=bool))


def _numbers(column: Any, name: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    text = np.isnan(values) & column.notna().to_numpy()
    if text.any():
        row = int(np.argmax(text))
        raise PKModelError(f"row {row + 1}, column {name}", column.iloc[row], "a number")
    return values


def _check(times: np.ndarray, conc: np.ndarray, time_name: str, conc_name: str, rows: Any = None) -> None:
    rows = np.arange(times.size) if rows is None else rows
    if times.size == 0:
        raise PKModelError("data", "no observations", "at least one observation of the subject (EVID 0 / a row)")
    if times.size > MAX_TIMES:
        raise PKModelError("data", f"{times.size} observations", f"at most {MAX_TIMES:,} (limits.MAX_TIMES)")
    bad = ~(np.isfinite(times) & (times >= 0) & (times <= MAX_TIME_H))
    if bad.any():
        i = int(np.argmax(bad))
        raise PKModelError(f"row {rows[i] + 1}, column {time_name}", times[i], f"a time from 0 to {MAX_TIME_H:g} h")
    if np.any(np.diff(times) < 0):
        i = int(np.argmax(np.diff(times) < 0)) + 1
        raise PKModelError(f"row {rows[i] + 1}, column {time_name}", times[i], "times in increasing order")
    # Past the limit the residual sums of squares overflow the float range.
    bad = ~((conc >= 0) & (conc <= MAX_CONCENTRATION_MG_L))
    if bad.any():
        i = int(np.argmax(bad))
        raise PKModelError(
            f"row {rows[i] + 1}, column {conc_name}",
            conc[i],
            f"a concentration from 0 to {MAX_CONCENTRATION_MG_L:g} mg/L (limits.MAX_CONCENTRATION_MG_L)",
        )

