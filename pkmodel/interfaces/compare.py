"""Regimens and patients side by side: one figure and one table.

    >>> from pkmodel import Patient, Regimen, compare, load_params
    >>> result = compare(
    ...     {
    ...         "500 mg IV bid": Regimen.parse("500 mg IV q12h for 14 days"),
    ...         "1 g PO daily": Regimen.parse("1 g PO q24h for 14 days"),
    ...         "500 mg IV bid, CrCL 20": (Regimen.parse("500 mg IV q12h for 14 days"), Patient(crcl="20 mL/min")),
    ...     },
    ...     load_params("mildronate"),
    ... )
    >>> result.table          # Cmax, Tmax after the last dose, Cmin, Cavg, AUCτ, accumulation, t90ss, label warnings
    >>> result.figure         # one curve per scenario, colour-blind-safe colours and line styles

The numbers are each scenario's :meth:`Simulation.summary` (and :meth:`Simulation.peak` for the
peak after the last dose): nothing is recomputed here. Label warnings that a scenario's patient or
regimen meets are caught per scenario and listed in the table (not issued), and the scenario's
curve is marked (dotted, "(label: ...)" in the legend).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.label import ContraindicationWarning, LabelWarning
from pkmodel.drugs.patient import Patient
from pkmodel.errors import PKModelError
from pkmodel.interfaces.plot import concentration_time
from pkmodel.interfaces.style import Style, get_style, new_axes
from pkmodel.model import Model
from pkmodel.simulation.simulate import Simulation, simulate

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["COLUMNS", "Comparison", "compare"]

#: Table column -> the :meth:`Simulation.summary` column it shows (median over subjects).
COLUMNS = {
    "Cmax (mg/L)": "cmax_mg_L",
    "Tmax after last dose (h)": None,  # from Simulation.peak() over the window after the last dose
    "Cmin (mg/L)": "cmin_mg_L",
    "Cavg (mg/L)": "cavg_mg_L",
    "AUCτ (mg·h/L)": "auc_tau_mg_h_L",
    "Accumulation": "accumulation",
    "t90ss (h)": "t90ss_h",
}
WARNINGS_COLUMN = "Label warnings"


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` returns: ``table`` (DataFrame, one row per scenario, units in the
    column names), ``ax`` (the Axes of the figure) and ``figure``, ``simulations`` (name ->
    :class:`Simulation`) and ``warnings`` (name -> the label warnings' messages)."""

    table: pd.DataFrame
    ax: Axes
    simulations: Mapping[str, Simulation]
    warnings: Mapping[str, tuple[str, ...]]

    @property
    def figure(self) -> Figure:
        """The figure the comparison is drawn on."""
        return self.ax.figure  # type: ignore[return-value]

    def _repr_html_(self) -> str:
        return self.table.to_html(float_format=lambda v: f"{v:.4g}")


def compare(
    scenarios: Mapping[str, Any],
    model: Model | None = None,
    *,
    times: Any = None,
    ax: Axes | None = None,
    log: bool = False,
    show_doses: bool = True,
    style: str | Style = "paper",
    title: str | None = None,
) -> Comparison:
    """Simulate several scenarios and show them in one figure and one table.

    ``scenarios``: a mapping name -> a :class:`Regimen`, or a tuple holding a Regimen and, in any
    order, a :class:`Patient` and/or a :class:`Model` (that scenario's model instead of
    ``model``). ``model``: the model of the scenarios that do not give one. ``times``: output
    times (h) shared by every scenario (default: each scenario's own default grid). ``log``,
    ``show_doses``, ``style`` as for :func:`concentration_time` (each scenario has its own row of
    dose marks). ``title``: default the model's name and the number of scenarios (a neutral
    title: no scenario's regimen).

    The table has one row per scenario (medians over subjects when a model has several): Cmax
    over the simulated window, the time of the peak after the last dose (h from that dose), the
    trough before the last dose, Cavg and AUCτ over the last dosing interval, the accumulation
    ratio, the time to 90 % of steady state, and the label warnings met.
    """
    import pandas as pd

    cases = _scenarios(scenarios, model)
    s = get_style(style)
    ax = new_axes(s) if ax is None else ax
    if title is None:
        names = {m.name for m, _, _ in cases.values()}
        drug = f"{names.pop()}: " if len(names) == 1 and None not in names else ""
        title = f"{drug}{len(cases)} scenarios"
    sims: dict[str, Simulation] = {}
    found: dict[str, tuple[str, ...]] = {}
    rows = []
    for name, (m, regimen, patient) in cases.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LabelWarning)
            sim = simulate(m, regimen, times, patient=patient)
        label_warnings = [w for w in caught if issubclass(w.category, LabelWarning)]
        for w in caught:  # anything else is not ours to swallow
            if not issubclass(w.category, LabelWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        sims[name] = sim
        found[name] = tuple(str(w.message) for w in label_warnings)
        kinds = list(dict.fromkeys(_kind(w.category) for w in label_warnings))
        contraindicated = any(issubclass(w.category, ContraindicationWarning) for w in label_warnings)
        flag = "contraindicated" if contraindicated else ", ".join(kinds) or None
        concentration_time(sim, ax=ax, log=log, show_doses=show_doses, label=name, flag=flag, style=s, title=title)
        rows.append(_row(sim) | {WARNINGS_COLUMN: "; ".join(kinds)})
    table = pd.DataFrame(rows, index=pd.Index(list(cases), name="scenario"))
    return Comparison(table, ax, MappingProxyType(sims), MappingProxyType(found))


def _row(sim: Simulation) -> dict[str, float]:
    """One scenario's numbers: medians over subjects of its summary, and the peak after the last
    dose from :meth:`Simulation.peak` over the window that starts at that dose."""
    summary = sim.summary().median()
    row = {column: float(summary[key]) for column, key in COLUMNS.items() if key is not None}
    doses = np.asarray(sim.regimen.dose_times, dtype=float)
    doses = doses[(doses >= sim.times[0]) & (doses <= sim.times[-1])]
    tmax_after = np.nan
    if doses.size:
        last = float(doses[-1])
        window = np.union1d([last], sim.times[sim.times >= last])
        after = simulate(sim.model, sim.regimen, window, check_label=False)  # sim.model: patient applied
        tmax_after = float(np.median(after.peak()[1])) - last
    row["Tmax after last dose (h)"] = tmax_after
    return {column: row[column] for column in COLUMNS}


def _scenarios(scenarios: Mapping[str, Any], model: Model | None) -> dict[str, tuple[Model, Regimen, Patient | None]]:
    """name -> (model, regimen, patient), each checked."""
    if model is not None and not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model or None")
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise PKModelError("scenarios", type(scenarios).__name__, "a non-empty mapping name -> Regimen or tuple")
    cases = {}
    for name, value in scenarios.items():
        if not isinstance(name, str) or not name.strip():
            raise PKModelError("scenarios", name, "scenario names are non-empty strings")
        parts = value if isinstance(value, tuple) else (value,)
        kinds: dict[type, Any] = {}
        for part in parts:
            kind = next((k for k in (Regimen, Patient, Model) if isinstance(part, k)), None)
            if kind is None or kind in kinds:
                raise PKModelError(
                    f"scenarios[{name!r}]",
                    type(part).__name__,
                    "a Regimen, or a tuple of one Regimen and at most one Patient and one Model",
                )
            kinds[kind] = part
        if Regimen not in kinds:
            raise PKModelError(f"scenarios[{name!r}]", type(value).__name__, "a Regimen, or a tuple holding one")
        m = kinds.get(Model, model)
        if m is None:
            raise PKModelError(
                "model", None, f"a Model for scenario {name!r}: pass model=load_params(...) or put one in its tuple"
            )
        cases[name] = (m, kinds[Regimen], kinds.get(Patient))
    return cases


def _kind(category: type[Warning]) -> str:
    """A warning class as words: SevereRenalImpairmentWarning -> "severe renal impairment"."""
    words = re.findall(r"[A-Z][a-z]*", category.__name__.removesuffix("Warning"))
    return " ".join(words).lower() or category.__name__
