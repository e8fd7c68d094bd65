"""NONMEM-style datasets: each PREDPP rule against a value worked by hand.

One compartment unless said otherwise: CL = 2 L/h, V = 20 L, so k = CL/V = 0.1 1/h, and an IV
bolus of 100 mg gives C(t) = 5 e^(-0.1 t) mg/L.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkmodel import Dose, Model, PKModelError, Regimen, simulate
from pkmodel.dosing.dataset import MAX_ADDL, read_dataset
from pkmodel.dosing.records import dataset_doses, dataset_regimens, write_dataset
from pkmodel.errors import shown
from pkmodel.simulation.simulate_dataset import simulate_dataset

CL, V, K, KA = 2.0, 20.0, 0.1, 1.0
IV = Model(cl=CL, v1=V)
ORAL = Model(cl=CL, v1=V, ka=KA)


def table(*rows, columns="ID TIME EVID AMT"):
    return pd.DataFrame(list(rows), columns=columns.split())


def conc(model, df, **kw):
    return simulate_dataset(model, df, **kw)["conc_mg_L"].to_numpy()


def bolus(t, dose=100.0):
    """IV bolus in one compartment, mg/L, zero before the dose."""
    t = np.asarray(t, dtype=float)
    return _plain(np.where(t >= 0, dose / V * np.exp(-K * np.maximum(t, 0)), 0.0))


def bateman(t, dose=100.0, f=1.0):
    """Oral dose with first-order absorption (ka = 1/h), mg/L, zero before the dose."""
    t = np.asarray(t, dtype=float)
    s = np.maximum(t, 0)
    return _plain(np.where(t >= 0, f * dose * KA / (V * (KA - K)) * (np.exp(-K * s) - np.exp(-KA * s)), 0.0))


def infusion(t, rate, length):
    """Zero-order input at ``rate`` mg/h for ``length`` h from time 0, mg/L."""
    t = np.asarray(t, dtype=float)
    during = rate / CL * (1 - np.exp(-K * np.minimum(t, length)))
    return _plain(np.where(t <= length, during, during * np.exp(-K * (t - length))))


def _plain(x):
    return float(x) if np.ndim(x) == 0 else x


# --- the worked example of the brief -------------------------------------------------------------


def test_iv_bolus_concentration_at_5_h():
    df = table((1, 0, 1, 100), (1, 5, 0, 0))
    assert conc(IV, df) == pytest.approx([5 * math.exp(-0.5)], rel=1e-12)


# --- rule 1: CMT numbering as NONMEM's ADVANs ----------------------------------------------------


def test_cmt_with_depot_is_depot_central_peripheral():
    rows = [(1, 0, 1, 100, 1), (1, 1, 1, 100, 2), (1, 2, 1, 100, 3), (1, 3, 1, 100, 0)]
    df = table(*rows, columns="ID TIME EVID AMT CMT")
    routes = [d.route for d in dataset_regimens(df, depot=True)[1].doses]
    assert routes == ["oral", "iv", "peripheral", "oral"]  # CMT 0: the default dose compartment, the depot


def test_cmt_without_depot_is_central_peripheral():
    df = table((1, 0, 1, 100, 1), (1, 1, 1, 100, 2), (1, 3, 1, 100, 0), columns="ID TIME EVID AMT CMT")
    routes = [d.route for d in dataset_regimens(df, depot=False)[1].doses]
    assert routes == ["iv", "peripheral", "iv"]


def test_missing_cmt_column_doses_the_default_compartment():
    df = table((1, 0, 1, 100), (1, 1, 1, 100))
    assert {d.route for d in dataset_regimens(df, depot=True)[1].doses} == {"oral"}
    assert {d.route for d in dataset_regimens(df, depot=False)[1].doses} == {"iv"}


def test_cmt_1_with_depot_is_the_bateman_function_and_cmt_2_the_bolus():
    t = 3.0
    oral = table((1, 0, 1, 100, 1), (1, t, 0, 0, 2), columns="ID TIME EVID AMT CMT")
    iv = table((1, 0, 1, 100, 2), (1, t, 0, 0, 2), columns="ID TIME EVID AMT CMT")
    assert conc(ORAL, oral) == pytest.approx([bateman(t)], rel=1e-12)
    assert conc(ORAL, iv) == pytest.approx([bolus(t)], rel=1e-12)


def test_cmt_peripheral_dose_reaches_the_central_compartment_through_k21():
    # CL 2, V1 20, Q 4, V2 40: k10 = 0.1, k12 = 0.2, k21 = 0.1; alpha + beta = 0.4, alpha beta = 0.01.
    model = Model(cl=2, v1=20, q=4, v2=40)
    root = math.sqrt(0.4**2 - 4 * 0.01)
    alpha, beta = (0.4 + root) / 2, (0.4 - root) / 2
    t = 6.0
    # A bolus D into the peripheral compartment: A1(t) = D k21 (e^-beta t - e^-alpha t) / (alpha - beta).
    expected = 100 * 0.1 * (math.exp(-beta * t) - math.exp(-alpha * t)) / (alpha - beta) / 20
    df = table((1, 0, 1, 100, 2), (1, t, 0, 0, 1), columns="ID TIME EVID AMT CMT")
    assert conc(model, df) == pytest.approx([expected], rel=1e-12)


def test_cmt_the_model_does_not_have_is_an_error_naming_the_row():
    df = table((1, 0, 0, 0, 0), (1, 0, 1, 100, 3), columns="ID TIME EVID AMT CMT")
    with pytest.raises(PKModelError, match=r"row 2, column CMT: got 3;.*without a depot"):
        dataset_regimens(df, depot=False)
    # A one-compartment model has no peripheral compartment to dose.
    df = table((1, 0, 1, 100, 2), (1, 1, 0, 0, 1), columns="ID TIME EVID AMT CMT")
    with pytest.raises(PKModelError, match=r"row 1, column CMT: got 2"):
        simulate_dataset(IV, df)


def test_observation_in_another_compartment_than_central_is_refused():
    df = table((1, 0, 1, 100, 1), (1, 1, 0, 0, 1), columns="ID TIME EVID AMT CMT")
    with pytest.raises(PKModelError, match=r"row 2, column CMT: got 1; observations are central"):
        simulate_dataset(ORAL, df)


# --- rule 2: F scales the amount, ALAG shifts the time -------------------------------------------


def test_f_column_halves_an_iv_bolus():
    df = table((1, 0, 1, 100, 0.5), (1, 5, 0, 0, None), columns="ID TIME EVID AMT F")
    assert dataset_regimens(df, depot=False)[1].doses[0].f == 0.5
    assert conc(IV, df) == pytest.approx([2.5 * math.exp(-0.5)], rel=1e-12)


def test_f_column_overrides_the_model_f_of_an_oral_dose():
    df = table((1, 0, 1, 100, 0.5), (1, 3, 0, 0, None), columns="ID TIME EVID AMT F")
    assert conc(ORAL.replace(f=0.9), df) == pytest.approx([bateman(3.0, f=0.5)], rel=1e-12)


def test_alag_shifts_the_bateman_function():
    times = [1.0, 2.0, 2.5, 6.0]
    rows = [(1, 0, 1, 100, 2.0)] + [(1, t, 0, 0, None) for t in times]
    df = table(*rows, columns="ID TIME EVID AMT ALAG")
    assert dataset_regimens(df, depot=True)[1].doses[0].tlag == 2.0
    np.testing.assert_allclose(conc(ORAL, df), bateman(np.array(times) - 2.0), rtol=1e-12, atol=1e-15)
    assert conc(ORAL, df)[0] == 0.0  # before the lag nothing has arrived


# --- rule 3: ADDL -----------------------------------------------------------------------------------


def test_addl_2_is_three_doses_by_superposition():
    df = table((1, 0, 1, 100, 2, 12), (1, 30, 0, 0, 0, 0), columns="ID TIME EVID AMT ADDL II")
    assert [d.time for d in dataset_regimens(df, depot=False)[1].doses] == [0.0, 12.0, 24.0]
    expected = 5 * (math.exp(-3.0) + math.exp(-1.8) + math.exp(-0.6))
    assert conc(IV, df) == pytest.approx([expected], rel=1e-12)


def test_addl_doses_copy_the_dose_but_not_its_ss_flag_or_reset():
    df = table((1, 0, 4, 100, 2, 12, 1, 10.0, 0.5, 1.0), columns="ID TIME EVID AMT ADDL II SS RATE F ALAG")
    first, *more = dataset_regimens(df, depot=True)[1].doses
    assert (first.ss, first.interval, first.reset) == (1, 12.0, True)
    assert all((d.ss, d.interval, d.reset) == (0, None, False) for d in more)
    assert all((d.rate, d.f, d.tlag, d.route, d.amount) == (10.0, 0.5, 1.0, "oral", 100.0) for d in more)


# --- rule 4: RATE -------------------------------------------------------------------------------------


def test_rate_10_of_100_mg_is_a_10_h_infusion():
    times = [4.0, 10.0, 15.0]
    df = table((1, 0, 1, 100, 10), *[(1, t, 0, 0, 0) for t in times], columns="ID TIME EVID AMT RATE")
    during = 10 / CL * (1 - math.exp(-K * 4))  # R/CL (1 - e^-kt)
    np.testing.assert_allclose(conc(IV, df), infusion(times, 10, 10), rtol=1e-12)
    assert conc(IV, df)[0] == pytest.approx(during, rel=1e-12)


def test_rate_with_f_keeps_the_rate_and_shortens_the_infusion():
    times = [2.0, 5.0, 8.0]
    rows = [(1, 0, 1, 100, 10, 0.5)] + [(1, t, 0, 0, 0, None) for t in times]
    df = table(*rows, columns="ID TIME EVID AMT RATE F")
    dose = dataset_regimens(df, depot=False)[1].doses[0]
    assert (dose.rate, dose.f, dose.duration) == (10.0, 0.5, 0.0)
    np.testing.assert_allclose(conc(IV, df), infusion(times, 10, 5), rtol=1e-12)  # 50 mg at 10 mg/h: 5 h


def test_rate_minus_2_takes_the_duration_from_column_d():
    times = [2.0, 4.0, 9.0]
    rows = [(1, 0, 1, 100, -2, 4.0)] + [(1, t, 0, 0, 0, None) for t in times]
    df = table(*rows, columns="ID TIME EVID AMT RATE D")
    assert dataset_regimens(df, depot=False)[1].doses[0].duration == 4.0
    np.testing.assert_allclose(conc(IV, df), infusion(times, 25, 4), rtol=1e-12)


def test_rate_minus_2_with_f_keeps_the_duration_and_scales_the_rate():
    rows = [(1, 0, 1, 100, -2, 4.0, 0.5), (1, 4, 0, 0, 0, None, None)]
    df = table(*rows, columns="ID TIME EVID AMT RATE D F")
    assert conc(IV, df) == pytest.approx(infusion([4.0], 12.5, 4), rel=1e-12)


def test_rate_minus_1_takes_the_rate_from_column_r():
    rows = [(1, 0, 1, 100, -1, 20.0), (1, 5, 0, 0, 0, None), (1, 7, 0, 0, 0, None)]
    df = table(*rows, columns="ID TIME EVID AMT RATE R")
    assert dataset_regimens(df, depot=False)[1].doses[0].rate == 20.0
    np.testing.assert_allclose(conc(IV, df), infusion([5.0, 7.0], 20, 5), rtol=1e-12)


def test_rate_columns_can_be_renamed_and_are_case_insensitive():
    rows = [(1, 0, 1, 100, -1, 20.0), (1, 5, 0, 0, 0, None)]
    df = table(*rows, columns="ID TIME EVID AMT RATE modelled_rate")
    assert conc(IV, df, rate_column="MODELLED_RATE") == pytest.approx(infusion([5.0], 20, 5), rel=1e-12)


def test_rate_minus_1_without_its_column_or_value_is_an_error():
    df = table((1, 0, 1, 100, -1), columns="ID TIME EVID AMT RATE")
    with pytest.raises(PKModelError, match=r"row 1, column RATE: got -1; RATE = -1 takes the rate.*column R"):
        dataset_regimens(df, depot=False)
    df = table((1, 0, 1, 100, -2, 0.0), columns="ID TIME EVID AMT RATE D")
    with pytest.raises(PKModelError, match=r"row 1, column D: got 0.0; RATE = -2 needs a duration"):
        dataset_regimens(df, depot=False)


# --- rule 5: SS --------------------------------------------------------------------------------------


def test_ss1_starts_at_the_one_compartment_steady_state():
    r = math.exp(-K * 12)
    peak = (100 / V) / (1 - r)  # (D/V) / (1 - e^-k tau) just after the dose
    rows = [(1, 0, 1, 100, 1, 12), (1, 0, 0, 0, 0, 0), (1, 6, 0, 0, 0, 0), (1, 12, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT SS II")
    np.testing.assert_allclose(conc(IV, df), [peak, peak * math.exp(-0.6), peak * r], rtol=1e-12)


def test_ss1_resets_what_was_there_before():
    rows = [(1, 0, 1, 1000, 0, 0), (1, 24, 0, 0, 0, 0), (1, 24, 1, 100, 1, 12), (1, 24, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT SS II")
    before, after = 50 * math.exp(-2.4), 5 / (1 - math.exp(-1.2))
    np.testing.assert_allclose(conc(IV, df), [before, after], rtol=1e-12)


def test_ss2_adds_the_steady_state_to_an_earlier_dose():
    rows = [(1, 0, 1, 100, 0, 0), (1, 6, 1, 100, 2, 12), (1, 6, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT SS II")
    expected = 5 * math.exp(-0.6) + 5 / (1 - math.exp(-1.2))
    assert conc(IV, df) == pytest.approx([expected], rel=1e-12)


# --- rule 6: EVID 3 and 4 ----------------------------------------------------------------------------


def test_evid3_empties_the_body_then_only_new_doses_count():
    rows = [(1, 0, 1, 100), (1, 10, 0, 0), (1, 10, 3, 0), (1, 10, 0, 0), (1, 12, 1, 50), (1, 15, 0, 0)]
    df = table(*rows)
    doses = dataset_regimens(df, depot=False)[1].doses
    assert doses[1] == Dose(10.0, 0.0, reset=True)
    np.testing.assert_allclose(conc(IV, df), [5 * math.exp(-1.0), 0.0, 2.5 * math.exp(-0.3)], rtol=1e-12)


def test_evid4_resets_then_doses():
    rows = [(1, 0, 1, 100), (1, 10, 4, 50), (1, 10, 0, 0), (1, 13, 0, 0)]
    df = table(*rows)
    assert dataset_regimens(df, depot=False)[1].doses[1].reset
    np.testing.assert_allclose(conc(IV, df), [2.5, 2.5 * math.exp(-0.3)], rtol=1e-12)


def test_reset_cancels_the_addl_doses_still_due():
    # 100 mg every 12 h (ADDL 5), then a reset-dose of 50 mg at 30 h: the ADDL doses at 36, 48, 60 are cancelled.
    rows = [(1, 0, 1, 100, 5, 12), (1, 30, 4, 50, 0, 0), (1, 40, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT ADDL II")
    records = dataset_doses(df, depot=False)[1]
    assert [(r.dose.time, r.cancelled_by) for r in records if r.cancelled_by is not None] == [
        (36.0, 1),
        (48.0, 1),
        (60.0, 1),
    ]
    assert conc(IV, df) == pytest.approx([2.5 * math.exp(-1.0)], rel=1e-12)


def test_ss1_also_cancels_the_addl_doses_still_due():
    rows = [(1, 0, 1, 100, 3, 12, 0), (1, 18, 1, 100, 6, 0, 1), (1, 18, 0, 0, 0, 0, 0), (1, 30, 0, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT II ADDL SS")
    # 100 mg every 12 h (ADDL 3: 12, 24, 36 h), then at 18 h steady state of 100 mg every 6 h:
    # the doses at 24 and 36 h are cancelled, and nothing follows the SS dose (its ADDL is 0).
    peak = 5 / (1 - math.exp(-0.6))
    np.testing.assert_allclose(conc(IV, df), [peak, peak * math.exp(-1.2)], rtol=1e-12)


# --- observations at the time of a dose record -------------------------------------------------------


def test_observation_before_a_dose_record_is_the_trough_after_it_the_peak():
    rows = [(1, 0, 1, 100), (1, 12, 0, 0), (1, 12, 1, 100), (1, 12, 0, 0)]
    trough = 5 * math.exp(-1.2)
    np.testing.assert_allclose(conc(IV, table(*rows)), [trough, trough + 5], rtol=1e-12)


def test_observation_between_two_dose_records_at_one_time_sees_the_first_only():
    rows = [(1, 0, 1, 100), (1, 12, 1, 100), (1, 12, 0, 0), (1, 12, 1, 100), (1, 12, 0, 0)]
    trough = 5 * math.exp(-1.2)
    np.testing.assert_allclose(conc(IV, table(*rows)), [trough + 5, trough + 10], rtol=1e-12)


def test_observation_before_a_dose_record_sees_an_addl_dose_due_at_that_time():
    rows = [(1, 0, 1, 100, 1, 12), (1, 12, 0, 0, 0, 0), (1, 12, 1, 50, 0, 0), (1, 12, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT ADDL II")
    first = 5 * math.exp(-1.2) + 5  # the ADDL dose at 12 h comes from the record above
    np.testing.assert_allclose(conc(IV, df), [first, first + 2.5], rtol=1e-12)


def test_observation_before_a_reset_at_its_time_still_sees_the_addl_dose_due_then():
    rows = [(1, 0, 1, 100, 1, 12), (1, 12, 0, 0, 0, 0), (1, 12, 3, 0, 0, 0), (1, 12, 0, 0, 0, 0)]
    df = table(*rows, columns="ID TIME EVID AMT ADDL II")
    np.testing.assert_allclose(conc(IV, df), [5 * math.exp(-1.2) + 5, 0.0], rtol=1e-12)


def test_observation_before_a_dose_record_sees_a_lagged_dose_arriving_then():
    rows = [(1, 0, 1, 100, 2.0), (1, 2, 0, 0, None), (1, 2, 1, 100, None), (1, 2, 0, 0, None)]
    df = table(*rows, columns="ID TIME EVID AMT ALAG")
    np.testing.assert_allclose(conc(IV, df), [5.0, 10.0], rtol=1e-12)


def test_only_observation_records_come_back_with_their_index():
    df = table((1, 0, 1, 100), (1, 2, 2, 0), (1, 5, 0, 0))
    df.index = [10, 20, 30]
    out = simulate_dataset(IV, df)
    assert list(out.index) == [30]
    assert list(out.columns) == ["ID", "TIME", "EVID", "AMT", "conc_mg_L"]


def test_an_id_without_doses_has_zero_concentration():
    df = table((1, 0, 1, 100), (1, 5, 0, 0), (2, 5, 0, 0))
    np.testing.assert_allclose(conc(IV, df), [5 * math.exp(-0.5), 0.0], rtol=1e-12)


# --- per-ID parameters ---------------------------------------------------------------------------


def test_per_id_parameters_replace_the_model_fields():
    rows = [(1, 0, 1, 100, 2.0, 20.0), (1, 5, 0, 0, 2.0, 20.0), (2, 0, 1, 100, 4.0, 10.0), (2, 5, 0, 0, 4.0, 10.0)]
    df = table(*rows, columns="ID TIME EVID AMT CL V")
    out = conc(Model(cl=99, v1=99), df, parameters={"cl": "cl", "v1": "V"})
    np.testing.assert_allclose(out, [5 * math.exp(-0.5), 10 * math.exp(-2.0)], rtol=1e-12)


def test_many_ids_sharing_a_regimen_are_simulated_together_with_their_own_times():
    n = 50
    cl = np.linspace(1, 5, n)
    rows = []
    for i in range(n):
        rows += [(i + 1, 0, 1, 100, cl[i]), (i + 1, 1 + i % 7, 0, 0, cl[i]), (i + 1, 24, 0, 0, cl[i])]
    df = table(*rows, columns="ID TIME EVID AMT CL")
    out = simulate_dataset(IV, df, parameters={"cl": "CL"})
    expected = 100 / V * np.exp(-out["CL"].to_numpy() / V * out["TIME"].to_numpy())
    np.testing.assert_allclose(out["conc_mg_L"], expected, rtol=1e-12)


def test_per_id_parameter_must_be_constant_within_an_id():
    df = table((1, 0, 1, 100, 2.0), (1, 5, 0, 0, 3.0), columns="ID TIME EVID AMT CL")
    with pytest.raises(PKModelError, match=r"ID 1, column CL: got \[2.0, 3.0\]; cl must have one value"):
        simulate_dataset(IV, df, parameters={"cl": "CL"})


def test_per_id_parameter_errors_name_the_id():
    df = table((1, 0, 1, 100, 2.0), (1, 5, 0, 0, 2.0), (7, 0, 1, 100, -1.0), (7, 5, 0, 0, -1.0),
               columns="ID TIME EVID AMT CL")
    with pytest.raises(PKModelError, match=r"ID 7: cl"):
        simulate_dataset(IV, df, parameters={"cl": "CL"})
    with pytest.raises(PKModelError, match=r"no such column"):
        simulate_dataset(IV, df, parameters={"cl": "CLEARANCE"})
    with pytest.raises(PKModelError, match=r"model fields"):
        simulate_dataset(IV, df, parameters={"clearance": "CL"})


# --- reading --------------------------------------------------------------------------------------


def test_read_normalises_names_and_fills_predpp_blanks(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,Time,amt,rate,ii,addl,ss,cmt,WT\n1,0,100,.,.,.,.,.,70\n1,1,.,.,.,.,.,.,70\n")
    df = read_dataset(path)
    assert list(df.columns) == ["ID", "TIME", "AMT", "RATE", "II", "ADDL", "SS", "CMT", "WT", "EVID"]
    assert df["EVID"].tolist() == [1, 0]  # no EVID column: 1 where AMT > 0, else 0
    assert df["AMT"].tolist() == [100.0, 0.0]
    assert df["CMT"].tolist() == [0, 0] and df["WT"].tolist() == [70, 70]
    pd.testing.assert_frame_equal(read_dataset(df), df)  # reading again changes nothing


def test_missing_evid_with_mdv_1_and_no_amount_is_other_type():
    df = table((1, 0, 100, 1), (1, 1, 0, 1), (1, 2, 0, 0), columns="ID TIME AMT MDV")
    assert read_dataset(df)["EVID"].tolist() == [1, 2, 0]


BAD_CELLS = [
    ("EVID", 5, "allowed: 0, 1, 2, 3, 4"),
    ("EVID", 1.5, "allowed: 0, 1, 2, 3, 4"),
    ("EVID", None, "must be filled"),
    ("AMT", -5.0, ">= 0"),
    ("AMT", "lots", "expected a number"),
    ("RATE", -3.0, r"allowed: 0 \(bolus\)"),
    ("SS", 3, "allowed: 0, 1"),
    ("II", -1.0, ">= 0"),
    ("ADDL", 1.5, "whole number"),
    ("ADDL", -1, "whole number"),
    ("ADDL", MAX_ADDL + 1, "whole number"),
    ("TIME", -1.0, ">= 0"),
    ("TIME", math.inf, ">= 0"),
    ("TIME", None, "required"),
    ("TIME", "8:30", "expected a number"),
    ("CMT", 1.5, "whole number"),
    ("F", 1.5, r"\(0, 1\]"),
    ("F", 0.0, r"\(0, 1\]"),
    ("ALAG", -0.5, ">= 0"),
    ("ID", None, "needs an ID"),
    ("ID", True, "needs an ID"),
]


@pytest.mark.parametrize(("column", "value", "allowed"), BAD_CELLS)
def test_bad_cell_names_row_column_and_value(column, value, allowed):
    df = pd.DataFrame(
        {"ID": [1, 1, 1], "TIME": [0.0, 1.0, 2.0], "EVID": [1, 1, 0], "AMT": [100.0, 100.0, 0.0],
         "CMT": [1, 1, 0], "RATE": [0.0, 0.0, 0.0], "II": [12.0, 12.0, 0.0], "ADDL": [0, 1, 0],
         "SS": [0, 0, 0], "F": [1.0, 1.0, None], "ALAG": [0.0, 0.0, None]}
    ).astype(object)
    df.loc[1, column] = value
    with pytest.raises(PKModelError) as err:
        read_dataset(df)
    message = str(err.value)
    assert message.startswith(f"row 2, column {column}: got {value!r}"), message
    assert re.search(allowed, message), message


@pytest.mark.parametrize(
    ("rows", "columns", "expected"),
    [
        ([(1, 0, 1, 0)], "ID TIME EVID AMT", r"row 1, column AMT: got 0; a dose record"),
        ([(1, 0, 0, 5)], "ID TIME EVID AMT", r"row 1, column AMT: got 5; must be 0 \(or empty\) on observation"),
        ([(1, 0, 3, 0, 10)], "ID TIME EVID AMT RATE", r"row 1, column RATE: got 10; must be 0"),
        ([(1, 0, 1, 100, 1, 0)], "ID TIME EVID AMT SS II", r"row 1, column II: got 0; SS > 0 or ADDL > 0 needs"),
        ([(1, 0, 1, 100, 2, 0)], "ID TIME EVID AMT ADDL II", r"row 1, column II: got 0"),
        ([(1, 5, 0, 0), (1, 4, 0, 0)], "ID TIME EVID AMT", r"row 2, column TIME: got 4; times must not decrease"),
        ([(1, 0, 0, 0), (2, 0, 0, 0), (1, 1, 0, 0)], "ID TIME EVID AMT", r"row 3, column ID: got 1;.*contiguous"),
    ],
)
def test_bad_records_name_row_column_and_value(rows, columns, expected):
    with pytest.raises(PKModelError, match=expected):
        read_dataset(table(*rows, columns=columns))


def test_missing_required_column_and_duplicate_names():
    with pytest.raises(PKModelError, match="the required column TIME is missing"):
        read_dataset(pd.DataFrame({"ID": [1]}))
    with pytest.raises(PKModelError, match="appears twice"):
        read_dataset(pd.DataFrame([[1, 0, 0]], columns=["ID", "TIME", "time"]))
    with pytest.raises(PKModelError, match="no such file"):
        read_dataset("/nonexistent/dataset.csv")


@pytest.mark.parametrize(
    ("text", "row", "fields"),
    [
        ("ID,TIME,EVID,AMT\n1,0,1,100,5\n1,5,0,0,0\n", 1, 5),  # one more field on every row
        ("ID,TIME,EVID,AMT\n1,0,1,100\n\n1,5,0,0,0\n", 2, 5),  # the blank line is not a row
        ("ID,TIME,EVID,AMT\n1,0,1,100\n1,5,0\n", 2, 3),  # one field short
    ],
)
def test_a_ragged_csv_is_refused_naming_the_row(tmp_path, text, row, fields):
    """Issue 7: a CSV whose rows have one field more than the header was read with its first
    column as the index and simulated with every column shifted (ID read as TIME, ...)."""
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    with pytest.raises(PKModelError, match=rf"^row {row}: got '.*'; has {fields} fields, the header 4 \(ID,TIME,EVID,AMT\)"):
        read_dataset(path)
    with pytest.raises(PKModelError, match=rf"^row {row}: "):
        simulate_dataset(IV, path)


def test_a_well_formed_csv_keeps_its_columns_where_they_are(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("ID,TIME,EVID,AMT\n7,0,1,100\n7,5,0,0\n")
    df = read_dataset(path)
    assert list(df.index) == [0, 1] and list(df["ID"]) == [7, 7] and list(df["TIME"]) == [0.0, 5.0]
    assert conc(IV, path) == pytest.approx([5 * math.exp(-0.5)], rel=1e-12)


def test_unreadable_or_binary_files_are_pkmodel_errors_naming_the_path(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"ID,TIME\n\xff\xfe,0\n")
    with pytest.raises(PKModelError, match=rf"^source: got {re.escape(shown(str(binary)))}; not a UTF-8 text file"):
        read_dataset(binary)
    with pytest.raises(PKModelError, match=rf"^source: got {re.escape(shown(str(tmp_path)))}; cannot read the file"):
        read_dataset(tmp_path)  # a folder


def test_a_file_without_read_permission_is_a_pkmodel_error(tmp_path):
    """Run as an unprivileged user (root reads everything): PermissionError became a traceback."""
    folder = Path(tempfile.mkdtemp(prefix="pkmodel-test-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.csv"
        secret.write_text("ID,TIME,EVID,AMT\n1,0,1,100\n")
        secret.chmod(0o000)
        code = (
            "import json, sys\nfrom pkmodel import PKModelError\nfrom pkmodel.dosing.dataset import read_dataset\n"
            "try:\n    read_dataset(sys.argv[1])\nexcept PKModelError as err:\n"
            "    print(json.dumps([err.field, err.value, err.allowed]))\n"
        )
        command = [sys.executable, "-c", code, str(secret)]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: no other user to be")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = {**os.environ, "MPLCONFIGDIR": str(folder), "HOME": str(folder)}
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env, cwd=folder)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert json.loads(done.stdout) == ["source", str(secret), "cannot read the file (Permission denied)"]
    finally:
        shutil.rmtree(folder)


def test_csv_errors_count_data_rows_from_1(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("ID,TIME,AMT\n1,0,100\n1,1,abc\n")
    with pytest.raises(PKModelError, match=r"row 2, column AMT: got 'abc'; expected a number"):
        read_dataset(path)


# --- writing ---------------------------------------------------------------------------------------


def test_write_then_read_gives_the_same_doses(tmp_path):
    regimens = {
        1: Regimen((Dose(0, 100, "oral", f=0.5, tlag=0.5), Dose(12, 100, "iv", rate=25.0), Dose(24, 0, reset=True))),
        2: Regimen((Dose(0, 50, "iv", duration=2.0, ss=1, interval=12), Dose(6, 20, "peripheral", ss=2, interval=24),
                    Dose(30, 80, "iv", reset=True))),
    }
    path = tmp_path / "out.csv"
    write_dataset(regimens, path, observation_times=[0, 6, 12, 24, 36], depot=True)
    back = dataset_regimens(read_dataset(path), depot=True)
    assert {k: r.doses for k, r in back.items()} == {k: r.doses for k, r in regimens.items()}
    assert os.listdir(tmp_path) == ["out.csv"]  # the temporary file was moved into place


def test_written_records_are_sorted_with_doses_before_observations(tmp_path):
    path = tmp_path / "out.csv"
    write_dataset(Regimen.repeated(100, 12, n_doses=2), path, observation_times=[12, 0, 6], depot=False)
    df = pd.read_csv(path)
    assert list(df.columns) == ["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS", "MDV"]
    assert list(zip(df.TIME, df.EVID, df.MDV, df.CMT, strict=True)) == [
        (0, 1, 1, 1), (0, 0, 0, 1), (6, 0, 0, 1), (12, 1, 1, 1), (12, 0, 0, 1)
    ]
    # Observation records after the doses at their time: peaks, as simulate() gives them.
    np.testing.assert_allclose(conc(IV, path), [5, 5 * math.exp(-0.6), 5 * math.exp(-1.2) + 5], rtol=1e-12)


def test_write_refuses_an_oral_dose_without_a_depot_numbering(tmp_path):
    with pytest.raises(PKModelError, match="oral dose needs depot=True"):
        write_dataset(Regimen.single(100, "oral"), tmp_path / "x.csv", observation_times=[1], depot=False)
    assert not list(tmp_path.iterdir())


def test_write_creates_missing_folders(tmp_path):
    """Issue 7: write_dataset(reg, "no/such/dir/x.csv") raised FileNotFoundError; the folders are
    now made (as the command line does for its outputs)."""
    path = tmp_path / "no" / "such" / "dir" / "x.csv"
    write_dataset(Regimen.single(100, "iv"), path, observation_times=[5], depot=False)
    assert conc(IV, path) == pytest.approx([5 * math.exp(-0.5)], rel=1e-12)
    assert os.listdir(path.parent) == ["x.csv"]


def test_write_failures_are_pkmodel_errors_naming_the_path_and_leave_nothing(tmp_path):
    (tmp_path / "file").write_text("not a folder\n")
    target = tmp_path / "file" / "sub" / "x.csv"
    with pytest.raises(PKModelError, match=rf"^path: got {re.escape(shown(str(target)))}; cannot create the folder"):
        write_dataset(Regimen.single(100, "iv"), target, observation_times=[5], depot=False)
    with pytest.raises(PKModelError, match="^path: got ''; a file name is needed"):
        write_dataset(Regimen.single(100, "iv"), "", observation_times=[5], depot=False)
    with pytest.raises(PKModelError, match="is a folder"):
        write_dataset(Regimen.single(100, "iv"), tmp_path, observation_times=[5], depot=False)
    assert os.listdir(tmp_path) == ["file"]


def test_a_failed_write_leaves_the_old_file_and_removes_new_folders(tmp_path, monkeypatch):
    old = tmp_path / "old.csv"
    old.write_text("old\n")

    def full_disk(self, path, **kwargs):
        Path(path).write_text("ID,TIME\n1,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    for target in (old, tmp_path / "new" / "deep" / "x.csv"):
        with pytest.raises(PKModelError, match=r"cannot write the file \(No space left on device\)"):
            write_dataset(Regimen.single(100, "iv"), target, observation_times=[5], depot=False)
    assert os.listdir(tmp_path) == ["old.csv"] and old.read_text() == "old\n"


# --- properties ---------------------------------------------------------------------------------------

_times = st.integers(0, 96).map(lambda k: k * 0.5)
_amounts = st.floats(0.001, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def valid_tables(draw):
    """A random valid dataset: per ID, records in time order; doses with random options."""
    rows = []
    for pid in range(1, draw(st.integers(1, 3)) + 1):
        times = sorted(draw(st.lists(_times, min_size=1, max_size=6)))
        for t in times:
            evid = draw(st.sampled_from([0, 0, 1, 1, 2, 3, 4]))
            row = {"ID": pid, "TIME": t, "EVID": evid, "AMT": 0.0, "CMT": 0, "RATE": 0.0, "II": 0.0, "ADDL": 0,
                   "SS": 0, "F": np.nan, "ALAG": np.nan, "R": np.nan, "D": np.nan, "WT": 70.0}
            if evid in (1, 4):
                row["AMT"] = draw(_amounts)
                row["CMT"] = draw(st.integers(0, 3))
                row["RATE"] = draw(st.sampled_from([0.0, 0.0, 5.0, -1.0, -2.0]))
                row["R"] = draw(st.floats(0.1, 100))
                row["D"] = draw(st.floats(0.1, 24))
                row["SS"] = draw(st.integers(0, 2))
                row["ADDL"] = draw(st.integers(0, 3))
                if row["SS"] or row["ADDL"]:
                    row["II"] = draw(st.sampled_from([6.0, 12.0, 24.0]))
                row["F"] = draw(st.just(np.nan) | st.floats(0.01, 1.0))
                row["ALAG"] = draw(st.just(np.nan) | st.floats(0, 5))
            rows.append(row)
    return pd.DataFrame(rows)


def _through_csv(df):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        df.to_csv(path, index=False, na_rep=".")
        return read_dataset(path)


@settings(max_examples=30, deadline=None)
@given(valid_tables())
def test_random_valid_tables_are_read_and_converted(df):
    frame = read_dataset(df)
    pd.testing.assert_frame_equal(read_dataset(frame), frame)
    from_csv = _through_csv(df)
    pd.testing.assert_frame_equal(from_csv, frame, check_dtype=False)
    doses = dataset_regimens(frame, depot=True)
    dose_ids = set(df.loc[df.EVID.isin([1, 3, 4]), "ID"])
    assert set(doses) == dose_ids


@settings(max_examples=40, deadline=None)
@given(valid_tables())
def test_random_valid_tables_simulate_to_finite_concentrations(df):
    model = Model(cl=5.7, v1=60, q=0.61, v2=11.2, ka=2.0, f=0.78, tlag=0.25)
    out = simulate_dataset(model, df)
    assert len(out) == int((df.EVID == 0).sum())
    assert np.all(np.isfinite(out["conc_mg_L"])) and np.all(out["conc_mg_L"] >= -1e-9)


@settings(max_examples=15, deadline=None)
@given(valid_tables())
def test_each_observation_sees_exactly_the_records_above_it(df):
    """The rule itself, by brute force: simulate the records above each observation alone and
    take the value at its time (after everything they cause then)."""
    model = Model(cl=5.7, v1=60, q=0.61, v2=11.2, ka=2.0, tlag=0.5)
    out = simulate_dataset(model, df)
    frame = read_dataset(df)
    expected = []
    for row in np.flatnonzero(frame.EVID.to_numpy() == 0):
        above = frame.iloc[:row]
        above = above[above.ID == frame.ID.iloc[row]]
        regimen = dataset_regimens(above, depot=True).get(frame.ID.iloc[row]) if len(above) else None
        t = frame.TIME.iloc[row]
        expected.append(0.0 if regimen is None else simulate(model, regimen, [t]).concentration[0, 0])
    np.testing.assert_allclose(out["conc_mg_L"], expected, rtol=1e-9, atol=1e-12)


_junk = st.one_of(
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.none(),
    st.sampled_from([".", "", " ", "1e999", "-0", "1_000", "nan", "NaN", "١٢", "0x10", "1,5"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_tables(), st.data())
def test_junk_cells_raise_pkmodel_error_and_nothing_else(df, data):
    df = df.astype(object)
    row = data.draw(st.integers(0, len(df) - 1))
    column = data.draw(st.sampled_from(["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS", "F",
                                        "ALAG", "R", "D"]))
    df.iat[row, df.columns.get_loc(column)] = data.draw(_junk)
    for source in (df, None):
        try:
            frame = read_dataset(df) if source is not None else _through_csv(df)
            dataset_regimens(frame, depot=True)
            dataset_regimens(frame, depot=False, peripheral=False)
        except PKModelError as err:
            assert str(err).startswith(("row ", "ID ")) or err.field in ("columns", "dataset", "source"), str(err)


@st.composite
def regimens(draw):
    doses = []
    reset_times = set()
    for _ in range(draw(st.integers(1, 5))):
        t = draw(st.floats(0, 500, allow_nan=False))
        if draw(st.booleans()) and t not in reset_times and draw(st.integers(0, 4)) == 0:
            reset_times.add(t)
            doses.append(Dose(t, 0.0, reset=True))
            continue
        kind = draw(st.sampled_from(["bolus", "duration", "rate"]))
        ss = draw(st.integers(0, 2))
        reset = draw(st.booleans()) and draw(st.integers(0, 3)) == 0
        if (ss == 1 or reset) and t in reset_times:
            ss, reset = 2 if ss == 1 else ss, False
        if ss == 1 or reset:
            reset_times.add(t)
        doses.append(
            Dose(
                t,
                draw(_amounts),
                draw(st.sampled_from(["iv", "oral", "peripheral"])),
                duration=draw(st.floats(0.01, 48)) if kind == "duration" else 0.0,
                ss=ss,
                interval=draw(st.floats(0.5, 48)) if ss else None,
                rate=draw(st.floats(0.01, 1e3)) if kind == "rate" else None,
                f=draw(st.none() | st.floats(0.001, 1.0)),
                tlag=draw(st.none() | st.floats(0, 10)),
                reset=reset,
            )
        )
    return Regimen(tuple(doses))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(1, 1000), regimens(), min_size=1, max_size=3),
       st.lists(st.floats(0, 600), max_size=4))
def test_random_regimens_round_trip_through_a_csv(regs, times):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        write_dataset(regs, path, observation_times=times, depot=True)
        back = dataset_regimens(read_dataset(path), depot=True)
    for key, regimen in regs.items():
        # At one time the file has the reset (or SS = 1 dose) first, as the regimen applies it.
        doses = regimen.doses
        order = sorted(range(len(doses)), key=lambda i: (doses[i].time, not (doses[i].reset or doses[i].ss == 1), i))
        assert back[key].doses == tuple(doses[i] for i in order)


def test_a_reset_past_the_time_limit_names_its_row():
    """Found by hypothesis: an EVID 3 record after limits.MAX_TIME_H raised an error about "time"
    without the row it came from."""
    df = pd.DataFrame({"ID": [1, 2], "TIME": [0.0, 1_000_001.0], "EVID": [0, 3], "AMT": [0.0, 0.0], "CMT": [0, 0]})
    with pytest.raises(PKModelError, match=r"^row 2: time: got 1000001\.0; times are at most 1e\+06 h"):
        dataset_regimens(read_dataset(df), depot=True)
