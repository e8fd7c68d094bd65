"""Simulate a NONMEM-style dataset: ``simulate_dataset(model, df)`` -> its observation records
with the model's concentration.

Orchestration only: the records are read and turned into doses by :mod:`pkmodel.dosing.dataset` and :mod:`pkmodel.dosing.records`, and
every number comes from :func:`pkmodel.simulation.simulate.simulate`. Units: TIME h, concentrations mg/L.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.dosing.dataset import individuals, read_dataset
from pkmodel.dosing.events import bolus_arrival_times
from pkmodel.dosing.records import DoseRecord, dataset_doses
from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.model import Model
from pkmodel.simulation.simulate import simulate

_FIELDS = tuple(f.name for f in dataclasses.fields(Model) if f.name not in ("name", "populations"))
# Subjects x output times evaluated at once; larger groups are split into chunks.
_CELLS = 4_000_000
# The overhead of one more simulation, in evaluated cells (subject x time), for chunking IDs.
_OVERHEAD = 3_000


def simulate_dataset(
    model: Model,
    df: pd.DataFrame | str | os.PathLike[str],
    *,
    parameters: Mapping[str, str] | None = None,
    rate_column: str = "R",
    duration_column: str = "D",
) -> pd.DataFrame:
    """The observation records (EVID 0) of ``df`` with a new column ``conc_mg_L``: the central
    concentration (mg/L) ``model`` predicts for each, simulated per ID.

    ``model``: one subject's :class:`Model` (scalar parameters). Its absorption rate decides the
    compartment numbering: with ``ka`` (or ``parameters`` giving ka) CMT 1 is the depot and
    2 the central compartment (ADVAN2/4), without it CMT 1 is central (ADVAN1/3); see
    :func:`pkmodel.dosing.records.dataset_regimens` for every dosing rule. ``df``: a dataset (frame or
    CSV path), checked with :func:`pkmodel.dosing.dataset.read_dataset`. ``parameters``: model field ->
    column, e.g. ``{"cl": "CL", "v1": "V"}``; each ID's value (which must be the same on every
    record of that ID) replaces the model's field for that subject. ``rate_column`` /
    ``duration_column``: the columns read for RATE = -1 / -2.

    Observation records must have CMT 0 (or missing) or the central compartment's number.

    Timing at equal TIMEs follows the record order, as in NONMEM: an observation sees the state
    after everything the records above it cause at its time (their doses, ADDL doses and lagged
    doses arriving then) and nothing the records below it cause. So an observation placed before
    a dose record with the same TIME is the pre-dose value (a trough: the left limit), one placed
    after it includes the dose.

    Returns a new frame with the dataset's columns (upper case, as read) and index.
    """
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if model.n_subjects is not None:
        raise PKModelError(
            "model", repr(model), "one subject's parameters (scalars); per-ID values come from `parameters`"
        )
    data = read_dataset(df)
    columns = _parameter_columns(data, parameters)
    depot = model.ka is not None or "ka" in columns
    peripheral = model.v2 is not None or "v2" in columns
    _check_observation_compartments(data, depot)
    doses = dataset_doses(
        data, depot=depot, peripheral=peripheral, rate_column=rate_column, duration_column=duration_column
    )
    people = individuals(data)
    values = _per_id_values(data, columns, people)

    evid = data["EVID"].to_numpy()
    time = data["TIME"].to_numpy(dtype=float)
    conc = np.full(len(data), np.nan)
    plans: dict[Regimen, list[_Plan]] = {}
    for key, start, end in people:
        rows = np.flatnonzero(evid[start:end] == 0) + start
        if len(rows) == 0:
            continue
        records = doses.get(key, [])
        if not records:
            conc[rows] = 0.0
            continue
        plan = _Plan(key, values.get(key, {}))
        lag = float(plan.values.get("tlag", model.tlag))
        events: dict[float, list[int]] = {}
        for e in np.flatnonzero(np.isin(evid[start:end], (1, 3, 4))) + start:
            events.setdefault(float(time[e]), []).append(int(e))
        for r in rows:
            t = float(time[r])
            plan.add(int(r), t, _timing(int(r), t, events.get(t, []), records, lag), records)
        regimen = Regimen(tuple(rec.dose for rec in records if rec.cancelled_by is None))
        plans.setdefault(regimen, []).append(plan)

    for regimen, group in plans.items():
        _evaluate(model, regimen, group, conc)
    for group in plans.values():
        for plan in group:
            _evaluate_prefixes(model, plan, conc)

    out = data.loc[evid == 0].copy()
    out["conc_mg_L"] = conc[evid == 0]
    return out


# --- the value an observation sees ----------------------------------------------------------------


@dataclasses.dataclass
class _Plan:
    """One ID's observations: which rows take the right limit, which the left limit of the full
    regimen, and which need a simulation of the records above them only."""

    key: Any
    values: dict[str, float]
    right: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    left: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    prefix: list[tuple[int, float, tuple[Any, ...]]] = dataclasses.field(default_factory=list)

    def add(self, row: int, t: float, how: str, records: list[DoseRecord]) -> None:
        if how == "right":
            self.right.append((row, t))
        elif how == "left":
            self.left.append((row, t))
        else:
            before = tuple(
                rec.dose for rec in records if rec.row < row and (rec.cancelled_by is None or rec.cancelled_by > row)
            )
            self.prefix.append((row, t, before))


def _timing(row: int, t: float, same_time: list[int], records: list[DoseRecord], lag: float) -> str:
    """How observation ``row`` at time ``t`` is evaluated, given the rows of the dose and reset
    records at ``t``: "right" (value after everything at t: no such record below it), "left"
    (value before t: such records only below it, and nothing the records above cause at t), else
    "prefix"."""
    below = any(e > row for e in same_time)
    above = any(e < row for e in same_time)
    if not below:
        return "right"
    if above:
        return "prefix"
    for rec in records:
        if rec.row >= row or (rec.cancelled_by is not None and rec.cancelled_by < row):
            continue
        if t in bolus_arrival_times(rec.dose, lag):
            return "prefix"
    return "left"


def _evaluate(model: Model, regimen: Regimen, group: list[_Plan], conc: np.ndarray) -> None:
    """Right and left limits of ``regimen`` for every ID sharing it, several IDs per simulation
    (their parameters as arrays), evaluated at the union of their observation times."""
    group = [p for p in group if p.right or p.left]
    i = 0
    while i < len(group):
        chunk = [group[i]]
        times = {t for _, t in group[i].right + group[i].left}
        i += 1
        while i < len(group):
            own = {t for _, t in group[i].right + group[i].left}
            more = times | own
            # Every subject of a chunk is evaluated at every time of the chunk: join while that
            # lowers the cost per subject (a simulation's overhead shared, more cells evaluated).
            n = len(chunk)
            if (_OVERHEAD + (n + 1) * len(more)) / (n + 1) > (_OVERHEAD + n * len(times)) / n:
                break
            if (n + 1) * len(more) > _CELLS:
                break
            chunk.append(group[i])
            times = more
            i += 1
        grid = np.array(sorted(times))
        sim = simulate(_model_for(model, chunk), regimen, grid)
        right = sim.concentration
        left = sim.at(grid, left=True) if any(p.left for p in chunk) else None
        for j, plan in enumerate(chunk):
            subject = j if sim.n_subjects > 1 else 0
            for rows, values in ((plan.right, right), (plan.left, left)):
                # left is None only when no plan of the chunk has left-limit rows.
                if rows and values is not None:
                    index = np.searchsorted(grid, [t for _, t in rows])
                    conc[[r for r, _ in rows]] = values[subject, index]


def _evaluate_prefixes(model: Model, plan: _Plan, conc: np.ndarray) -> None:
    """Observations that see only the records above them: a simulation of those records."""
    cache: dict[tuple[Any, ...], float] = {}
    for row, t, doses in plan.prefix:
        key = (t, doses)
        if key not in cache:
            if not doses:
                cache[key] = 0.0
            else:
                sim = simulate(_model_for(model, [plan]), Regimen(doses), [t])
                cache[key] = float(sim.concentration[0, 0])
        conc[row] = cache[key]


# --- per-ID parameters ----------------------------------------------------------------------------


def _parameter_columns(data: pd.DataFrame, parameters: Mapping[str, str] | None) -> dict[str, str]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise PKModelError("parameters", type(parameters).__name__, "a mapping model field -> dataset column")
    out = {}
    for field, column in parameters.items():
        if field not in _FIELDS:
            raise PKModelError("parameters", field, f"model fields: {', '.join(_FIELDS)}")
        name = str(column).strip().upper()
        if name not in data.columns:
            raise PKModelError(f"parameters[{field!r}]", column, "no such column in the dataset")
        out[field] = name
    return out


def _per_id_values(
    data: pd.DataFrame, columns: dict[str, str], people: list[tuple[Any, int, int]]
) -> dict[Any, dict[str, float]]:
    """Each ID's value of each mapped column, which must be one number on all its records."""
    out: dict[Any, dict[str, float]] = {key: {} for key, _, _ in people}
    for field, name in columns.items():
        raw = data[name]
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        for key, start, end in people:
            part = numbers[start:end]
            bad = np.flatnonzero(~np.isfinite(part))
            if len(bad):
                row = start + int(bad[0])
                cell = raw.iloc[row]
                raise PKModelError(
                    f"ID {key!r}, column {name} (row {row + 1})",
                    cell.item() if isinstance(cell, np.generic) else cell,
                    f"a finite number for {field} is required on every record",
                )
            if np.any(part != part[0]):
                raise PKModelError(
                    f"ID {key!r}, column {name}",
                    sorted(set(part.tolist())),
                    f"{field} must have one value within an ID",
                )
            out[key][field] = float(part[0])
    return out


def _model_for(model: Model, plans: list[_Plan]) -> Model:
    """``model`` with the mapped fields replaced: scalars for one ID, arrays for several."""
    fields = plans[0].values.keys()
    if not fields:
        return model
    changes = {f: (plans[0].values[f] if len(plans) == 1 else np.array([p.values[f] for p in plans])) for f in fields}
    try:
        return model.replace(**changes)
    except PKModelError:
        for plan in plans:  # find the ID whose value is refused
            try:
                model.replace(**plan.values)
            except PKModelError as own:
                raise PKModelError(f"ID {plan.key!r}: {own.field}", own.value, own.allowed) from None
        raise


def _check_observation_compartments(data: pd.DataFrame, depot: bool) -> None:
    if "CMT" not in data.columns:
        return
    central = 2 if depot else 1
    obs = data["EVID"].to_numpy() == 0
    cmt = data["CMT"].to_numpy()
    bad = obs & ~np.isin(cmt, (0, central))
    if np.any(bad):
        row = int(np.argmax(bad))
        raise PKModelError(
            f"row {row + 1}, column CMT",
            int(cmt[row]),
            f"observations are central concentrations: CMT 0 or {central} "
            f"({'with' if depot else 'without'} a depot)",
        )
