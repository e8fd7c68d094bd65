"""How pkmodel's figures look: the colour-blind-safe palette, line styles, the two styles
("paper" and "slides"), the time axis (hours, or days with whole-day ticks) and the legend
placed outside the data.

matplotlib is imported inside the functions that need it, so importing this module (which
``import pkmodel`` does) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pkmodel.errors import PKModelError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008), in the order curves
#: take it: blue, vermillion, bluish green, reddish purple, orange, sky blue, black. Yellow is
#: left out: it is invisible on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
#: Line styles cycled with the palette (so curves differ in greyscale too). Dotted is kept for
#: scenarios a label warning flags.
LINESTYLES = ("-", "--", "-.")
FLAGGED_LINESTYLE = ":"

TIME_HOURS = "Time (h)"
TIME_DAYS = "Time (days)"
CONCENTRATION = "Concentration (mg/L = µg/mL)"
DAYS_ABOVE_H = 96.0  # a time span longer than this (h) is shown in days
LOG_DECADES = 4  # a log axis shows at most this many decades below the highest concentration


@dataclass(frozen=True)
class Style:
    """Sizes of one figure style: fonts in points, line width in points, figure size in inches,
    resolution in dots per inch (for saving and for figures pkmodel creates)."""

    name: str
    font: float
    small: float
    linewidth: float
    figsize: tuple[float, float]
    dpi: float


STYLES = {
    "paper": Style("paper", font=10.0, small=8.5, linewidth=1.6, figsize=(7.0, 4.2), dpi=150.0),
    # For a lecture hall: text readable from the back row, thick lines, a sharp 2400-px PNG.
    "slides": Style("slides", font=18.0, small=15.0, linewidth=3.0, figsize=(12.0, 6.75), dpi=200.0),
}


def get_style(style: str | Style) -> Style:
    """The :class:`Style` called ``style`` ("paper" or "slides"), or ``style`` itself."""
    if isinstance(style, Style):
        return style
    if not isinstance(style, str) or style not in STYLES:
        raise PKModelError("style", style, f"allowed: {', '.join(STYLES)}")
    return STYLES[style]


def new_axes(style: str | Style = "paper") -> Axes:
    """A new figure's Axes in ``style``, made with pyplot so that Jupyter shows it."""
    import matplotlib.pyplot as plt

    s = get_style(style)
    _, ax = plt.subplots(figsize=s.figsize, dpi=s.dpi, layout="constrained")
    return ax


def apply_style(ax: Axes, style: str | Style) -> None:
    """Set the fonts of ``ax``'s title, labels and ticks to ``style``."""
    s = get_style(style)
    ax.title.set_fontsize(s.font)
    ax.xaxis.label.set_fontsize(s.font)
    ax.yaxis.label.set_fontsize(s.font)
    ax.tick_params(labelsize=s.small)


def place_legend(ax: Axes, style: str | Style = "paper") -> None:
    """A legend to the right of the axes, outside the data (constrained layout makes room), with
    the dose marks' entry last so that it never sits between two curves. No legend when nothing
    is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    from matplotlib.lines import Line2D

    last = [i for i, h in enumerate(handles) if getattr(h, "get_gid", lambda: None)() == "doses"]
    order = [i for i in range(len(handles)) if i not in last] + last
    # The dose entry stands for every curve's row of marks: grey, not the first curve's colour.
    neutral = Line2D([], [], linestyle="none", marker=2, markersize=8, markeredgewidth=1.5, color="0.35")
    ax.legend(
        [neutral if i in last else handles[i] for i in order],
        [labels[i] for i in order],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=get_style(style).small,
        frameon=False,
    )


def time_unit(ax: Axes, times: np.ndarray) -> float:
    """Hours per x unit on ``ax``: 24 (days) or 1 (hours). An Axes already labelled keeps its
    unit, so curves drawn on one Axes share a scale; otherwise days when ``times`` spans more than
    4 days (96 h)."""
    existing = ax.get_xlabel()
    if existing in (TIME_DAYS, TIME_HOURS):
        return 24.0 if existing == TIME_DAYS else 1.0
    return 24.0 if np.ptp(np.asarray(times, dtype=float)) > DAYS_ABOVE_H else 1.0


def label_time_axis(ax: Axes, scale: float) -> None:
    """Label the x axis in hours or days; in days the major ticks fall on whole days (every 1, 2,
    5, 7, 14 ... days, never at 2.5 days)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(TIME_DAYS if scale == 24.0 else TIME_HOURS)
    # Hours: multiples of 1, 2, 3, 6, 12 or 24 h; days: of 1, 2, 5, 7 or 10 days.
    steps = [1, 2, 5, 7, 10] if scale == 24.0 else [1, 1.2, 2, 3, 6, 10]
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=steps, integer=scale == 24.0, min_n_ticks=3))


def finish(ax: Axes, style: str | Style, *, log: bool, scale: float) -> None:
    """Axis labels with units, y range (from 0, or at most 4 decades on a log axis), grid,
    fonts of ``style`` and the legend outside the data."""
    label_time_axis(ax, scale)
    ax.set_ylabel(CONCENTRATION)
    ax.autoscale(axis="y")  # rescale to every curve on the Axes, including earlier ones
    if log:
        ax.set_yscale("log")
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom=max(bottom, top * 10.0**-LOG_DECADES), auto=None)
    elif ax.get_yscale() == "linear":
        ax.set_ylim(bottom=0, auto=None)
    ax.grid(True, alpha=0.3)
    apply_style(ax, style)
    place_legend(ax, style)
