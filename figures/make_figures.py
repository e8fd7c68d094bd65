"""Regenerate the README's gallery: ``make figures`` (or ``python figures/make_figures.py [DIR]``).

Each figure is drawn with pkmodel's own plot functions on a matplotlib Figure of its own (no
pyplot state, Agg backend) and written as PNG to DIR (default: docs/figures). The numbers come
from the shipped files: the model from params/mildronate.toml, the regimens from the label
library, the observed peak from params/mildronate-targets.toml.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGURES = ("compare-regimens", "annotated-curve", "semilog-two-phases", "variability-band", "renal-impairment")
DRUG = "mildronate"
# Between-subject variability for the band figure: an illustration, not a published estimate
# (no population analysis of mildronate is published): log-normal CL and V1 with these CVs.
SUBJECTS = 200
SEED = 2026


def main(out: str | Path = "docs/figures") -> list[Path]:
    """Write every figure of :data:`FIGURES` to ``out``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FIGURES:
        figure = globals()[name.replace("-", "_")]()
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=figure.dpi)
        written.append(path)
    return written


def _axes(style: str = "paper") -> Axes:
    from matplotlib.figure import Figure

    from pkmodel.interfaces.style import get_style

    s = get_style(style)
    return Figure(figsize=s.figsize, dpi=s.dpi, layout="constrained").add_subplot()


def compare_regimens() -> Figure:
    """Three ways to give a gram a day, side by side, over five days and the washout (slides style)."""
    from pkmodel import Regimen, compare, load_params

    scenarios = {
        "500 mg IV twice daily": Regimen.parse("500 mg IV q12h for 5 days"),
        "500 mg oral twice daily": Regimen.parse("500 mg PO q12h for 5 days"),
        "1 g oral once daily": Regimen.parse("1 g PO q24h for 5 days"),
    }
    result = compare(scenarios, load_params(DRUG), ax=_axes("slides"), style="slides")
    return result.figure


def annotated_curve() -> Figure:
    """The label's IV regimen with its peak, trough and steady-state average, the AUC of one
    interval, and the label's published peak with its SD: the model's peaks are a lower bound."""
    from pkmodel import Regimen, concentration_time, load_params, simulate
    from pkmodel.analysis.calibration_targets import load_targets
    from pkmodel.interfaces.annotate import observed_points

    regimen = Regimen.parse("500 mg IV q12h for 5 days")
    sim = simulate(load_params(DRUG), regimen)
    last = float(regimen.dose_times[-1])
    ax = concentration_time(
        sim, ax=_axes(), label="model", annotate=("cmax", "cmin", "css"), auc=(last - 12.0, last)
    )
    peak = next(t for t in load_targets(f"{DRUG}-targets") if t.metric == "cmax_ss" and t.route == "iv")
    observed_points([last], [peak.mean], ax=ax, yerr=[peak.sd], label=f"published Cmax, mean ± SD ({peak.unit})")
    return ax.figure  # type: ignore[return-value]


def semilog_two_phases() -> Figure:
    """One IV dose on a semi-log axis: the fast distribution phase, then the terminal half-life."""
    from pkmodel import Regimen, concentration_time, load_params, simulate

    sim = simulate(load_params(DRUG), Regimen.single("500 mg", route="iv"))
    ax = concentration_time(sim, ax=_axes(), log=True, label="500 mg IV, once", annotate=("cmax", "t_half"))
    return ax.figure  # type: ignore[return-value]


def variability_band() -> Figure:
    """Median and 5-95 % band of 200 simulated patients, with the between-subject variability
    the drug's parameter file declares (its [variability] table, a named assumption there)."""
    from pkmodel import Population, Regimen, band, load_params, simulate

    model = load_params(DRUG)
    population = Population(SUBJECTS, variability=DRUG, seed=SEED)
    sim = simulate(model, Regimen.parse("500 mg PO q12h for 7 days"), population=population)
    ax = band(sim, (0.05, 0.5, 0.95), ax=_axes(), label="500 mg oral twice daily")
    assert population.variability is not None
    cvs = ", ".join(f"{name} {cv:.0f} %" for name, cv in population.variability.cv.items())
    ax.set_title(f"{SUBJECTS} simulated patients\nbetween-subject CV: {cvs}")
    return ax.figure  # type: ignore[return-value]


def renal_impairment() -> Figure:
    """The same regimen in normal, moderately and severely impaired renal function; the label
    contraindicates the last, and the figure says so."""
    from pkmodel import Patient, Regimen, compare, load_params

    regimen = Regimen.parse("500 mg IV q12h for 7 days")
    scenarios = {
        "normal renal function": regimen,
        "CrCL 45 mL/min": (regimen, Patient(crcl="45 mL/min")),
        "CrCL 20 mL/min": (regimen, Patient(crcl="20 mL/min")),
    }
    return compare(scenarios, load_params(DRUG), ax=_axes()).figure


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a figure that warns is a figure to fix
        for written in main(*sys.argv[1:2]):
            print(f"wrote {written}")
