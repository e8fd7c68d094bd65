"""The result of a simulation: :class:`Simulation`, the curves of one or more subjects.

Nothing is computed until a result is asked for: concentrations are one array (n_subjects,
n_times) computed on first use; the tidy DataFrame and the per-compartment amounts are built only
when asked for, so a population of 10,000 subjects stays a 2-D array.

Units: time h, concentration mg/L (= µg/mL), amount mg, AUC mg·h/L. Values are right-continuous,
so an output at a bolus time includes the bolus, and troughs are left limits (just before the dose).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.dosing import events
from pkmodel.dosing.events import regimen_events
from pkmodel.dosing.regimen import Regimen
from pkmodel.engine.analytic import CENTRAL, DEPOT, PERIPHERAL, Events, Kinetics, evaluate
from pkmodel.engine.curve import Curve
from pkmodel.engine.propagation import EventStates, event_states
from pkmodel.errors import PKModelError
from pkmodel.model import Model
from pkmodel.simulation import exposure
from pkmodel.simulation.inputs import check_cells, output_times

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METHODS", "Simulation"]

METHODS = ("auto", "direct", "grid")
_COMPARTMENTS = {DEPOT: "depot", CENTRAL: "central", PERIPHERAL: "peripheral"}
# Rows shown by Simulation._repr_html_.
_HEAD = 5


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Simulation:
    """Result of :func:`simulate`.

    Attributes: ``model``, ``regimen``, ``times`` (h, shape (n_times,)), ``concentration``
    (mg/L, shape (n_subjects, n_times); one row for a single subject; C-contiguous, so a
    subject's row is contiguous and ``concentration.ravel()`` is a view), ``n_subjects``.
    Nothing is computed until a result is asked for; ``concentration`` is computed once, on
    first use.
    """

    def __init__(
        self,
        model: Model,
        regimen: Regimen,
        times: np.ndarray,
        *,
        method: str = "auto",
        kinetics: Kinetics | None = None,
        checked: bool = False,
    ) -> None:
        self.model = model
        self.regimen = regimen
        self.times = times
        self.n_subjects = model.n_subjects or 1
        self._method = method
        # The front door has computed the kinetics and checked the regimen against the model
        # already (pkmodel.simulation.run); a Simulation built otherwise does both itself.
        if kinetics is not None:
            self._kin = kinetics
        self._checked = checked

    @cached_property
    def _kin(self) -> Kinetics:
        return self.model.kinetics(self.n_subjects)

    @cached_property
    def _events(self) -> Events:
        return regimen_events(self.model, self.regimen, self.n_subjects, checked=self._checked)

    @cached_property
    def _states(self) -> EventStates:
        """The state of every subject just after each dose event, shared by every evaluation."""
        return event_states(self._kin, self._events, self.n_subjects)

    @cached_property
    def _conc_weights(self) -> np.ndarray:
        return _weights(self.model, self.n_subjects)

    @cached_property
    def concentration(self) -> np.ndarray:
        """Central concentration (mg/L) at ``times``: (n_subjects, n_times)."""
        if self._method == "grid" and not self._events.shared_times:
            raise PKModelError(
                "method", "grid", "the grid driver needs dose events shared by all subjects (no per-subject F or "
                "lag on oral doses): use 'auto' or 'direct'"
            )
        return evaluate(
            self._kin, self._events, self.times, self._conc_weights, method=self._method, states=self._states
        )

    def __repr__(self) -> str:
        who = f"{self.n_subjects} subjects" if self.n_subjects > 1 else "1 subject"
        span = f"{len(self.times)} times from {self.times[0]:g} to {self.times[-1]:g} h"
        return f"<Simulation: {_short(str(self.regimen))}; {who}; {span}>"

    def _repr_html_(self) -> str:
        """Model, regimen, dimensions, time range and the first rows (first subject), as in
        mrgsolve's print of a simulation."""
        head = self.times[:_HEAD]
        conc = self.concentration[0, :_HEAD] if "concentration" in self.__dict__ else self.at(head)[0]
        rows = "".join(f"<tr><td>{t:g}</td><td>{c:.6g}</td></tr>" for t, c in zip(head, conc, strict=True))
        more = f"<tr><td colspan='2'>… {len(self.times) - len(head)} more times</td></tr>" if len(self.times) > _HEAD else ""
        facts = (
            ("model", _short(repr(self.model), 120)),
            ("regimen", _short(str(self.regimen), 120)),
            ("dimensions", f"{self.n_subjects} subject(s) × {len(self.times)} times"),
            ("time", f"{self.times[0]:g} to {self.times[-1]:g} h"),
        )
        info = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
        subject = " (subject 0)" if self.n_subjects > 1 else ""
        return (
            f"<div><b>Simulation</b><table>{info}</table>"
            f"<table><thead><tr><th>time_h</th><th>conc_mg_L{subject}</th></tr></thead>"
            f"<tbody>{rows}{more}</tbody></table></div>"
        )

    # --- exact values anywhere ---------------------------------------------------------------

    def at(self, times: Any, *, left: bool = False) -> np.ndarray:
        """Concentrations (mg/L) at any sorted times (h): (n_subjects, n_times). ``left=True``
        gives the value just before a dose given at exactly that time."""
        t = output_times(times)
        check_cells(self.n_subjects, len(t), events.event_count(self.model, self.regimen))
        return evaluate(self._kin, self._events, t, self._conc_weights, left=left, states=self._states)

    def auc(self, start: Any = 0.0, end: Any = None) -> np.ndarray:
        """Exact AUC of the concentration from ``start`` to ``end`` (h; default: the last output
        time), mg·h/L, per subject: the integral of the closed form, not a trapezoid sum."""
        t = output_times([start, self.times[-1] if end is None else end])
        cumulative = evaluate(self._kin, self._events, t, self._conc_weights, integral=True, states=self._states)
        return cumulative[:, 1] - cumulative[:, 0]

    def amounts(self) -> np.ndarray:
        """Amounts (mg) in depot, central and peripheral: (n_subjects, 3, n_times), a view of
        one (3, n_subjects, n_times) array computed in one engine pass."""
        return np.moveaxis(self._amounts((DEPOT, CENTRAL, PERIPHERAL)), 0, 1)

    def _amounts(self, compartments: Sequence[int]) -> np.ndarray:
        """(len(compartments), n_subjects, n_times) amounts (mg), all in one engine pass; each
        compartment's matrix is C-contiguous (one row per subject)."""
        weights = np.stack([_weights(self.model, self.n_subjects, c) for c in compartments])
        return evaluate(self._kin, self._events, self.times, weights, method=self._method, states=self._states)

    # --- tables ------------------------------------------------------------------------------

    @cached_property
    def data(self) -> pd.DataFrame:
        """Tidy table: ``time_h``, ``conc_mg_L``, ``<compartment>_mg`` for each compartment the
        model has (depot only with oral doses), and ``subject`` when there are several; one row
        per subject and time, subject by subject.

        The columns are built once in their final layout: the concentration and amount columns
        are views of the (n_subjects, n_times) matrices (no copy), so the table costs about its
        own size in memory. For the concentration as a matrix, one row per subject, use
        ``concentration`` (C-contiguous, so ``concentration.ravel()`` is the ``conc_mg_L``
        column without a copy)."""
        import pandas as pd

        return pd.DataFrame(self.columns(), copy=False)

    def columns(self) -> dict[str, np.ndarray]:
        """The columns of :attr:`data` as 1-D numpy arrays, in its order, without pandas (what
        a CSV writer or another table library needs)."""
        n, t = self.n_subjects, len(self.times)
        shown = [
            c
            for c in _COMPARTMENTS
            if not (c == DEPOT and "oral" not in self.regimen.routes)
            and not (c == PERIPHERAL and self.model.n_compartments == 1)
        ]
        conc = self.concentration
        amounts = self._amounts(shown)
        columns: dict[str, np.ndarray] = {}
        # Broadcast copies: one pass each, where repeat and tile take two.
        if n > 1:
            columns["subject"] = np.broadcast_to(np.arange(n)[:, None], (n, t)).reshape(-1)
        columns["time_h"] = np.broadcast_to(self.times, (n, t)).reshape(-1)
        columns["conc_mg_L"] = conc.reshape(-1)
        for k, c in enumerate(shown):
            columns[f"{_COMPARTMENTS[c]}_mg"] = amounts[k].reshape(-1)
        return columns

    def peak(self) -> tuple[np.ndarray, np.ndarray]:
        """(Cmax in mg/L, Tmax in h) per subject, refined on the exact curve (no other metric)."""
        return exposure.peak(self._exposure_inputs())

    def summary(self) -> pd.DataFrame:
        """Exposure metrics per subject (one row each) over the simulated window (the output
        times); see :func:`pkmodel.simulation.exposure.summarise`."""
        return exposure.summarise(self._exposure_inputs())

    def _exposure_inputs(self) -> exposure.Inputs:
        return exposure.inputs(
            self.model,
            self.regimen,
            self.times,
            self.concentration,
            Curve(self._kin, self._events, self._conc_weights, self._states),
        )

    def metrics(self) -> dict[str, np.ndarray]:
        """The columns of :meth:`summary` as numpy arrays (one value per subject), in its order,
        without pandas; see :func:`pkmodel.simulation.exposure.metrics`."""
        return exposure.metrics(self._exposure_inputs())


def _weights(model: Model, n: int, compartment: int | None = None) -> np.ndarray:
    """Observation weights: a compartment's amount (mg), or by default the central
    concentration (mg/L: the central amount divided by V1)."""
    w = np.zeros((3, n))
    if compartment is None:
        w[CENTRAL] = 1.0 / np.broadcast_to(np.asarray(model.v1, dtype=float), (n,))
    else:
        w[compartment] = 1.0
    return w
