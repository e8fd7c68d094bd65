"""Pictures of a simulation (matplotlib).

Every function takes an optional ``ax`` and returns the :class:`matplotlib.axes.Axes` it drew on.
Without ``ax`` a new figure is made with ``pyplot.subplots``, so that in Jupyter ``concentration_time(sim)``
shows the picture the way every matplotlib user expects; ``ax.figure.savefig("out.png")`` saves
it. The command line draws on a figure of its own (no pyplot state), so it works headless.

Units: time h (shown in days when the simulation spans more than 4 days), concentration mg/L
(= µg/mL).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pkmodel.errors import PKModelError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pkmodel.simulation.simulate import Simulation

TIME_HOURS = "Time (h)"
TIME_DAYS = "Time (days)"
CONCENTRATION = "Concentration (mg/L = µg/mL)"
DAYS_ABOVE_H = 96.0  # a time span longer than this (h) is shown in days
LOG_DECADES = 4  # a log axis shows at most this many decades below the highest concentration


def concentration_time(
    sim: Simulation,
    ax: Axes | None = None,
    *,
    log: bool = False,
    show_doses: bool = True,
    percentiles: Sequence[float] = (5, 50, 95),
    label: str | None = None,
) -> Axes:
    """Plot the central concentration (mg/L) against time.

    One subject: one line. Several subjects: the middle percentile as a line (the median by
    default) and a shaded band between the outer two (5 to 95 % of subjects by default);
    ``percentiles`` is (low, middle, high), in percent.

    The time axis is in hours, or in days when the simulation spans more than 4 days (96 h); when
    ``ax`` already carries a curve with one of those time labels its unit is kept, so curves drawn
    on one ``ax`` share a scale. ``log=True`` uses a logarithmic concentration axis (zero
    concentrations, e.g. before an oral dose is absorbed, are left out, and the axis reaches at
    most 4 decades below the peak). ``show_doses`` marks each nominal dose time with a small tick
    at the bottom. ``label`` names the curve in the legend (default: the model's name).
    The title is the regimen (``str(sim.regimen)``).

    Returns the Axes drawn on (a new figure's when ``ax`` is None).
    """
    low, middle, high = _percentiles(percentiles)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")

    existing = ax.get_xlabel()
    in_days = existing == TIME_DAYS or (existing != TIME_HOURS and np.ptp(sim.times) > DAYS_ABOVE_H)
    scale = 24.0 if in_days else 1.0
    x = np.asarray(sim.times, dtype=float) / scale
    conc = np.asarray(sim.concentration, dtype=float)
    if log:
        conc = np.where(conc > 0, conc, np.nan)
    name = label if label is not None else (sim.model.name or None)

    if conc.shape[0] == 1:
        (line,) = ax.plot(x, conc[0], label=name, gid="concentration")
    else:
        with warnings.catch_warnings():  # all-NaN columns: every subject at zero on a log axis
            warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
            lo, mid, hi = np.nanpercentile(conc, [low, middle, high], axis=0)
        what = "median" if middle == 50 else f"{middle:g}th percentile"
        (line,) = ax.plot(x, mid, label=f"{name}: {what}" if name else what, gid="median")
        ok = np.isfinite(lo) & np.isfinite(hi)
        band = ax.fill_between(
            x,
            np.where(ok, lo, 0),
            np.where(ok, hi, 0),
            where=ok,
            color=line.get_color(),
            alpha=0.25,
            linewidth=0,
            label=f"{low:g}–{high:g} % of {conc.shape[0]} subjects",
        )
        band.set_gid("band")

    if show_doses:
        first = not any(artist.get_gid() == "doses" for artist in ax.get_lines())
        # x in data units, y in axes units: the ticks sit on the bottom edge whatever the y scale.
        doses = sim.regimen.dose_times / scale
        ax.plot(
            doses,
            np.zeros(len(doses)),
            linestyle="none",
            marker=2,
            markersize=8,
            color="0.35",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label="dose" if first else None,
            gid="doses",
        )

    ax.set_xlabel(TIME_DAYS if in_days else TIME_HOURS)
    ax.set_ylabel(CONCENTRATION)
    ax.set_title(str(sim.regimen))
    ax.autoscale(axis="y")  # rescale to every curve on the Axes, including earlier ones
    if log:
        ax.set_yscale("log")
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom=max(bottom, top * 10.0**-LOG_DECADES), auto=None)
    else:
        ax.set_ylim(bottom=0, auto=None)
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small")
    return ax


def _percentiles(percentiles: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(p) for p in percentiles)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(0 <= p <= 100 for p in values) or not values[0] < values[1] < values[2]:
        raise PKModelError("percentiles", percentiles, "expected (low, middle, high) percent, increasing, in 0-100")
    return values
