"""Marks that explain a concentration-time curve: a user-given target range, the AUC over an
interval, Cmax/Cmin/Css/t½, and observed or published points with error bars.

Each function takes an optional ``ax`` (a new figure when None) and returns the Axes; each puts
its numbers in the legend (outside the data) rather than as text over the curves. The numbers are
the simulation's own (:meth:`Simulation.summary`, :meth:`Simulation.auc`, :meth:`Simulation.at`):
nothing is recomputed here. With several subjects the marks show medians over subjects.

Units: time h (the Axes may show days), concentration mg/L, AUC mg·h/L.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.interfaces.style import Style, finish, get_style, new_axes, time_unit
from pkmodel.limits import MAX_CONCENTRATION_MG_L
from pkmodel.units import Kind, format_number, parse_quantity

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pkmodel.simulation.result import Simulation

__all__ = [
    "METRICS", "auc_interval", "draw_metrics", "mark_metrics", "metric_values", "observed_points", "shade_auc",
    "target_band", "target_range",
]

METRICS = ("cmax", "cmin", "css", "t_half")
AUC_POINTS = 400  # points that trace the shaded area (the AUC itself is exact, not a sum of these)


def target_band(
    low: float | str,
    high: float | str,
    ax: Axes | None = None,
    *,
    label: str | None = None,
    color: str = "0.55",
    linestyle: str = "--",
    style: str | Style = "paper",
) -> Axes:
    """Shade the concentration range ``low``–``high`` (mg/L, or strings such as "10 µg/mL"), a
    target the user gives. The default label says so: pkmodel ships no therapeutic window (none
    is established for mildronate), so the band is the user's, never the drug's."""
    lo, hi = target_range(low, high)
    s = get_style(style)
    ax = new_axes(s) if ax is None else ax
    text = label if label is not None else f"target {format_number(lo)}–{format_number(hi)} mg/L (user-given)"
    span = ax.axhspan(lo, hi, facecolor=color, alpha=0.15, edgecolor=color, linestyle=linestyle, zorder=0, label=text)
    span.set_gid("target")
    _refresh(ax, s, time_unit(ax, np.zeros(1)))
    return ax


def shade_auc(
    sim: Simulation,
    start: float | str,
    end: float | str,
    ax: Axes | None = None,
    *,
    label: str | None = None,
    color: str = "0.35",
    style: str | Style = "paper",
) -> Axes:
    """Shade the area under the curve from ``start`` to ``end`` (h, or strings such as "13 d")
    and label it with the exact AUC of :meth:`Simulation.auc` (mg·h/L; the median over subjects
    when there are several, shaded under the median curve)."""
    a, b = auc_interval(start, end)
    s = get_style(style)
    ax = new_axes(s) if ax is None else ax
    value = float(np.median(sim.auc(a, b)))
    # The curve traced with its jumps: at a bolus inside the interval both the left limit and
    # the value after the dose are drawn, left first.
    grid = np.linspace(a, b, AUC_POINTS)
    doses = np.asarray(sim.regimen.dose_times, dtype=float)
    doses = doses[(doses > a) & (doses < b)]
    t = np.concatenate([grid, doses])
    after = np.concatenate([np.ones(grid.size), np.zeros(doses.size)])
    before = np.median(sim.at(doses, left=True), axis=0) if doses.size else np.zeros(0)
    inside = sim.at(grid)
    inside[:, -1] = sim.at([b], left=True)[:, 0]  # a dose at the end adds nothing to the area
    y = np.concatenate([np.median(inside, axis=0), before])
    order = np.lexsort((after, t))
    scale = time_unit(ax, sim.times)
    median = " (median)" if sim.n_subjects > 1 else ""
    hours = f"{format_number(a)}–{format_number(b)} h"
    text = label if label is not None else f"AUC {hours} = {format_number(value)} mg·h/L{median}"
    area = ax.fill_between(t[order] / scale, 0, y[order], facecolor=color, alpha=0.2, hatch="..", linewidth=0, label=text)
    area.set_gid("auc")
    _refresh(ax, s, scale)
    return ax


def mark_metrics(
    sim: Simulation,
    ax: Axes | None = None,
    *,
    which: Sequence[str] = ("cmax", "cmin", "css", "t_half"),
    color: str = "0.2",
    label: str | None = None,
    style: str | Style = "paper",
) -> Axes:
    """Mark ``which`` of: "cmax" (the peak, a marker at Tmax), "cmin" (the trough before the last
    dose, a dotted level), "css" (the average concentration at steady state, a dash-dot level),
    "t_half" (the terminal half-life, drawn as its two points one half-life apart in the washout,
    from :meth:`Simulation.at`). Values from :meth:`Simulation.summary` and the model; each is in
    the legend with its number and unit. ``label`` prefixes those legend entries (e.g. the
    scenario's name). "t_half" needs at least one terminal half-life after the last dose."""
    values = metric_values(sim, which)  # checked before anything is drawn
    return draw_metrics(values, ax, sim=sim, color=color, label=label, style=style)


def metric_values(sim: Simulation, which: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """What :func:`mark_metrics` draws, per mark (medians over subjects): "cmax" (tmax h, cmax
    mg/L), "cmin" and "css" (level mg/L), "t_half" (half-life h, t1 h, t2 h, C(t1), C(t2) mg/L).
    Raises :class:`PKModelError` for a mark the simulation cannot show."""
    bad = [k for k in which if k not in METRICS]
    if bad:
        raise PKModelError("annotate", bad[0], f"allowed: {', '.join(METRICS)}")
    table = sim.summary().median() if set(which) - {"t_half"} else None
    values: dict[str, tuple[float, ...]] = {}
    for kind in which:
        if kind == "cmax" and table is not None:
            values[kind] = (float(table["tmax_h"]), float(table["cmax_mg_L"]))
        elif kind in ("cmin", "css") and table is not None:
            level = float(table["cmin_mg_L" if kind == "cmin" else "cavg_ss_mg_L"])
            if not np.isfinite(level):
                raise PKModelError("annotate", kind, "needs repeated doses (a trough, a dosing interval)")
            values[kind] = (level,)
        elif kind == "t_half":
            values[kind] = _half_life(sim)
    return values


def draw_metrics(
    values: dict[str, tuple[float, ...]],
    ax: Axes | None = None,
    *,
    sim: Simulation,
    color: str = "0.2",
    label: str | None = None,
    style: str | Style = "paper",
) -> Axes:
    """Draw the marks of :func:`metric_values` for ``sim`` (see :func:`mark_metrics`)."""
    s = get_style(style)
    ax = new_axes(s) if ax is None else ax
    scale = time_unit(ax, sim.times)
    prefix = f"{label}: " if label else ""
    median = "median " if sim.n_subjects > 1 else ""
    art: Any
    for kind, v in values.items():
        if kind == "cmax":
            (art,) = ax.plot(
                v[0] / scale, v[1], marker="v", markersize=9, linestyle="none", color=color,
                label=f"{prefix}{median}Cmax {format_number(v[1])} mg/L at {format_number(v[0])} h",
            )
        elif kind in ("cmin", "css"):
            what = "Cmin, trough before last dose" if kind == "cmin" else "Css, steady-state average"
            art = ax.axhline(
                v[0], color=color, linestyle=":" if kind == "cmin" else "-.", linewidth=1.2,
                label=f"{prefix}{median}{what} {format_number(v[0])} mg/L",
            )
        else:
            half, t1, t2, c1, c2 = v
            (art,) = ax.plot(
                [t1 / scale, t2 / scale], [c1, c2], marker="o", markersize=6, linestyle="-", linewidth=1.0,
                color=color,
                label=f"{prefix}terminal t½ {format_number(half)} h: {format_number(c1)} → {format_number(c2)} mg/L",
            )
        art.set_gid(kind)
    _refresh(ax, s, scale)
    return ax


def _half_life(sim: Simulation) -> tuple[float, float, float, float, float]:
    """Two points one terminal half-life apart at the end of the window: the student sees the
    concentration halve (nearly exactly once the distribution phase is over)."""
    half = float(np.median(sim.model.t_half_beta))
    end = float(sim.times[-1])
    doses = np.asarray(sim.regimen.dose_times, dtype=float)
    last = float(doses[doses <= end].max()) if np.any(doses <= end) else float(sim.times[0])
    t1 = end - half
    if t1 < last:
        raise PKModelError(
            "annotate",
            "t_half",
            f"a washout of at least one terminal half-life ({format_number(half)} h) after the last dose: "
            "simulate longer",
        )
    c1, c2 = np.median(sim.at([t1, end]), axis=0)
    return half, t1, end, float(c1), float(c2)


def target_range(low: Any, high: Any) -> tuple[float, float]:
    """(low, high) in mg/L from numbers or strings with units; 0 <= low < high."""
    lo = parse_quantity(low, "concentration", field="target", positive=False)
    hi = parse_quantity(high, "concentration", field="target", positive=True)
    if not lo < hi:
        raise PKModelError("target", (low, high), "(low, high) with low < high, in mg/L")
    if hi > MAX_CONCENTRATION_MG_L:
        raise PKModelError("target", (low, high), f"concentrations up to {MAX_CONCENTRATION_MG_L:g} mg/L (limits.MAX_CONCENTRATION_MG_L)")
    return lo, hi


def auc_interval(start: Any, end: Any) -> tuple[float, float]:
    """(start, end) in h from numbers or strings with units; 0 <= start < end."""
    a = parse_quantity(start, "time", field="auc", positive=False)
    b = parse_quantity(end, "time", field="auc", positive=True)
    if not a < b:
        raise PKModelError("auc", (start, end), "(start, end) in h with start < end")
    return a, b


def observed_points(
    times: Sequence[float | str] | np.ndarray,
    concentrations: Sequence[float | str] | np.ndarray,
    ax: Axes | None = None,
    *,
    yerr: Sequence[float] | np.ndarray | None = None,
    label: str = "observed",
    color: str = "black",
    marker: str = "o",
    linestyle: str = "none",
    style: str | Style = "paper",
) -> Axes:
    """Observed or published concentrations (mg/L, or strings with units) at ``times`` (h, or
    strings with units), with error bars of ``yerr`` (mg/L, e.g. an SD; one per point) when
    given, next to the model's curve."""
    t = _quantities(times, "time", "times")
    c = _quantities(concentrations, "concentration", "concentrations")
    if t.size != c.size or t.size == 0:
        raise PKModelError("concentrations", f"{c.size} values for {t.size} times", "one concentration per time")
    err = None
    if yerr is not None:
        err = _quantities(yerr, "concentration", "yerr")
        if err.size != c.size:
            raise PKModelError("yerr", f"{err.size} values for {c.size} points", "one error per point")
    s = get_style(style)
    ax = new_axes(s) if ax is None else ax
    scale = time_unit(ax, t)
    bars = ax.errorbar(
        t / scale, c, yerr=err, marker=marker, linestyle=linestyle, color=color, capsize=4, markersize=7,
        label=label, zorder=3,
    )
    bars.lines[0].set_gid("observed")
    _refresh(ax, s, scale)
    return ax


def _quantities(values: Any, kind: Kind, field: str) -> np.ndarray:
    """Numbers in the internal unit of ``kind`` from a value or a sequence of numbers and
    strings with units (mixed as a user may write them)."""
    items: list[Any] = [values] if isinstance(values, (str, numbers.Real)) else list(np.asarray(values, dtype=object).ravel())
    return np.array([parse_quantity(v, kind, field=field, positive=False) for v in items], dtype=float)


def _refresh(ax: Axes, s: Style, scale: float) -> None:
    """Labels, y range fitted to what is drawn, and the legend with the new entry."""
    finish(ax, s, log=ax.get_yscale() == "log", scale=scale)
