"""The explorer: its widgets driven from Python, its static fallback, and its refusals.

Every number the explorer shows is checked against ``simulate(...).summary()`` for the same
settings, built here independently of the explorer (Regimen.repeated, Regimen.miss, Patient),
and against dose proportionality (linear kinetics), which needs no simulation at all.
"""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkmodel
from pkmodel import LabelWarning, Patient, PKModelError, Regimen, load_params, simulate
from pkmodel.interfaces.explore import CRCL_ML_MIN, DAYS, DOSE_MG, Explorer, explore

pytest.importorskip("ipywidgets")

MODEL = load_params("mildronate")


def curve(explorer: Explorer) -> tuple[np.ndarray, np.ndarray]:
    (line,) = [ln for ln in explorer.ax.get_lines() if ln.get_gid() == "concentration"]
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def reference(regimen: Regimen, patient: Patient | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelWarning)
        return simulate(MODEL, regimen, patient=patient)


def test_explore_is_exported():
    assert pkmodel.explore is explore


def test_default_explorer_shows_the_default_regimen():
    ex = explore(widgets=True)
    expected = reference(Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")).summary()
    assert ex.table.cmax_mg_L.iloc[0] == pytest.approx(expected.cmax_mg_L.iloc[0], rel=1e-12)
    assert ex.table.auc_tau_mg_h_L.iloc[0] == pytest.approx(expected.auc_tau_mg_h_L.iloc[0], rel=1e-12)
    assert set(ex.controls) == {"dose", "interval", "route", "days", "loading", "missed", "crcl", "child_pugh"}
    assert ex.messages == [] and ex.error is None


def test_moving_the_dose_slider_redraws_figure_image_and_table():
    ex = explore(widgets=True)
    x0, y0 = curve(ex)
    png0, html0, cmax0 = ex._parts["image"].value, ex._parts["table"].value, ex.table.cmax_mg_L.iloc[0]
    ex.controls["dose"].value = 1000
    x1, y1 = curve(ex)
    # Linear kinetics: doubling every dose doubles the curve at every time (no simulation needed).
    np.testing.assert_array_equal(x1, x0)
    np.testing.assert_allclose(y1, 2 * y0, rtol=1e-12)
    assert ex.table.cmax_mg_L.iloc[0] == pytest.approx(2 * cmax0, rel=1e-9)
    expected = reference(Regimen.repeated("1000 mg", "12 h", over="14 d", route="iv")).summary()
    assert ex.table.cmax_mg_L.iloc[0] == pytest.approx(expected.cmax_mg_L.iloc[0], rel=1e-12)
    assert ex._parts["image"].value != png0 and ex._parts["image"].value[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex._parts["table"].value != html0


def test_every_control_reaches_the_simulation():
    ex = explore(widgets=True)
    c = ex.controls
    c["interval"].value = 24.0
    c["route"].value = "oral"
    c["days"].value = 7
    c["loading"].value = 1000
    c["missed"].value = 3
    c["crcl"].value = 45
    c["child_pugh"].value = "B"
    patient = Patient(crcl="45 mL/min", child_pugh="B")
    regimen = Regimen.repeated("500 mg", "24 h", n_doses=7, route="oral", loading="1 g").miss([3])
    expected = reference(regimen, patient)
    got = ex.table.iloc[0]
    for column, value in expected.summary().iloc[0].items():
        assert got[column] == pytest.approx(value, rel=1e-12, nan_ok=True), column
    np.testing.assert_allclose(curve(ex)[1], expected.concentration[0], rtol=1e-12)
    np.testing.assert_array_equal(ex.simulation.regimen.dose_times, regimen.dose_times)
    # Moderate renal impairment and Child-Pugh B: the label's cautions are listed, not raised.
    assert len(ex.messages) >= 2
    assert "Label findings" in ex._parts["table"].value


def test_crcl_slider_at_the_reference_is_the_reference_adult():
    ex = explore(widgets=True)
    ex.controls["crcl"].value = 45
    ex.controls["crcl"].value = 100  # the reference CrCL of the population file
    assert ex.settings.crcl is None and ex.simulation is not None
    expected = reference(Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")).summary()
    assert ex.table.cmax_mg_L.iloc[0] == pytest.approx(expected.cmax_mg_L.iloc[0], rel=1e-12)


def test_liver_menu_starts_normal_and_returns_to_normal():
    ex = explore(widgets=True)
    assert ex.controls["child_pugh"].value == "normal" and ex.settings.child_pugh is None
    ex.controls["child_pugh"].value = "C"
    assert ex.settings.child_pugh == "C" and any("contraindicated" in m.lower() for m in ex.messages)
    ex.controls["child_pugh"].value = "normal"
    assert ex.settings.child_pugh is None and ex.messages == []
    assert explore(child_pugh="b", widgets=True).controls["child_pugh"].value == "B"


def test_severe_renal_impairment_shows_the_contraindication():
    ex = explore(widgets=True)
    ex.controls["crcl"].value = 20
    assert any("contraindicated" in m.lower() for m in ex.messages)
    assert "label" in ex.ax.get_title()


def test_missed_dose_slider_follows_the_number_of_doses():
    ex = explore(widgets=True)
    assert ex.controls["missed"].max == 28
    ex.controls["missed"].value = 20
    ex.controls["days"].value = 2  # 4 doses: the missed dose moves inside the new range
    assert ex.controls["missed"].max == 4
    assert ex.settings.missed == ex.controls["missed"].value == 4
    assert len(ex.simulation.regimen.doses) == 3


def test_a_refused_combination_is_shown_and_the_explorer_recovers():
    ex = explore(widgets=True, days=1, interval="24 h")
    ex.controls["missed"].value = 1  # the only dose
    assert ex.simulation is None and ex.table is None
    assert "cannot miss every dose" in ex.error
    assert "Not simulated" in ex._parts["table"].value
    ex.controls["missed"].value = 0
    assert ex.error is None and ex.table is not None


def test_static_fallback_without_a_notebook_kernel():
    ex = explore(dose="1 g", interval="24 h", route="oral", days=5)  # automatic: no kernel here
    assert ex.widget is None and ex.controls == {}
    expected = reference(Regimen.repeated("1 g", "24 h", n_doses=5, route="oral"))
    np.testing.assert_allclose(curve(ex)[1], expected.concentration[0], rtol=1e-12)
    bundle = ex._repr_mimebundle_()
    assert bundle["text/html"].count("data:image/png;base64,") == 1
    assert "cmax_mg_L" in bundle["text/html"]


def test_static_fallback_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets raises ImportError
    ex = explore()
    assert ex.widget is None and ex.table is not None
    with pytest.raises(PKModelError, match="ipywidgets is not installed"):
        explore(widgets=True)


def test_widget_bundle_is_the_widget_view():
    bundle = explore(widgets=True)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_a_model_without_population_file_has_no_patient_controls():
    ex = explore("theophylline", dose="800 mg", interval="24 h", route="oral", days=3, widgets=True)
    assert "crcl" not in ex.controls and "child_pugh" not in ex.controls
    with pytest.raises(PKModelError, match="crcl/child_pugh"):
        explore("theophylline", crcl=45, widgets=False)


def test_iv_only_model_offers_only_iv():
    model = pkmodel.Model(cl=5, v1=30)
    ex = explore(model, widgets=True)
    assert list(ex.controls["route"].options) == ["iv"]
    with pytest.raises(PKModelError, match="route"):
        explore(model, route="oral", widgets=False)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dose": "5 g"}, "dose"),
        ({"dose": "10 mL"}, "dose"),
        ({"loading": 20}, "loading"),
        ({"interval": "-2 h"}, "interval"),
        ({"route": "im"}, "route"),
        ({"days": 0}, "days"),
        ({"days": 2.5}, "days"),
        ({"days": True}, "days"),
        ({"missed": 29}, "missed"),
        ({"missed": 0}, "missed"),
        ({"crcl": "300 mL/min"}, "crcl"),
        ({"crcl": [40, 50]}, "crcl"),
        ({"child_pugh": "D"}, "child_pugh"),
        ({"widgets": "yes"}, "widgets"),
        ({"model": 3}, "model"),
        ({"model": MODEL.replace(cl=np.array([5.0, 6.0]))}, "model"),
    ],
)
def test_refusals_name_the_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        explore(**{"widgets": False} | kwargs)
    assert err.value.field == field


def test_ranges_are_the_sliders():
    assert DOSE_MG[0] < DOSE_MG[1] and DAYS[0] >= 1 and CRCL_ML_MIN[0] > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dose=st.one_of(st.floats(allow_nan=True), st.integers(-10, 5000), st.sampled_from(["1 g", "75 mg", "x", ""])),
    interval=st.one_of(st.floats(-5, 100), st.sampled_from(["12 h", "1 d", "0 h", "12"])),
    route=st.sampled_from(["iv", "oral", "IV", None]),
    days=st.one_of(st.integers(-2, 60), st.floats(0, 10)),
    missed=st.one_of(st.none(), st.integers(-1, 200)),
    crcl=st.one_of(st.none(), st.floats(-10, 200), st.just("45 mL/min")),
)
def test_any_input_gives_an_explorer_or_a_pkmodel_error(dose, interval, route, days, missed, crcl):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabelWarning)
            ex = explore(dose=dose, interval=interval, route=route, days=days, missed=missed, crcl=crcl, widgets=False)
    except PKModelError as err:
        assert err.field in str(err)
        return
    assert ex.table is not None and np.isfinite(ex.table.cmax_mg_L.iloc[0])
