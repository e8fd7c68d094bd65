"""pkmodel.interfaces.plot: what is drawn, on which Axes, with which units."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")  # headless; the plot module itself never touches pyplot

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.interfaces import annotate
from pkmodel.interfaces.plot import CONCENTRATION, TIME_DAYS, TIME_HOURS, band, concentration_time, dose_marks
from pkmodel.interfaces.style import PALETTE
from pkmodel.units import format_number

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
    # issue 11: the dose entry comes after the curves, never between them
    assert labels[-1] == "dose"


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


# --- issue 11: colours, dose marks, legend, time ticks, styles ----------------------------------

# Okabe & Ito (2008), "Color Universal Design": the colour-blind-safe palette, written out here
# independently of the package.
OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
# One compartment, IV bolus: C(t) = D/V e^(-kt), k = CL/V; every mark below has a closed form.
CL, V, D = 5.0, 50.0, 500.0
K = CL / V
BOLUS = Model(cl=CL, v1=V, name="one compartment")


def fresh_ax():
    return Figure(layout="constrained").add_subplot()


def curves(ax):
    return [line for line in ax.get_lines() if line.get_gid() in ("concentration", "median")]


def test_every_plot_function_draws_on_the_given_axes_and_returns_it():
    sim = simulate(BOLUS, Regimen.repeated("500 mg", "12 h", n_doses=6, route="iv"))
    pop = simulate(POPULATION, ORAL_ONCE)
    ax = fresh_ax()
    assert concentration_time(sim, ax=ax) is ax
    assert dose_marks(sim, ax) is ax
    assert annotate.target_band(5, 10, ax=ax) is ax
    assert annotate.shade_auc(sim, 0, 12, ax=ax) is ax
    assert annotate.mark_metrics(sim, ax=ax) is ax
    assert annotate.observed_points([1, 2], [9.0, 8.0], ax=ax, yerr=[1, 1]) is ax
    other = fresh_ax()
    assert band(pop, ax=other) is other
    for a in (ax, other):
        assert a.get_xlabel() in (TIME_HOURS, TIME_DAYS) and "(h)" in TIME_HOURS and "(days)" in TIME_DAYS
        assert a.get_ylabel() == CONCENTRATION and "mg/L" in a.get_ylabel()
        assert a.figure.axes == [a]


def test_curves_take_the_colour_blind_safe_palette_and_distinct_line_styles():
    ax = fresh_ax()
    for cl in (3.0, 5.0, 7.0, 9.0):
        concentration_time(simulate(ONE.replace(cl=cl), ORAL_ONCE), ax=ax, label=f"CL {cl}")
    lines = curves(ax)
    colours = [line.get_color().upper() for line in lines]
    assert set(colours) <= OKABE_ITO and len(set(colours)) == 4
    assert set(PALETTE) <= {c.upper() for c in OKABE_ITO} and "#F0E442" not in PALETTE  # no yellow on white
    assert len({line.get_linestyle() for line in lines[:3]}) == 3
    # a colour and a style given are used as given
    concentration_time(simulate(ONE, ORAL_ONCE), ax=ax, color="#000000", linestyle=":", label="given")
    assert curves(ax)[-1].get_color() == "#000000" and curves(ax)[-1].get_linestyle() == ":"


def test_dose_marks_are_limited_to_the_window_clipped_and_one_row_per_curve():
    regimen = Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")
    last_two_days = np.linspace(12 * 24, 14 * 24, 97)
    ax = fresh_ax()
    concentration_time(simulate(BOLUS, regimen, last_two_days), ax=ax)
    concentration_time(simulate(BOLUS.replace(cl=2.5), regimen, last_two_days), ax=ax)
    rows = [line for line in ax.get_lines() if line.get_gid() == "doses"]
    assert len(rows) == 2
    expected = regimen.dose_times[(regimen.dose_times >= 288) & (regimen.dose_times <= 336)]
    assert len(expected) == 4  # 288, 300, 312, 324 h
    for row, curve in zip(rows, curves(ax)):
        np.testing.assert_array_equal(row.get_xdata(), expected)  # hours: a 2-day window
        assert row.get_clip_on() and row.get_color() == curve.get_color()
    ax.set_xlim(300, 320)
    ax.figure.canvas.draw()
    assert rows[0].get_clip_box().bounds == ax.bbox.bounds  # a zoom hides the marks outside it
    # the second row sits above the first (in display space)
    y0, y1 = (row.get_transform().transform((300.0, 0.0))[1] for row in rows)
    assert y1 > y0


def test_legend_sits_outside_the_data_area():
    ax = fresh_ax()
    concentration_time(simulate(ONE, TWICE_DAILY), ax=ax, label="a", target=(5, 10), annotate=("cmax",))
    concentration_time(simulate(ONE.replace(cl=3.0), TWICE_DAILY), ax=ax, label="b")
    ax.figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    data = ax.get_window_extent()
    assert legend.x0 >= data.x1 or legend.y1 <= data.y0 or legend.y0 >= data.y1 or legend.x1 <= data.x0


def test_long_runs_have_whole_day_ticks():
    ax = concentration_time(simulate(ONE, Regimen.repeated("500 mg", "12 h", over="10 d", route="iv")), ax=fresh_ax())
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ax.get_xlabel() == TIME_DAYS and len(ticks) >= 3
    assert all(float(t).is_integer() for t in ticks)


def test_slides_style_has_large_fonts_thick_lines_and_high_resolution():
    sim = simulate(ONE, ORAL_ONCE)
    paper = concentration_time(sim, ax=fresh_ax())
    slides = concentration_time(sim, style="slides")
    assert slides.figure.dpi >= 200 and slides.xaxis.label.get_fontsize() >= 18
    assert slides.xaxis.label.get_fontsize() > paper.xaxis.label.get_fontsize()
    assert curves(slides)[0].get_linewidth() > curves(paper)[0].get_linewidth()
    with pytest.raises(PKModelError, match="style"):
        concentration_time(sim, style="poster")


def test_a_flagged_scenario_is_dotted_and_says_so():
    ax = concentration_time(simulate(ONE, ORAL_ONCE), ax=fresh_ax(), label="CrCL 10", flag="contraindicated")
    line = curves(ax)[0]
    assert line.get_linestyle() == ":" and line.get_label() == "CrCL 10 (label: contraindicated)"
    pop = concentration_time(simulate(POPULATION, ORAL_ONCE), ax=fresh_ax(), label="pop", flag="caution")
    assert gids(pop, "collections")["band"].get_hatch() == "//"


def test_title_is_the_regimen_for_one_curve_and_cleared_by_an_overlay_of_another():
    ax = concentration_time(simulate(ONE, TWICE_DAILY), ax=fresh_ax())
    concentration_time(simulate(ONE.replace(cl=3.0), TWICE_DAILY), ax=ax)
    assert ax.get_title() == str(TWICE_DAILY)  # same regimen: the title still holds
    concentration_time(simulate(ONE, Regimen.repeated("1 g", "24 h", over="14 d", route="iv")), ax=ax)
    assert ax.get_title() == ""  # it would name one curve's regimen only
    own = fresh_ax()
    own.set_title("my lecture")
    concentration_time(simulate(ONE, TWICE_DAILY), ax=own)
    concentration_time(simulate(ONE, ORAL_ONCE), ax=own)
    assert own.get_title() == "my lecture"


# --- annotations, against closed forms ---------------------------------------------------------


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_target_band_is_user_given_with_units():
    ax = concentration_time(simulate(BOLUS, Regimen.single("500 mg", route="iv")), ax=fresh_ax(), target=("5 µg/mL", 12))
    span = gids(ax, "patches")["target"]
    ys = span.get_transform().transform(span.get_path().vertices)[:, 1]
    lo, hi = ax.transData.transform([(0, 5.0), (0, 12.0)])[:, 1]
    assert min(ys) == pytest.approx(lo) and max(ys) == pytest.approx(hi)
    assert any("user-given" in t and "mg/L" in t and "5–12" in t for t in legend_texts(ax))
    for bad in [(10, 5), (-1, 5), ("5 mg", 10), (5, float("nan"))]:
        with pytest.raises(PKModelError, match="target"):
            annotate.target_band(*bad, ax=fresh_ax())
    sim = simulate(BOLUS, Regimen.single("500 mg", route="iv"))
    for bad in [(10, 5), 5, "5-10 mg/L", (1, 2, 3)]:
        ax = fresh_ax()
        with pytest.raises(PKModelError, match="target"):
            concentration_time(sim, ax=ax, target=bad)
        assert not ax.get_lines() and not ax.patches  # checked before anything is drawn
    ax = concentration_time(sim, ax=fresh_ax(), target=np.array([2.0, 4.0]))
    assert "target" in gids(ax, "patches")


def test_auc_shading_is_labelled_with_the_exact_closed_form_auc():
    sim = simulate(BOLUS, Regimen.single("500 mg", route="iv"), np.linspace(0, 48, 97))
    ax = concentration_time(sim, ax=fresh_ax(), auc=(0, "10 h"))
    exact = D / CL * (1 - np.exp(-K * 10))  # integral of D/V e^(-kt) from 0 to 10 h
    assert f"AUC 0–10 h = {format_number(exact)} mg·h/L" in legend_texts(ax)
    area = gids(ax, "collections")["auc"]
    xs = np.concatenate([p.vertices[:, 0] for p in area.get_paths()])
    ys = np.concatenate([p.vertices[:, 1] for p in area.get_paths()])
    assert xs.min() == pytest.approx(0) and xs.max() == pytest.approx(10)
    assert ys.max() == pytest.approx(D / V)  # the shade reaches the curve, whose top is D/V
    with pytest.raises(PKModelError, match="auc"):
        concentration_time(sim, ax=fresh_ax(), auc=(10, 5))


def test_cmax_cmin_css_and_half_life_marks_match_closed_forms():
    n, tau = 6, 12.0
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=n, route="iv")
    sim = simulate(BOLUS, regimen, np.linspace(0, 150, 601))
    ax = concentration_time(sim, ax=fresh_ax(), annotate=("cmax", "cmin", "css", "t_half"))
    r = np.exp(-K * tau)
    cmax = D / V * (1 - r**n) / (1 - r)  # right after the last bolus
    cmin = D / V * r * (1 - r ** (n - 1)) / (1 - r)  # just before the last bolus
    css = D / (CL * tau)
    marks = gids(ax)
    assert marks["cmax"].get_ydata()[0] == pytest.approx(cmax, rel=1e-9)
    assert ax.get_xlabel() == TIME_DAYS and marks["cmax"].get_xdata()[0] == pytest.approx((n - 1) * tau / 24)
    assert marks["cmin"].get_ydata()[0] == pytest.approx(cmin, rel=1e-9)
    assert marks["css"].get_ydata()[0] == pytest.approx(css, rel=1e-9)
    c1, c2 = marks["t_half"].get_ydata()
    t1, t2 = marks["t_half"].get_xdata()
    assert t2 - t1 == pytest.approx(np.log(2) / K / 24) and c2 / c1 == pytest.approx(0.5, rel=1e-9)
    texts = legend_texts(ax)
    assert any(t.startswith(f"Cmax {format_number(cmax)} mg/L") for t in texts)
    assert any("terminal t½" in t and f"{format_number(np.log(2) / K)} h" in t for t in texts)
    with pytest.raises(PKModelError, match="annotate"):
        concentration_time(sim, ax=fresh_ax(), annotate=("auc",))
    with pytest.raises(PKModelError, match="annotate"):  # no washout after the last dose
        concentration_time(simulate(BOLUS, regimen, np.linspace(0, 62, 10)), ax=fresh_ax(), annotate="t_half")


def test_observed_points_with_error_bars_on_a_day_axis():
    ax = concentration_time(simulate(ONE, TWICE_DAILY), ax=fresh_ax())
    annotate.observed_points(["13 d", 312.5], ["25.5 µg/mL", 20.0], ax=ax, yerr=[3.63, 2.0], label="label: Cmax")
    points = gids(ax)["observed"]
    np.testing.assert_allclose(points.get_xdata(), [13.0, 312.5 / 24])  # days on this axis
    np.testing.assert_allclose(points.get_ydata(), [25.5, 20.0])
    assert "label: Cmax" in legend_texts(ax)
    assert ax.get_ylim()[1] >= 25.5 + 3.63
    with pytest.raises(PKModelError, match="concentrations"):
        annotate.observed_points([1, 2], [3.0], ax=fresh_ax())


# --- variability bands -------------------------------------------------------------------------


def test_band_from_a_simulation_uses_numpy_percentiles_over_subjects():
    sim = simulate(POPULATION, TWICE_DAILY)
    ax = band(sim, quantiles=(0.1, 0.5, 0.9), ax=fresh_ax(), label="25 patients")
    np.testing.assert_allclose(gids(ax)["median"].get_ydata(), np.median(sim.concentration, axis=0))
    y = np.concatenate([p.vertices[:, 1] for p in gids(ax, "collections")["band"].get_paths()])
    lo, hi = np.percentile(sim.concentration, [10, 90], axis=0)
    assert y.min() == pytest.approx(lo.min()) and y.max() == pytest.approx(hi.max())
    assert any("10–90 %" in t for t in legend_texts(ax))


class Precomputed:
    """What a population result may provide: times (h) and quantile -> curve (mg/L)."""

    def __init__(self, times, table):
        self.times = times
        self.percentiles = table


def test_band_accepts_precomputed_percentiles():
    t = np.linspace(0, 24, 25)
    table = {0.05: np.full(25, 1.0), 0.5: np.full(25, 2.0), 0.95: np.full(25, 4.0)}
    ax = band(Precomputed(t, table), ax=fresh_ax(), label="population")
    np.testing.assert_array_equal(gids(ax)["median"].get_ydata(), 2.0)
    y = np.concatenate([p.vertices[:, 1] for p in gids(ax, "collections")["band"].get_paths()])
    assert y.min() == 1.0 and y.max() == 4.0
    with pytest.raises(PKModelError, match="quantiles"):
        band(Precomputed(t, table), quantiles=(0.25, 0.5, 0.75), ax=fresh_ax())
    with pytest.raises(PKModelError, match="result"):
        band(object(), ax=fresh_ax())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=4)), min_size=0, max_size=4))
def test_band_quantiles_are_checked(quantiles):
    sim = simulate(POPULATION, ORAL_ONCE, np.linspace(0, 24, 13))
    try:
        ax = band(sim, quantiles=quantiles, ax=fresh_ax())
    except PKModelError as err:
        assert err.field == "quantiles"
        return
    lo, mid, hi = (float(q) for q in quantiles)
    assert 0 <= lo < mid < hi <= 1
    np.testing.assert_allclose(gids(ax)["median"].get_ydata(), np.percentile(sim.concentration, 100 * mid, axis=0))


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["5 mg/L", "5", "-1 mg/L", "2 ng/mL"])),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["20 µg/mL", "1 g/L", "x"])),
)
@example(0.0, 1.7120886998688722e308)  # found by hypothesis: matplotlib's margins overflowed
def test_target_band_input_is_checked(low, high):
    try:
        ax = annotate.target_band(low, high, ax=fresh_ax())
    except PKModelError as err:
        assert err.field == "target"
        return
    span = gids(ax, "patches")["target"]
    assert span.get_label().endswith("(user-given)")


# --- the command line's --log ------------------------------------------------------------------


def test_cli_log_draws_a_semi_log_plot(tmp_path, capsys, monkeypatch):
    import pkmodel.interfaces.plot as plot
    from pkmodel.interfaces.cli import main

    drawn = []
    original = plot.concentration_time

    def spy(sim, *args, **kwargs):
        drawn.append(original(sim, *args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(plot, "concentration_time", spy)
    path = tmp_path / "log.png"
    argv = ["simulate", "--dose", "500 mg", "--route", "iv", "--doses", "3", "--interval", "12 h"]
    assert main([*argv, "--plot", str(path), "--log", "--quiet"]) == 0
    assert path.read_bytes().startswith(b"\x89PNG")
    assert drawn[-1].get_yscale() == "log"
    assert main([*argv, "--plot", str(tmp_path / "lin.png"), "--quiet"]) == 0
    assert drawn[-1].get_yscale() == "linear"
    capsys.readouterr()
    assert main([*argv, "--log"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("pkmodel: error: --log: needs --plot")


def test_importing_pkmodel_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, pkmodel; print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@settings(max_examples=30, deadline=None)
@given(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["1 h", "2 d", "x", "-3 h"])),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["10 h", "30 min", "1 mg"])),
)
def test_auc_interval_input_is_checked(start, end):
    sim = simulate(BOLUS, Regimen.single("500 mg", route="iv"), np.linspace(0, 48, 49))
    try:
        ax = annotate.shade_auc(sim, start, end, ax=fresh_ax())
    except PKModelError as err:
        assert err.field in ("auc", "times")  # times: beyond what a simulation may evaluate
        return
    (text,) = [t for t in legend_texts(ax) if t.startswith("AUC")]
    assert "mg·h/L" in text
