"""An interactive explorer for a classroom: sliders and menus for a repeated-dose regimen and a
patient, redrawing the concentration-time figure and the exposure table on every change.

``pkmodel.explore()`` in a Jupyter notebook shows dose, interval, route, treatment length,
loading dose, a missed dose, creatinine clearance and Child–Pugh class as widgets (ipywidgets,
the optional extra ``pkmodel[notebook]``). Without a widget front end (ipywidgets not installed,
or not running in a notebook kernel) it draws the same figure and table once, for the settings
given, instead of failing.

Every number comes from :func:`pkmodel.simulate` and :meth:`Simulation.summary`; the figure is
:func:`pkmodel.interfaces.plot.concentration_time`. Units: dose mg, interval h, treatment length
days, creatinine clearance mL/min, concentration mg/L (= µg/mL).
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.covariates import CHILD_PUGH
from pkmodel.drugs.label import LabelWarning
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import load_population_factors
from pkmodel.errors import PKModelError
from pkmodel.interfaces.plot import concentration_time
from pkmodel.model import Model
from pkmodel.params import load_params
from pkmodel.simulation.simulate import Simulation, simulate
from pkmodel.units import parse_quantity

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["DOSE_MG", "DAYS", "CRCL_ML_MIN", "INTERVALS_H", "Explorer", "Settings", "explore"]

#: (lowest, highest, step) of the dose and loading-dose sliders, mg.
DOSE_MG = (50, 3000, 50)
#: (lowest, highest) treatment length, days.
DAYS = (1, 56)
#: (lowest, highest, step) of the creatinine clearance slider, mL/min.
CRCL_ML_MIN = (5, 150, 5)
#: Dosing intervals offered, h (a given interval that is not among them is added).
INTERVALS_H = (4.0, 6.0, 8.0, 12.0, 24.0, 48.0)
ROUTES = ("iv", "oral")
_FIGSIZE = (8.0, 4.0)  # inches
_DPI = 100
_NORMAL_LIVER = "normal"
_MARGINS = {"left": 0.09, "right": 0.98, "bottom": 0.12, "top": 0.86}


@dataclass(frozen=True)
class Settings:
    """What the explorer simulates: ``dose`` mg every ``interval`` h by ``route`` for ``days``
    days; ``loading`` mg as the first dose (None: no loading dose); ``missed``, the number of a
    dose not taken (1 = first; None: none); ``crcl`` mL/min and ``child_pugh`` ("A", "B", "C"
    or None) describe the patient when the model's drug has a population file (``crcl`` None:
    the reference adult)."""

    dose: float
    interval: float
    route: str
    days: int
    loading: float | None = None
    missed: int | None = None
    crcl: float | None = None
    child_pugh: str | None = None

    def regimen(self) -> Regimen:
        """The regimen these settings describe (Regimen.repeated, then Regimen.miss)."""
        regimen = Regimen.repeated(
            self.dose, self.interval, over=self.days * 24.0, route=self.route, loading=self.loading
        )
        return regimen if self.missed is None else regimen.miss([self.missed])

    def patient(self) -> Patient | None:
        """The patient these settings describe, or None for the reference adult."""
        if self.crcl is None and self.child_pugh is None:
            return None
        return Patient(crcl=self.crcl, child_pugh=self.child_pugh)


class Explorer:
    """The explorer's state: ``settings``, the latest ``simulation``, its ``table``
    (``simulation.summary()``), the ``figure`` (a matplotlib Figure, no pyplot state), the label
    ``messages`` the settings raised, and ``error`` (the message of the last settings pkmodel
    refused, else None). With widgets, ``controls`` maps each setting's name to its widget and
    ``widget`` is the whole box; without them both are empty/None and the figure is drawn once.

    Setting a control's ``.value`` (by hand in the browser or from Python) redraws everything.
    The loading-dose and missed-dose sliders at 0 mean none; the CrCL slider at the population
    file's reference CrCL is the reference adult; the liver menu's "normal" is no Child–Pugh class.
    """

    def __init__(self, model: Model, settings: Settings, *, interactive: bool) -> None:
        from matplotlib.figure import Figure

        self.model = model
        self.settings = settings
        self.figure: Figure = Figure(figsize=_FIGSIZE, dpi=_DPI)
        # Fixed margins: a layout engine would lay the figure out again on every redraw, which
        # costs as much as drawing it.
        self.figure.subplots_adjust(**_MARGINS)
        self.ax = self.figure.add_subplot()
        self.simulation: Simulation | None = None
        self.table: pd.DataFrame | None = None
        self.messages: list[str] = []
        self.error: str | None = None
        self.controls: dict[str, Any] = {}
        self.widget: Any = None
        self._parts: dict[str, Any] = {}
        self._adjusting = False
        self._redraw()
        if interactive:
            self._build_widgets()

    # --- computing and drawing ------------------------------------------------------------

    def _redraw(self) -> None:
        self.ax.clear()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LabelWarning)
                sim = simulate(self.model, self.settings.regimen(), patient=self.settings.patient())
                table = sim.summary()
        except PKModelError as err:
            # A slider combination the regimen rules refuse (e.g. missing the only dose): say so
            # where the picture was, and keep the controls alive.
            self.error = str(err)
            self.simulation, self.table, self.messages = None, None, []
            self.ax.text(0.5, 0.5, self.error, ha="center", va="center", wrap=True, transform=self.ax.transAxes)
            self.ax.set_axis_off()
            return
        self.error = None
        self.simulation, self.table = sim, table
        self.messages = [str(w.message) for w in caught if issubclass(w.category, LabelWarning)]
        for w in caught:  # anything that is not a label finding goes on to the caller's filters
            if not issubclass(w.category, LabelWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.ax.set_axis_on()
        concentration_time(sim, ax=self.ax, label=self._who())
        if self.messages:
            self.ax.set_title(f"{sim.regimen}\nlabel: {len(self.messages)} finding(s), see below", color="#b2182b")

    def _who(self) -> str:
        s = self.settings
        if s.crcl is None and s.child_pugh is None:
            return "reference adult"
        parts = [] if s.crcl is None else [f"CrCL {s.crcl:g} mL/min"]
        return ", ".join(parts + ([] if s.child_pugh is None else [f"Child–Pugh {s.child_pugh}"]))

    def png(self) -> bytes:
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=_DPI)
        return buffer.getvalue()

    def table_html(self) -> str:
        """The exposure table (one row per metric) and the label findings, as HTML."""
        if self.table is None:
            return f"<p><b>Not simulated:</b> {html.escape(self.error or '')}</p>"
        shown = self.table.T.rename(columns=lambda _: "value").round(4)
        findings = "".join(f"<li>{html.escape(m)}</li>" for m in self.messages)
        notes = f"<p><b>Label findings</b></p><ul>{findings}</ul>" if findings else ""
        return shown.to_html() + notes

    # --- widgets ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        import ipywidgets as w

        s, drug = self.settings, self.model.populations
        low, high, step = DOSE_MG
        layout = {"style": {"description_width": "11em"}, "layout": w.Layout(width="30em")}
        # A redraw takes a good fraction of a second: sliders redraw when released, not while dragged.
        slider = {**layout, "continuous_update": False}
        c: dict[str, Any] = {
            "dose": w.IntSlider(value=int(s.dose), min=low, max=high, step=step, description="dose (mg)", **slider),
            "interval": w.Dropdown(
                options=[(f"{t:g} h", t) for t in sorted({*INTERVALS_H, s.interval})],
                value=s.interval,
                description="interval",
                **layout,
            ),
            "route": w.Dropdown(options=self._routes(), value=s.route, description="route", **layout),
            "days": w.IntSlider(value=s.days, min=DAYS[0], max=DAYS[1], description="days", **slider),
            "loading": w.IntSlider(
                value=int(s.loading or 0), min=0, max=high, step=step, description="loading dose (mg)", **slider
            ),
            "missed": w.IntSlider(
                value=s.missed or 0, min=0, max=self._n_doses(s), description="missed dose number", **slider
            ),
        }
        if drug is not None:
            lo, hi, st = CRCL_ML_MIN
            c["crcl"] = w.IntSlider(
                value=int(s.crcl if s.crcl is not None else _reference_crcl(self.model)),
                min=lo,
                max=hi,
                step=st,
                description="CrCL (mL/min)",
                **slider,
            )
            # Not None for a normal liver: a Dropdown reads the value None as "nothing selected".
            c["child_pugh"] = w.Dropdown(
                options=[("normal liver", _NORMAL_LIVER), *((f"Child–Pugh {k}", k) for k in CHILD_PUGH)],
                value=s.child_pugh or _NORMAL_LIVER,
                description="liver",
                **layout,
            )
        self.controls = c
        self._parts = {"image": w.Image(value=self.png(), format="png"), "table": w.HTML(self.table_html())}
        for control in c.values():
            control.observe(self._changed, names="value")
        self.widget = w.HBox(
            [w.VBox(list(c.values())), w.VBox([self._parts["image"], self._parts["table"]])],
            layout=w.Layout(flex_flow="row wrap"),
        )

    def _routes(self) -> list[str]:
        # A model without absorption (no ka) can only be given IV.
        return list(ROUTES) if self.model.ka is not None else ["iv"]

    @staticmethod
    def _n_doses(s: Settings) -> int:
        return len(replace(s, missed=None).regimen().doses)

    def _changed(self, _change: Any = None) -> None:
        if self._adjusting:  # the missed-dose slider being fitted to the new number of doses
            return
        c = self.controls
        crcl = c.get("crcl")
        settings = Settings(
            dose=float(c["dose"].value),
            interval=float(c["interval"].value),
            route=str(c["route"].value),
            days=int(c["days"].value),
            loading=float(c["loading"].value) or None,
            # The slider at the reference adult's CrCL is the reference adult (the same clearance).
            crcl=None if crcl is None or crcl.value == _reference_crcl(self.model) else float(crcl.value),
            child_pugh=None if c.get("child_pugh") is None or c["child_pugh"].value == _NORMAL_LIVER else c["child_pugh"].value,
        )
        n = self._n_doses(settings)
        if c["missed"].max != n:
            # ipywidgets moves the value inside the new range itself: one redraw, not two.
            self._adjusting = True
            try:
                c["missed"].max = n
            finally:
                self._adjusting = False
        self.settings = replace(settings, missed=int(c["missed"].value) or None)
        self.update()

    def update(self) -> None:
        """Simulate the current settings and redraw the figure, the image and the table."""
        self._redraw()
        if self._parts:
            self._parts["image"].value = self.png()
            self._parts["table"].value = self.table_html()

    # --- display ----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self.widget is not None:
            bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
            return bundle
        image = base64.b64encode(self.png()).decode("ascii")
        return {
            "text/plain": repr(self),
            "text/html": f'<div><img src="data:image/png;base64,{image}"/>{self.table_html()}</div>',
        }

    def __repr__(self) -> str:
        mode = "widgets" if self.widget is not None else "static"
        return f"<Explorer ({mode}): {self.settings}>"


def explore(
    model: Model | str | None = None,
    *,
    dose: Any = "500 mg",
    interval: Any = "12 h",
    route: str = "iv",
    days: int = 14,
    loading: Any = None,
    missed: int | None = None,
    crcl: Any = None,
    child_pugh: str | None = None,
    widgets: bool | None = None,
) -> Explorer:
    """An interactive explorer of a repeated-dose regimen in ``model`` (a :class:`Model`, the
    name of a shipped parameter file, or None for the default drug).

    The keywords are the starting settings (units as strings or numbers in mg, h, days, mL/min):
    ``dose`` and ``loading`` in [50, 3000] mg (``loading`` None: no loading dose), ``interval``
    > 0 h, ``route`` "iv" or "oral", ``days`` a whole number in [1, 56], ``missed`` the number of
    a dose not taken (None: none), ``crcl`` in [5, 150] mL/min and ``child_pugh`` "A", "B" or "C"
    (both only for a model whose drug has a population file; None: the reference adult).

    ``widgets``: None shows widgets when ipywidgets is installed and a notebook kernel is
    running, and otherwise the static figure and table; True requires widgets; False draws the
    static figure and table. Returns the :class:`Explorer` (a notebook displays it).
    Raises :class:`PKModelError` for settings outside those ranges.
    """
    model = _model(model)
    settings = _settings(model, dose, interval, route, days, loading, missed, crcl, child_pugh)
    if widgets is None:
        widgets = _widget_front_end()
    elif not isinstance(widgets, bool):
        raise PKModelError("widgets", widgets, "True, False or None (automatic)")
    elif widgets and not _has_ipywidgets():
        raise PKModelError("widgets", widgets, "ipywidgets is not installed: pip install 'pkmodel[notebook]'")
    return Explorer(model, settings, interactive=widgets)


def _model(model: Model | str | None) -> Model:
    if model is None:
        from pkmodel.interfaces.options import DEFAULT_PARAMS

        return load_params(DEFAULT_PARAMS)
    if isinstance(model, str):
        return load_params(model)
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "a pkmodel.Model, a parameter file's name or None")
    if model.n_subjects is not None:
        raise PKModelError("model", repr(model), "one subject (scalar parameters): the explorer draws one curve")
    return model


def _settings(
    model: Model, dose: Any, interval: Any, route: Any, days: Any, loading: Any, missed: Any, crcl: Any, child_pugh: Any
) -> Settings:
    low, high, _ = DOSE_MG
    amounts = {}
    for field, value in (("dose", dose), ("loading", loading)):
        if value is None and field == "loading":
            continue
        amounts[field] = parse_quantity(value, "amount", field=field)
        if not low <= amounts[field] <= high:
            raise PKModelError(field, value, f"between {low} and {high} mg (the explorer's slider)")
    tau = parse_quantity(interval, "time", field="interval", positive=True)
    routes = list(ROUTES) if model.ka is not None else ["iv"]
    if route not in routes:
        raise PKModelError("route", route, f"one of {', '.join(routes)}")
    if isinstance(days, bool) or not isinstance(days, int) or not DAYS[0] <= days <= DAYS[1]:
        raise PKModelError("days", days, f"a whole number of days in [{DAYS[0]}, {DAYS[1]}]")
    if model.populations is None and (crcl is not None or child_pugh is not None):
        raise PKModelError("crcl/child_pugh", (crcl, child_pugh), "None: this model's drug has no population file")
    patient = Patient(crcl=crcl, child_pugh=child_pugh)  # the patient's own checks and words
    if patient.crcl is not None and np.ndim(patient.crcl) != 0:
        raise PKModelError("crcl", crcl, "one value (the explorer draws one patient)")
    clearance = None if patient.crcl is None else float(patient.crcl)
    if clearance is not None and not CRCL_ML_MIN[0] <= clearance <= CRCL_ML_MIN[1]:
        raise PKModelError("crcl", crcl, f"between {CRCL_ML_MIN[0]} and {CRCL_ML_MIN[1]} mL/min (the slider)")
    settings = Settings(amounts["dose"], tau, route, days, amounts.get("loading"), None, clearance, patient.child_pugh)
    n = len(settings.regimen().doses)  # the regimen's own checks run here (limits, interval)
    if missed is not None:
        if isinstance(missed, bool) or not isinstance(missed, int) or not 1 <= missed <= n:
            raise PKModelError("missed", missed, f"the number of one of the {n} doses (1 = first) or None")
        settings = replace(settings, missed=missed)
    return settings


def _reference_crcl(model: Model) -> float:
    return float(load_population_factors(model.populations).crcl_reference)


def _has_ipywidgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _widget_front_end() -> bool:
    """True in a running notebook kernel with ipywidgets installed."""
    if not _has_ipywidgets():
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
