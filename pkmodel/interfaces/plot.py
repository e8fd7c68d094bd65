"""Pictures of a simulation (matplotlib): the concentration-time curve and variability bands.

Every function takes an optional ``ax`` and returns the :class:`matplotlib.axes.Axes` it drew on.
Without ``ax`` a new figure is made with ``pyplot.subplots``, so that in Jupyter ``concentration_time(sim)``
shows the picture the way every matplotlib user expects; ``ax.figure.savefig("out.png")`` saves
it. The command line draws on a figure of its own (no pyplot state), so it works headless.
Annotations (target band, AUC shading, Cmax/Cmin/Css/t½ marks, observed points) are in
:mod:`pkmodel.interfaces.annotate`; colours, styles and the time axis in
:mod:`pkmodel.interfaces.style`.

Units: time h (shown in days when the simulation spans more than 4 days), concentration mg/L
(= µg/mL).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.interfaces import annotate as marks
from pkmodel.interfaces.style import (
    CONCENTRATION,
    FLAGGED_LINESTYLE,
    LINESTYLES,
    LOG_DECADES,
    PALETTE,
    STYLES,
    TIME_DAYS,
    TIME_HOURS,
    Style,
    finish,
    get_style,
    new_axes,
    time_unit,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pkmodel.simulation.result import Simulation

__all__ = [
    "CONCENTRATION", "LOG_DECADES", "TIME_DAYS", "TIME_HOURS", "Percentiles", "band", "concentration_time", "dose_marks",
]

CURVES = ("concentration", "median")  # gids of the curves drawn here (one subject; several)
DOSE_ROW_PT = 9.0  # each further curve's dose marks sit this many points above the previous row
# The title each Axes got automatically (the regimen), to tell it from a title the user set.
_AUTO_TITLE: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


@runtime_checkable
class Percentiles(Protocol):
    """Percentile curves computed elsewhere (e.g. by a population simulation): ``times`` (h,
    shape (n_times,)) and ``percentiles``, a mapping quantile (0–1) -> concentrations (mg/L,
    shape (n_times,))."""

    times: np.ndarray
    percentiles: Mapping[float, np.ndarray]


def concentration_time(
    sim: Simulation,
    ax: Axes | None = None,
    *,
    log: bool = False,
    show_doses: bool = True,
    percentiles: Sequence[float] = (5, 50, 95),
    label: str | None = None,
    color: str | None = None,
    linestyle: str | None = None,
    flag: str | None = None,
    target: tuple[Any, Any] | None = None,
    auc: tuple[Any, Any] | None = None,
    annotate: str | Sequence[str] = (),
    style: str | Style = "paper",
    title: str | None = None,
) -> Axes:
    """Plot the central concentration (mg/L) against time.

    One subject: one line. Several subjects: the middle percentile as a line (the median by
    default) and a shaded band between the outer two (5 to 95 % of subjects by default);
    ``percentiles`` is (low, middle, high), in percent (see also :func:`band`).

    The time axis is in hours, or in days with whole-day ticks when the simulation spans more
    than 4 days (96 h); when ``ax`` already carries a time label its unit is kept, so curves drawn
    on one ``ax`` share a scale. ``log=True`` uses a logarithmic concentration axis (semi-log: zero
    concentrations, e.g. before an oral dose is absorbed, are left out, and the axis reaches at
    most 4 decades below the peak). ``show_doses`` marks each dose time inside the simulated
    window with a small tick at the bottom, in the curve's colour, one row per curve.

    ``label`` names the curve in the legend (default: the model's name); ``color`` and
    ``linestyle`` default to the next colour of the colour-blind-safe palette and the next line
    style. ``flag`` (e.g. "contraindicated") marks a scenario a label warning flags: a dotted
    line (unless ``linestyle`` is given) and "(label: <flag>)" after its label. The legend sits
    outside the data, to the right.

    Annotations, drawn by :mod:`pkmodel.interfaces.annotate`: ``target`` = (low, high) mg/L (or
    strings with units) shades a user-given target range; ``auc`` = (start, end) h shades the
    area under the curve over that interval, labelled with the exact AUC of :meth:`Simulation.auc`;
    ``annotate`` names marks among "cmax", "cmin", "css", "t_half".

    ``style``: "paper" or "slides" (large fonts, thick lines; a new figure at 200 dpi).
    ``title``: the title; by default the regimen, for the first curve on the Axes only (an
    overlay of another regimen clears the automatic title: the legend tells the curves apart).

    Returns the Axes drawn on (a new figure's when ``ax`` is None).
    """
    quantiles = tuple(p / 100 for p in _percentiles(percentiles))
    s = get_style(style)
    # Every annotation is checked (and computed) before anything is drawn.
    values = marks.metric_values(sim, _annotations(annotate))
    target = None if target is None else marks.target_range(*_pair(target, "target"))
    auc = None if auc is None else marks.auc_interval(*_pair(auc, "auc"))
    if ax is None:
        ax = new_axes(s)
    scale = time_unit(ax, sim.times)
    fresh = not any(line.get_gid() in CURVES for line in ax.get_lines())
    name = label if label is not None else (sim.model.name or None)
    conc = np.asarray(sim.concentration, dtype=float)
    if conc.shape[0] == 1:
        color, linestyle, name = _look(ax, color, linestyle, flag, name)
        x = np.asarray(sim.times, dtype=float) / scale
        y = np.where(conc[0] > 0, conc[0], np.nan) if log else conc[0]
        ax.plot(x, y, color=color, linestyle=linestyle, linewidth=s.linewidth, label=name, gid="concentration")
    else:
        lo, mid, hi = _quantiles_of(conc, quantiles, log)
        color = _draw_band(
            ax, sim.times, (lo, mid, hi), quantiles, s, name=name, color=color, linestyle=linestyle,
            flag=flag, subjects=conc.shape[0],
        )
    if show_doses:
        dose_marks(sim, ax, color=color, style=s)
    if title is not None:
        ax.set_title(title)
    else:
        _auto_title(ax, str(sim.regimen), fresh)
    finish(ax, s, log=log, scale=scale)
    if target is not None:
        marks.target_band(target[0], target[1], ax=ax, style=s)
    if auc is not None:
        marks.shade_auc(sim, auc[0], auc[1], ax=ax, color=color, style=s)
    if values:
        marks.draw_metrics(values, ax, sim=sim, color=color, style=s)
    return ax


def band(
    result: Simulation | Percentiles,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
    ax: Axes | None = None,
    *,
    log: bool = False,
    show_doses: bool = True,
    label: str | None = None,
    color: str | None = None,
    linestyle: str | None = None,
    flag: str | None = None,
    style: str | Style = "paper",
) -> Axes:
    """Median (or the middle quantile) as a line and the outer two quantiles as a shaded band.

    ``result``: a :class:`Simulation` with several subjects (array parameters, one row per
    subject; the quantiles are taken over subjects at each time with numpy), or any object with
    ``times`` (h) and ``percentiles``, a mapping quantile (0–1) -> concentrations (mg/L) holding the
    three ``quantiles`` (see :class:`Percentiles`). ``quantiles``: (low, middle, high), fractions in
    0–1, increasing. The other arguments as for :func:`concentration_time` (dose marks need a
    Simulation). Returns the Axes drawn on.
    """
    q = _percentiles([100 * float(v) for v in _fractions(quantiles)])
    fractions = tuple(p / 100 for p in q)
    s = get_style(style)
    if ax is None:
        ax = new_axes(s)
    from pkmodel.simulation.result import Simulation

    if isinstance(result, Simulation):
        times = np.asarray(result.times, dtype=float)
        conc = np.asarray(result.concentration, dtype=float)
        curves = _quantiles_of(conc, fractions, log)
        subjects: int | None = conc.shape[0]
        name = label if label is not None else (result.model.name or None)
    else:
        times, curves = _given_quantiles(result, fractions, log)
        subjects = getattr(result, "n_subjects", None)
        name = label
    scale = time_unit(ax, times)
    color = _draw_band(
        ax, times, curves, fractions, s, name=name, color=color, linestyle=linestyle, flag=flag, subjects=subjects
    )
    if show_doses and isinstance(result, Simulation):
        dose_marks(result, ax, color=color, style=s)
    finish(ax, s, log=log, scale=scale)
    return ax


def dose_marks(sim: Simulation, ax: Axes, *, color: str = "0.35", style: str | Style = "paper") -> Axes:
    """Ticks at the bottom of ``ax`` at each dose time inside the simulated window (nominal
    times, h), one row per call so that each curve's doses have their own row; clipped to the
    axes, so a zoomed x range shows only its own doses. The first row is labelled "dose".
    The ticks grow with the style's fonts."""
    rows = [line for line in ax.get_lines() if line.get_gid() == "doses"]
    size = get_style(style).font / STYLES["paper"].font
    scale = time_unit(ax, sim.times)
    t = np.asarray(sim.regimen.dose_times, dtype=float)
    t = t[(t >= sim.times[0]) & (t <= sim.times[-1])]
    from matplotlib.transforms import ScaledTranslation

    # x in data units, y in axes units: the ticks sit on the bottom edge whatever the y scale.
    shift = ScaledTranslation(0.0, len(rows) * size * DOSE_ROW_PT / 72.0, ax.figure.dpi_scale_trans)
    ax.plot(
        t / scale,
        np.zeros(len(t)),
        linestyle="none",
        marker=2,
        markersize=8 * size,
        markeredgewidth=1.5 * size,
        color=color,
        transform=ax.get_xaxis_transform() + shift,
        clip_on=True,
        label=None if rows else "dose",
        gid="doses",
    )
    return ax


def _look(
    ax: Axes, color: str | None, linestyle: str | None, flag: str | None, name: str | None
) -> tuple[str, str, str | None]:
    """Colour, line style and legend label of the next curve on ``ax``."""
    k = sum(1 for line in ax.get_lines() if line.get_gid() in CURVES)
    color = color if color is not None else PALETTE[k % len(PALETTE)]
    if linestyle is None:
        linestyle = FLAGGED_LINESTYLE if flag else LINESTYLES[k % len(LINESTYLES)]
    if flag:
        name = f"{name or 'scenario'} (label: {flag})"
    return color, linestyle, name


def _draw_band(
    ax: Axes,
    times: np.ndarray,
    curves: tuple[np.ndarray, np.ndarray, np.ndarray],
    fractions: tuple[float, ...],
    s: Style,
    *,
    name: str | None,
    color: str | None,
    linestyle: str | None,
    flag: str | None,
    subjects: int | None,
) -> str:
    """The middle curve (gid "median") and the band between the outer two (gid "band"); returns
    the colour used. A flagged scenario's band is hatched as well."""
    low, middle, high = (100 * f for f in fractions)
    color, linestyle, name = _look(ax, color, linestyle, flag, name)
    x = np.asarray(times, dtype=float) / time_unit(ax, times)
    lo, mid, hi = curves
    what = "median" if np.isclose(middle, 50) else f"{middle:g}th percentile"
    ax.plot(
        x, mid, color=color, linestyle=linestyle, linewidth=s.linewidth,
        label=f"{name}: {what}" if name else what, gid="median",
    )
    ok = np.isfinite(lo) & np.isfinite(hi)
    who = f" of {subjects} subjects" if subjects else ""
    shade = ax.fill_between(
        x,
        np.where(ok, lo, 0),
        np.where(ok, hi, 0),
        where=ok,
        facecolor=color,
        alpha=0.25,
        linewidth=0,
        hatch="//" if flag else None,
        label=f"{low:g}–{high:g} %{who}",
    )
    shade.set_gid("band")
    return color


def _quantiles_of(conc: np.ndarray, fractions: Sequence[float], log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quantiles over subjects (rows) at each time; on a log axis zeros are left out."""
    values = np.where(conc > 0, conc, np.nan) if log else conc
    with warnings.catch_warnings():  # all-NaN columns: every subject at zero on a log axis
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        lo, mid, hi = np.nanpercentile(values, [100 * f for f in fractions], axis=0)
    return lo, mid, hi


def _given_quantiles(
    result: Any, fractions: Sequence[float], log: bool
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``times`` (or ``times_h``) and the three quantile curves of a :class:`Percentiles` object."""
    times = getattr(result, "times", getattr(result, "times_h", None))
    table = getattr(result, "percentiles", None)
    if times is None or not isinstance(table, Mapping):
        raise PKModelError(
            "result", type(result).__name__, "a Simulation, or an object with times (h) and a percentiles mapping"
        )
    times = np.asarray(times, dtype=float)
    keys = [float(k) for k in table]
    curves = []
    for f in fractions:
        match = [k for k in table if np.isclose(float(k), f, rtol=0, atol=1e-9)]
        if not match:
            raise PKModelError("quantiles", f, f"one of the result's quantiles: {', '.join(f'{k:g}' for k in keys)}")
        y = np.asarray(table[match[0]], dtype=float)
        if y.shape != times.shape:
            raise PKModelError("percentiles", f"{y.shape} values for quantile {f:g}", f"{times.shape} (one per time)")
        curves.append(np.where(y > 0, y, np.nan) if log else y)
    return times, (curves[0], curves[1], curves[2])


def _auto_title(ax: Axes, text: str, fresh: bool) -> None:
    """The regimen as title on a fresh Axes; an overlay of another regimen clears that automatic
    title (never one the user set)."""
    current = ax.get_title()
    if current == "" and fresh:
        ax.set_title(text)
        _AUTO_TITLE[ax] = text
    elif current and current == _AUTO_TITLE.get(ax) and current != text:
        ax.set_title("")
        _AUTO_TITLE[ax] = ""


def _annotations(annotate: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(annotate, str):
        return (annotate,)
    try:
        return tuple(annotate)
    except TypeError:
        raise PKModelError("annotate", annotate, f"a name or a sequence of: {', '.join(marks.METRICS)}") from None


def _pair(value: Any, field: str) -> tuple[Any, Any]:
    if isinstance(value, str) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise PKModelError(field, value, "a pair (low, high) or (start, end)")
    return value[0], value[1]


def _fractions(quantiles: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(q) for q in quantiles)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(0 <= q <= 1 for q in values) or not values[0] < values[1] < values[2]:
        raise PKModelError("quantiles", quantiles, "expected (low, middle, high) fractions, increasing, in 0-1")
    return values


def _percentiles(percentiles: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(p) for p in percentiles)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(0 <= p <= 100 for p in values) or not values[0] < values[1] < values[2]:
        raise PKModelError("percentiles", percentiles, "expected (low, middle, high) percent, increasing, in 0-100")
    return values
