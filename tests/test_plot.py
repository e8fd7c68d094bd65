"""pkmodel.interfaces.plot: what is drawn, on which Axes, with which units."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")  # headless; the plot module itself never touches pyplot

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.interfaces.plot import CONCENTRATION, TIME_DAYS, TIME_HOURS, concentration_time

ONE = Model(cl=5.7, v1=60, q=0.61, v2=11.2, ka=2.0, f=0.78, name="test drug")
POPULATION = ONE.replace(cl=np.linspace(3.0, 9.0, 25), v1=np.linspace(45.0, 75.0, 25)[::-1])
TWICE_DAILY = Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")
ORAL_ONCE = Regimen.single("500 mg", route="oral")


def gids(ax, kind="lines"):
    return {artist.get_gid(): artist for artist in getattr(ax, kind)}


def test_single_subject_is_one_line_with_units_title_and_dose_ticks():
    sim = simulate(ONE, TWICE_DAILY)
    ax = concentration_time(sim)
    assert isinstance(ax.figure, Figure)
    line = gids(ax)["concentration"]
    # 14 days of dosing: the time axis is in days, and the curve is the simulation itself
    assert ax.get_xlabel() == TIME_DAYS == "Time (days)"
    np.testing.assert_array_equal(line.get_xdata(), sim.times / 24)
    np.testing.assert_array_equal(line.get_ydata(), sim.concentration[0])
    assert ax.get_ylabel() == CONCENTRATION and "mg/L" in ax.get_ylabel() and "µg/mL" in ax.get_ylabel()
    assert ax.get_title() == str(TWICE_DAILY)
    doses = gids(ax)["doses"]
    np.testing.assert_array_equal(doses.get_xdata(), TWICE_DAILY.dose_times / 24)
    assert ax.get_ylim()[0] == 0
    assert not ax.collections  # no band for one subject
    assert "test drug" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_short_simulation_is_in_hours_and_doses_can_be_hidden():
    sim = simulate(ONE, ORAL_ONCE)
    assert sim.times[-1] - sim.times[0] <= 96
    ax = concentration_time(sim, show_doses=False, label="500 mg capsule")
    assert ax.get_xlabel() == TIME_HOURS == "Time (h)"
    np.testing.assert_array_equal(gids(ax)["concentration"].get_xdata(), sim.times)
    assert "doses" not in gids(ax)
    assert gids(ax)["concentration"].get_label() == "500 mg capsule"


def test_several_subjects_draw_a_median_line_and_a_percentile_band():
    sim = simulate(POPULATION, TWICE_DAILY)
    assert sim.concentration.shape[0] == 25
    ax = concentration_time(sim)
    median = gids(ax)["median"]
    np.testing.assert_allclose(median.get_ydata(), np.median(sim.concentration, axis=0), rtol=1e-12)
    band = gids(ax, "collections")["band"]
    assert isinstance(band, PolyCollection)
    # the band spans the 5th to the 95th percentile
    y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    lo, hi = np.percentile(sim.concentration, [5, 95], axis=0)
    assert y.min() == pytest.approx(lo.min(), rel=1e-12)
    assert y.max() == pytest.approx(hi.max(), rel=1e-12)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("median" in t for t in labels) and any("5–95 %" in t and "25 subjects" in t for t in labels)


def test_percentiles_are_configurable_and_checked():
    sim = simulate(POPULATION, TWICE_DAILY)
    ax = concentration_time(sim, percentiles=(25, 50, 75))
    y = np.concatenate([p.vertices[:, 1] for p in gids(ax, "collections")["band"].get_paths()])
    lo, hi = np.percentile(sim.concentration, [25, 75], axis=0)
    assert y.min() == pytest.approx(lo.min()) and y.max() == pytest.approx(hi.max())
    for bad in [(5, 95), (95, 50, 5), (5, 50, 150), "5-95"]:
        with pytest.raises(PKModelError, match="percentiles"):
            concentration_time(sim, percentiles=bad)


def test_log_axis_ignores_zero_concentrations():
    sim = simulate(ONE, ORAL_ONCE)
    assert sim.concentration[0, 0] == 0  # nothing absorbed at t = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = concentration_time(sim, log=True)
        oral_daily = Regimen.repeated("500 mg", "24 h", n_doses=3, route="oral")
        pop = concentration_time(simulate(POPULATION, oral_daily), log=True)
    assert ax.get_yscale() == "log" and pop.get_yscale() == "log"
    y = gids(ax)["concentration"].get_ydata()
    assert np.isnan(y[0]) and np.all(y[1:] > 0)
    bottom, top = ax.get_ylim()
    assert 0 < bottom and top >= sim.concentration.max()
    assert bottom >= top * 1e-4 * 0.999  # at most four decades below the top of the axis
    ax.figure.savefig(io.BytesIO(), format="png")  # a log axis with NaN draws without error


def test_an_existing_ax_is_drawn_on_and_returned():
    fig = Figure()
    ax = fig.add_subplot()
    normal = simulate(ONE, TWICE_DAILY)
    renal = simulate(ONE.replace(cl=2.0), TWICE_DAILY)
    assert concentration_time(normal, ax=ax, label="normal") is ax
    assert concentration_time(renal, ax=ax, label="renal failure", log=False) is ax
    assert fig.axes == [ax]
    lines = [line for line in ax.get_lines() if line.get_gid() == "concentration"]
    assert len(lines) == 2
    # the y-axis is rescaled to the higher second curve, and the dose ticks are in the legend once
    assert ax.get_ylim()[1] >= renal.concentration.max()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("dose") == 1 and "normal" in labels and "renal failure" in labels


def test_overlay_keeps_the_time_unit_of_the_axes():
    ax = concentration_time(simulate(ONE, TWICE_DAILY))  # days
    short = simulate(ONE, ORAL_ONCE)  # would be hours on its own
    concentration_time(short, ax=ax)
    assert ax.get_xlabel() == TIME_DAYS
    last = [line for line in ax.get_lines() if line.get_gid() == "concentration"][-1]
    np.testing.assert_array_equal(last.get_xdata(), short.times / 24)


def test_simulation_plot_delegates_and_saves_headless():
    ax = concentration_time(simulate(ONE, ORAL_ONCE), log=True)
    assert ax.get_yscale() == "log"
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG\r\n\x1a\n")
