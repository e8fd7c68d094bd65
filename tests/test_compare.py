"""pkmodel.compare: one figure and one table for several regimens and patients, checked against
simulate() run directly and against hand-worked closed forms."""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from pkmodel import Model, Patient, PKModelError, Regimen, compare, load_params, simulate
from pkmodel.interfaces.compare import COLUMNS, WARNINGS_COLUMN, Comparison

MILDRONATE = load_params("mildronate")
IV_BID = Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")
PO_DAILY = Regimen.repeated("1 g", "24 h", over="14 d", route="oral")
# One compartment, IV bolus: C(t) = D/V e^(-kt) with k = CL/V.
CL, V, D, TAU, N = 5.0, 50.0, 500.0, 12.0, 6
K = CL / V
BOLUS = Model(cl=CL, v1=V, name="one compartment")
# Okabe & Ito's colour-blind-safe colours, written out independently of the package.
OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def fresh_ax():
    return Figure(layout="constrained").add_subplot()


def curves(ax):
    return [line for line in ax.get_lines() if line.get_gid() in ("concentration", "median")]


def test_one_compartment_bolus_table_matches_closed_forms():
    r = np.exp(-K * TAU)
    end = (N - 1) * TAU + 48.0
    result = compare(
        {"single": Regimen.single("500 mg", route="iv"), "repeated": Regimen.repeated("500 mg", "12 h", n_doses=N, route="iv")},
        BOLUS,
        times=np.linspace(0, end, 2 * int(end) + 1),
        ax=fresh_ax(),
    )
    single, repeated = result.table.loc["single"], result.table.loc["repeated"]
    assert single["Cmax (mg/L)"] == pytest.approx(D / V, rel=1e-12)  # Cmax = D/V at t = 0
    assert single["Tmax after last dose (h)"] == 0.0
    assert np.isnan(single["Cavg (mg/L)"]) and np.isnan(single["Cmin (mg/L)"])
    assert repeated["Cmax (mg/L)"] == pytest.approx(D / V * (1 - r**N) / (1 - r), rel=1e-9)  # after the last bolus
    assert repeated["Tmax after last dose (h)"] == pytest.approx(0.0, abs=1e-9)
    assert repeated["Cmin (mg/L)"] == pytest.approx(D / V * r * (1 - r ** (N - 1)) / (1 - r), rel=1e-9)
    # the last full interval follows the last dose: its AUC is D/CL (1 - r^N)
    assert repeated["AUCτ (mg·h/L)"] == pytest.approx(D / CL * (1 - r**N), rel=1e-9)
    assert repeated["Cavg (mg/L)"] == pytest.approx(D / CL * (1 - r**N) / TAU, rel=1e-9)
    assert repeated["Accumulation"] == pytest.approx(1 / (1 - r), rel=1e-9)
    assert repeated["t90ss (h)"] == pytest.approx(np.log(10) / K, rel=1e-7)  # 1 - e^(-kt) = 0.9
    assert list(result.table.columns) == [*COLUMNS, WARNINGS_COLUMN]
    assert (result.table[WARNINGS_COLUMN] == "").all()


def test_table_equals_each_scenarios_own_simulation():
    severe = Patient(crcl="20 mL/min")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # compare must not let the label warnings escape
        result = compare({"IV bid": IV_BID, "PO daily": PO_DAILY, "IV bid, CrCL 20": (IV_BID, severe)}, MILDRONATE)
    for name, regimen, patient in [("IV bid", IV_BID, None), ("PO daily", PO_DAILY, None), ("IV bid, CrCL 20", IV_BID, severe)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            direct = simulate(MILDRONATE, regimen, patient=patient)
        summary = direct.summary().iloc[0]
        row = result.table.loc[name]
        for column, key in COLUMNS.items():
            if key is not None:
                assert row[column] == pytest.approx(summary[key], rel=1e-12, nan_ok=True), (name, column)
        # the peak after the last dose: the last interval's own peak, found on the direct curve
        last = regimen.dose_times[-1]
        after = direct.times >= last
        tmax = direct.times[after][np.argmax(direct.concentration[0, after])] - last
        assert row["Tmax after last dose (h)"] == pytest.approx(tmax, abs=direct.times[1] - direct.times[0])
        np.testing.assert_array_equal(result.simulations[name].concentration, direct.concentration)
    # Oral: the peak comes after the dose, IV: at it
    assert result.table.loc["PO daily", "Tmax after last dose (h)"] > 0.5
    assert result.table.loc["IV bid", "Tmax after last dose (h)"] == pytest.approx(0.0, abs=1e-9)


def test_label_warnings_are_caught_per_scenario_and_the_curve_is_marked():
    result = compare(
        {"normal": IV_BID, "CrCL 20": (IV_BID, Patient(crcl="20 mL/min")), "Child-Pugh B": (IV_BID, Patient(child_pugh="B"))},
        MILDRONATE,
        ax=fresh_ax(),
    )
    table = result.table[WARNINGS_COLUMN]
    assert table["normal"] == "" and result.warnings["normal"] == ()
    assert "severe renal impairment" in table["CrCL 20"]
    assert "hepatic impairment" in table["Child-Pugh B"]
    assert result.warnings["CrCL 20"] and all(isinstance(m, str) for m in result.warnings["CrCL 20"])
    labels = {line.get_label(): line for line in curves(result.ax)}
    assert labels["CrCL 20 (label: contraindicated)"].get_linestyle() == ":"
    assert labels["Child-Pugh B (label: hepatic impairment)"].get_linestyle() == ":"
    assert labels["normal"].get_linestyle() != ":"


def test_figure_palette_dose_rows_neutral_title_and_legend_outside():
    ax = fresh_ax()
    result = compare({"IV bid": IV_BID, "PO daily": PO_DAILY, "PO bid": Regimen.parse("500 mg PO bid for 14 days")}, MILDRONATE, ax=ax)
    assert result.ax is ax and result.figure is ax.figure
    lines = curves(ax)
    assert [line.get_label() for line in lines] == ["IV bid", "PO daily", "PO bid"]
    assert len({line.get_color() for line in lines}) == 3 and {line.get_color().upper() for line in lines} <= OKABE_ITO
    assert len({line.get_linestyle() for line in lines}) == 3
    rows = [line for line in ax.get_lines() if line.get_gid() == "doses"]
    assert len(rows) == 3 and [row.get_color() for row in rows] == [line.get_color() for line in lines]
    for row in rows:
        assert row.get_clip_on()
    assert ax.get_title() == "mildronate: 3 scenarios"
    assert all(str(r) not in ax.get_title() for r in (IV_BID, PO_DAILY))
    assert "mg/L" in ax.get_ylabel() and ax.get_xlabel() == "Time (days)"
    ax.figure.canvas.draw()
    legend, data = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= data.x1  # to the right of the data, never over the last peaks


def test_result_is_immutable_and_shows_its_table():
    result = compare({"a": Regimen.single("500 mg", route="iv")}, BOLUS, ax=fresh_ax())
    assert isinstance(result, Comparison) and isinstance(result.table, pd.DataFrame)
    with pytest.raises(AttributeError):
        result.table = None
    with pytest.raises(TypeError):
        result.simulations["b"] = None
    assert "Cmax (mg/L)" in result._repr_html_()


def test_per_scenario_model_and_log_axis():
    half = BOLUS.replace(cl=CL / 2)
    result = compare({"CL 5": Regimen.single("500 mg", route="iv"), "CL 2.5": (half, Regimen.single("500 mg", route="iv"))}, BOLUS, log=True, ax=fresh_ax())
    assert result.ax.get_yscale() == "log"
    assert result.simulations["CL 2.5"].model.cl == CL / 2


@pytest.mark.parametrize(
    "scenarios, model, field",
    [
        ({}, BOLUS, "scenarios"),
        ([IV_BID], BOLUS, "scenarios"),
        ({"": IV_BID}, BOLUS, "scenarios"),
        ({"a": "500 mg"}, BOLUS, "scenarios['a']"),
        ({"a": (IV_BID, IV_BID)}, BOLUS, "scenarios['a']"),
        ({"a": (Patient(crcl=50),)}, BOLUS, "scenarios['a']"),
        ({"a": IV_BID}, None, "model"),
        ({"a": IV_BID}, "mildronate", "model"),
    ],
)
def test_bad_scenarios_are_refused(scenarios, model, field):
    with pytest.raises(PKModelError) as err:
        compare(scenarios, model, ax=fresh_ax())
    assert err.value.field == field


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.sampled_from([IV_BID, "x", 3, None, (IV_BID,)]), max_size=3))
def test_any_mapping_gives_a_table_row_per_scenario_or_a_clear_error(scenarios):
    try:
        result = compare(scenarios, BOLUS, times=np.linspace(0, 48, 49), ax=fresh_ax())
    except PKModelError as err:
        assert err.field == "scenarios" or err.field.startswith("scenarios[")
        return
    assert list(result.table.index) == list(scenarios)
