"""pkmodel.nca against hand arithmetic, exact AUCs of closed-form profiles and PKNCA's rules."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.analysis.nca import accumulation, nca

LN2 = math.log(2)


def tidy(times, concs, subject=1):
    return pd.DataFrame({"subject": subject, "time": times, "conc": concs})


def row(table, i=0):
    return table.iloc[i]


def log_linear(times, concs):
    """Least-squares line through (t, ln C) by the textbook sums: slope, intercept, r², adj r²."""
    n = len(times)
    y = [math.log(c) for c in concs]
    tm, ym = sum(times) / n, sum(y) / n
    sxx = sum((t - tm) ** 2 for t in times)
    sxy = sum((t - tm) * (v - ym) for t, v in zip(times, y))
    syy = sum((v - ym) ** 2 for v in y)
    slope = sxy / sxx
    r2 = sxy**2 / (sxx * syy)
    return slope, ym - slope * tm, r2, 1 - (1 - r2) * (n - 1) / (n - 2)


# --- hand-computed small profiles -----------------------------------------------------------


def test_oral_profile_by_hand_linear_and_lin_up_log_down():
    t = [0, 1, 2, 4, 6]
    c = [0.0, 4.0, 6.0, 3.0, 1.2]
    linear = row(nca(tidy(t, c), auc_method="linear", dose=100.0, route="extravascular"))
    assert linear["cmax"] == 6.0 and linear["tmax"] == 2.0
    assert linear["tlast"] == 6.0 and linear["clast.obs"] == 1.2
    # Trapezoids: (0+4)/2·1 + (4+6)/2·1 + (6+3)/2·2 + (3+1.2)/2·2
    assert linear["auclast"] == pytest.approx(2 + 5 + 9 + 4.2, rel=1e-14)
    # First moment, linear: each segment ∫ t·C dt with C linear = Δt/6 (c0 (2 t0 + t1) + c1 (t0 + 2 t1)).
    aumc = 1 / 6 * (0 + 4 * 2) + 1 / 6 * (4 * 4 + 6 * 5) + 2 / 6 * (6 * 8 + 3 * 10) + 2 / 6 * (3 * 14 + 1.2 * 16)
    assert linear["aumclast"] == pytest.approx(aumc, rel=1e-14)

    log = row(nca(tidy(t, c), dose=100.0, route="extravascular"))
    # Up (and flat) segments linear; falling ones (c0 - c1) Δt / ln(c0/c1).
    expected = 2 + 5 + (6 - 3) * 2 / math.log(2) + (3 - 1.2) * 2 / math.log(3 / 1.2)
    assert log["auclast"] == pytest.approx(expected, rel=1e-14)

    # λz: only 2 points after Tmax (t = 4, 6; Tmax excluded) -> NaN with the reason.
    assert math.isnan(log["lambda.z"]) and math.isnan(log["aucinf.obs"]) and math.isnan(log["cl.obs"])
    assert "too few points for lambda.z" in log["exclude"]
    # allow_tmax_in_half_life: the 3 points 2, 4, 6 are fitted.
    with_tmax = row(nca(tidy(t, c), dose=100.0, route="extravascular", allow_tmax_in_half_life=True))
    slope, intercept, r2, adj = log_linear([2, 4, 6], [6.0, 3.0, 1.2])
    assert with_tmax["lambda.z"] == pytest.approx(-slope, rel=1e-12)
    assert with_tmax["r.squared"] == pytest.approx(r2, rel=1e-12)
    assert with_tmax["adj.r.squared"] == pytest.approx(adj, rel=1e-12)
    assert with_tmax["lambda.z.n.points"] == 3
    assert with_tmax["half.life"] == pytest.approx(LN2 / -slope, rel=1e-12)
    assert with_tmax["clast.pred"] == pytest.approx(math.exp(intercept + slope * 6), rel=1e-12)
    assert with_tmax["span.ratio"] == pytest.approx(4 / (LN2 / -slope), rel=1e-12)
    aucinf = expected + 1.2 / -slope
    assert with_tmax["aucinf.obs"] == pytest.approx(aucinf, rel=1e-12)
    assert with_tmax["aucpext.obs"] == pytest.approx(100 * (1.2 / -slope) / aucinf, rel=1e-12)
    assert with_tmax["cl.obs"] == pytest.approx(100 / aucinf, rel=1e-12)
    assert with_tmax["vz.obs"] == pytest.approx(100 / aucinf / -slope, rel=1e-12)
    assert math.isnan(with_tmax["vss.obs"])  # extravascular: no Vss


@pytest.mark.parametrize("c2, n_points", [(7.0, 4), (9.5, 3)])
def test_lambda_z_regression_on_four_points_by_hand(c2, n_points):
    # After Tmax (t = 1): 2, 3, 5, 8. Candidates: last 3 (3, 5, 8) and last 4 (2, 3, 5, 8).
    t = [0, 1, 2, 3, 5, 8]
    c = [0.0, 10.0, c2, 5.2, 2.5, 1.0]
    r = row(nca(tidy(t, c)))
    fits = {k: log_linear(t[-k:], c[-k:]) for k in (3, 4)}
    best = max(f[3] for f in fits.values())
    # PKNCA: adj r² within 1e-4 of the best and λz > 0, then the most points.
    chosen = max(k for k, f in fits.items() if f[3] > best - 1e-4 and f[0] < 0)
    assert r["lambda.z.n.points"] == chosen
    assert r["lambda.z"] == pytest.approx(-fits[chosen][0], rel=1e-12)
    assert r["adj.r.squared"] == pytest.approx(fits[chosen][3], rel=1e-12)
    assert r["lambda.z.time.first"] == t[-chosen] and r["lambda.z.time.last"] == 8
    # The hand numbers: with 7.0 at 2 h the 4-point fit has the better adj r² (0.9977 against
    # 0.9949); with 9.5 the point at 2 h bends the line and the 3-point fit wins.
    assert chosen == n_points


def test_more_points_preferred_within_the_tolerance():
    # A tail exactly 10 e^(-0.2 t) from t = 4 on; the point at 2 h lies above the line.
    t = [0, 1, 2, 4, 6, 8, 12]
    c = [0.0, 9.0, 7.5] + [10 * math.exp(-0.2 * x) for x in (4, 6, 8, 12)]
    r = row(nca(tidy(t, c)))
    # Last 3 and last 4 points both fit exactly (adj r² = 1): the 4-point fit is chosen.
    assert r["lambda.z.n.points"] == 4 and r["lambda.z.time.first"] == 4
    assert r["lambda.z"] == pytest.approx(0.2, rel=1e-12)
    assert r["adj.r.squared"] == pytest.approx(1.0, abs=1e-12)
    # A larger tolerance admits the 5-point fit, which then wins by its number of points.
    _, _, _, adj5 = log_linear(t[2:], c[2:])
    loose = row(nca(tidy(t, c), adj_r_squared_factor=1.01 * (1 - adj5)))
    assert loose["lambda.z.n.points"] == 5


def test_picked_points_are_fitted_as_given():
    t = [0, 1, 2, 3, 5, 8]
    c = [0.0, 10.0, 7.0, 5.2, 2.5, 1.0]
    r = row(nca(tidy(t, c), lambda_z_times=[2, 5, 8]))
    slope, *_ = log_linear([2, 5, 8], [7.0, 2.5, 1.0])
    assert r["lambda.z"] == pytest.approx(-slope, rel=1e-12) and r["lambda.z.n.points"] == 3
    # A mapping picks for one subject; the other keeps the automatic rule.
    data = pd.concat([tidy(t, c, "a"), tidy(t, c, "b")])
    both = nca(data, lambda_z_times={"a": [2, 5, 8]}).set_index("subject")
    assert both.loc["a", "lambda.z"] == pytest.approx(-slope, rel=1e-12)
    # (b: the 4-point fit has the better adjusted R², see the test above)
    assert both.loc["b", "lambda.z"] == pytest.approx(-log_linear(t[-4:], c[-4:])[0], rel=1e-12)
    with pytest.raises(PKModelError, match="lambda_z_times"):
        nca(tidy(t, c), lambda_z_times=[2, 4])


# --- exact AUCs of simulated profiles -------------------------------------------------------

DOSE, CL, V = 100.0, 2.0, 20.0
K = CL / V


def test_iv_bolus_one_compartment_is_exact_with_log_down():
    t = np.array([0, 0.5, 1, 2, 4, 6, 8, 12, 24])
    sim = simulate(Model(cl=CL, v1=V), Regimen.single(DOSE), t)
    r = row(nca(sim))
    assert r["route"] == "intravascular" and r["dose"] == DOSE
    assert r["cmax"] == pytest.approx(DOSE / V) and r["tmax"] == 0
    assert r["lambda.z"] == pytest.approx(K, rel=1e-10)
    assert r["half.life"] == pytest.approx(LN2 / K, rel=1e-10)
    assert r["lambda.z.time.first"] == 0.5  # Tmax (0 h) is not in the fit, as in PKNCA
    assert r["auclast"] == pytest.approx(DOSE / V / K * (1 - math.exp(-K * 24)), rel=1e-12)
    assert r["aucinf.obs"] == pytest.approx(DOSE / CL, rel=1e-12)
    assert r["aucinf.pred"] == pytest.approx(DOSE / CL, rel=1e-10)
    assert r["cl.obs"] == pytest.approx(CL, rel=1e-12)
    assert r["vz.obs"] == pytest.approx(V, rel=1e-10)
    assert r["aumcinf.obs"] == pytest.approx(DOSE / V / K**2, rel=1e-10)  # ∫ t C0 e^(-kt) = C0/k²
    assert r["mrt.obs"] == pytest.approx(1 / K, rel=1e-10)
    assert r["vss.obs"] == pytest.approx(V, rel=1e-10)
    # The linear trapezoid overestimates a convex curve.
    assert row(nca(sim, auc_method="linear"))["auclast"] > r["auclast"]


def test_iv_infusion_vss_subtracts_half_the_infusion():
    duration = 2.0
    t = np.concatenate([[0, 0.5, 1, 1.5, 2], np.arange(3, 49, 1.0)])
    sim = simulate(Model(cl=CL, v1=V), Regimen.single(DOSE, duration=duration), t)
    r = row(nca(sim))
    # Log-down is exact after the infusion; the rise is concave, so the trapezoids there are low.
    assert r["auclast"] < sim.auc(0, 48)[0] and r["auclast"] == pytest.approx(sim.auc(0, 48)[0], rel=2e-3)
    assert r["lambda.z"] == pytest.approx(K, rel=1e-10)
    assert r["lambda.z.time.first"] > duration
    assert r["vss.obs"] == pytest.approx(V, rel=5e-3)


def test_oral_trapezoid_error_within_its_bound():
    ka, h = 1.2, 0.05
    model = Model(cl=CL, v1=V, ka=ka)
    t = np.round(np.arange(0, 48 + h / 2, h), 10)
    sim = simulate(model, Regimen.single(DOSE, "oral"), t)
    exact = sim.auc(0, 48)[0]
    # |C''| <= A (k² + ka²) with C = A (e^(-kt) - e^(-ka t)); the composite trapezoid errs by at
    # most T h² max|C''| / 12.
    a = DOSE * ka / (V * (ka - K))
    bound = 48 * h**2 * a * (K**2 + ka**2) / 12
    for method in ("linear", "lin up/log down"):
        r = row(nca(sim, auc_method=method))
        assert abs(r["auclast"] - exact) <= bound
    r = row(nca(sim))
    assert r["aucinf.obs"] == pytest.approx(DOSE / CL, rel=2e-3)
    assert r["cl.obs"] == pytest.approx(CL, rel=2e-3)  # CL/F with F = 1
    # PKNCA's rule admits points still touched by absorption (e^(-ka t) near Tmax): within 0.5 %;
    # points picked after absorption is over (e^(-ka t) < 1e-9) give k.
    assert r["lambda.z"] == pytest.approx(K, rel=5e-3)
    assert row(nca(sim, lambda_z_times=[24, 36, 48]))["lambda.z"] == pytest.approx(K, rel=1e-8)


def test_two_compartment_terminal_rate():
    q, v2 = 4.0, 40.0
    k10, k12, k21 = CL / V, q / V, q / v2
    s = k10 + k12 + k21
    beta = (s - math.sqrt(s * s - 4 * k10 * k21)) / 2
    t = np.concatenate([np.arange(0, 4, 0.25), np.arange(4, 121, 4.0)])
    sim = simulate(Model(cl=CL, v1=V, q=q, v2=v2), Regimen.single(DOSE), t)
    r = row(nca(sim))
    # The automatic rule takes every point whose fit is within 1e-4 of the best adjusted R²,
    # which reaches a little into the distribution phase (alpha = 0.37/h): within 0.5 %.
    assert r["lambda.z"] == pytest.approx(beta, rel=5e-3)
    assert r["half.life"] == pytest.approx(LN2 / beta, rel=5e-3)
    # ln C of a sum of exponentials is convex, so the log trapezoid lies above it: AUC a bit high.
    assert DOSE / CL < r["aucinf.obs"] < DOSE / CL * 1.01
    assert r["vss.obs"] == pytest.approx(V + v2, rel=2e-2)
    # Points picked deep in the terminal phase (e^(-alpha t) < 1e-6 of the beta term) give beta.
    late = row(nca(sim, lambda_z_times=[48, 72, 96, 120]))
    assert late["lambda.z"] == pytest.approx(beta, rel=1e-6)


def test_subjects_are_analysed_at_once_and_match_one_by_one():
    cl = np.array([1.0, 2.0, 4.0])
    sim = simulate(Model(cl=cl, v1=V), Regimen.single(DOSE), np.arange(0, 49, 1.0))
    table = nca(sim)
    assert list(table["subject"]) == [0, 1, 2]
    np.testing.assert_allclose(table["cl.obs"], cl, rtol=1e-10)
    np.testing.assert_allclose(table["lambda.z"], cl / V, rtol=1e-10)


def test_dosing_intervals_and_accumulation():
    tau = 12.0
    sim = simulate(Model(cl=CL, v1=V), Regimen.repeated(DOSE, tau, n_doses=20), np.arange(0, 240.5, 0.5))
    table = nca(sim, intervals=[(0, tau), (216, 228)])
    assert list(table["start"]) == [0, 216]
    first, ss = row(table, 0), row(table, 1)
    r = math.exp(-K * tau)
    # The 19th dose starts the interval at 216 h: superposition of 19 boluses, a geometric sum.
    grow = (1 - r**19) / (1 - r)
    assert first["auctau"] == pytest.approx(DOSE / CL * (1 - r), rel=1e-12)
    # AUC over the interval = dose/CL (1 - r) · grow; it ends just before the next bolus.
    assert ss["auctau"] == pytest.approx(DOSE / CL * (1 - r) * grow, rel=1e-12)
    assert ss["ctrough"] == pytest.approx(DOSE / V * r * grow, rel=1e-12)
    assert ss["cmax"] == pytest.approx(DOSE / V * grow, rel=1e-12)
    assert ss["cmin"] == pytest.approx(ss["ctrough"], rel=1e-12)
    assert ss["cav"] == pytest.approx(ss["auctau"] / tau, rel=1e-12)
    assert ss["ptf"] == pytest.approx(100 * (1 - r) * DOSE / V * grow / ss["cav"], rel=1e-12)
    assert ss["swing"] == pytest.approx(100 * (1 / r - 1), rel=1e-10)
    rac = accumulation(table, (0, tau), (216, 228))
    assert rac["rac.auctau"].iloc[0] == pytest.approx(grow, rel=1e-12)
    assert rac["rac.cmax"].iloc[0] == pytest.approx(grow, rel=1e-12)
    with pytest.raises(PKModelError, match="first"):
        accumulation(table, (0, 24), (216, 228))


def test_nonmem_dataset_gives_the_same_as_the_tidy_table():
    t = [0, 0.5, 1, 2, 4, 8, 12, 24]
    c = [0.0, 2.0, 3.1, 3.3, 2.4, 1.3, 0.7, 0.12]
    records = pd.DataFrame(
        {
            "ID": [7] * 9,
            "TIME": [0] + t,
            "EVID": [1] + [0] * 8,
            "AMT": [250.0] + [0.0] * 8,
            "CMT": [1] * 9,
            "DV": ["."] + c,
            "MDV": [1] + [0] * 8,
        }
    )
    from_dataset = row(nca(records, depot=True))
    from_tidy = row(nca(tidy(t, c, 7), dose=250.0, route="extravascular"))
    assert from_dataset["route"] == "extravascular" and from_dataset["dose"] == 250
    for key in ("auclast", "aucinf.obs", "lambda.z", "cl.obs", "vz.obs"):
        assert from_dataset[key] == pytest.approx(from_tidy[key], rel=1e-14)
    assert from_dataset["cl.obs"] == pytest.approx(250 / from_dataset["aucinf.obs"], rel=1e-14)
    with pytest.raises(PKModelError, match="depot"):
        nca(records)


# --- BLQ -------------------------------------------------------------------------------------

BLQ_T = [0, 1, 2, 3, 4, 6, 8, 10]
BLQ_C = [0.04, 0.5, 2.0, 0.05, 1.6, 1.0, 0.5, 0.02]  # LLOQ 0.1: BLQ at 0, 3 and 10 h


def test_blq_pknca_default_zero_first_drop_middle():
    r = row(nca(tidy(BLQ_T, BLQ_C), lloq=0.1))
    assert r["tlast"] == 8 and r["clast.obs"] == 0.5  # the BLQ value at 10 h is not measurable
    # 0 h counts as 0, 3 h is dropped: segments 0-1, 1-2, 2-4 (falling, log), 4-6, 6-8.
    auc = 0.25 + 1.25 + 2 * 0.4 / math.log(2 / 1.6) + 2 * 0.6 / math.log(1.6) + 2 * 0.5 / math.log(2)
    assert r["auclast"] == pytest.approx(auc, rel=1e-14)
    assert r["lambda.z.n.points"] == 3 and r["lambda.z.time.first"] == 4  # 3 h is not a point


def test_blq_rules_zero_drop_lloq_half_and_number():
    data = tidy(BLQ_T, BLQ_C)
    zero = row(nca(data, lloq=0.1, blq="zero", auc_method="linear"))
    assert zero["auclast"] == pytest.approx(0.25 + 1.25 + 1 + 0.8 + 2.6 + 1.5, rel=1e-14)
    half = row(nca(data, lloq=0.1, blq="lloq/2", auc_method="linear"))
    # 0.05 at 0 h and 3 h: (0.05+0.5)/2 + (0.5+2)/2 + (2+0.05)/2 + (0.05+1.6)/2 + 2.6 + 1.5
    assert half["auclast"] == pytest.approx(0.275 + 1.25 + 1.025 + 0.825 + 2.6 + 1.5, rel=1e-14)
    assert half["lambda.z.time.first"] == 4  # imputed values are never λz points
    number = row(nca(data, lloq=0.1, blq={"first": 0.0, "middle": 0.08}, auc_method="linear"))
    assert number["auclast"] == pytest.approx(0.25 + 1.25 + 1.04 + 0.84 + 2.6 + 1.5, rel=1e-14)
    dropped = row(nca(data, lloq=0.1, blq="drop"))
    # Without the 0 h sample there is no concentration at the interval start: no AUC, reason given.
    assert math.isnan(dropped["auclast"]) and "interval start" in dropped["exclude"]
    assert dropped["cmax"] == 2.0 and dropped["lambda.z"] == pytest.approx(row(nca(data, lloq=0.1))["lambda.z"])
    with pytest.raises(PKModelError, match="lloq"):
        nca(data, blq="lloq/2")
    with pytest.raises(PKModelError, match="blq"):
        nca(data, blq={"last": "drop"})


def test_zeros_are_blq_without_lloq():
    r = row(nca(tidy([0, 1, 2, 4, 6, 8], [0, 3, 2, 0, 1, 0])))
    assert r["tlast"] == 6 and r["clast.obs"] == 1
    # 0-1 up (linear), 1-2 down 3 -> 2 (log), 4 h dropped, 2-6 down 2 -> 1 over 4 h (log).
    assert r["auclast"] == pytest.approx(1.5 + 1 / math.log(1.5) + 4 / math.log(2), rel=1e-14)


# --- invalid input and random profiles ------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, data, field",
    [
        ({}, tidy([0, 2, 1], [0, 1, 2]), "column time"),
        ({}, tidy([0, 1, 1], [0, 1, 2]), "column time"),
        ({}, tidy([0, 1, 2], [0, -1, 2]), "column conc"),
        ({}, tidy([0, 1, 2], [0, np.nan, 2]), "column conc"),
        ({}, tidy([0, 1, 2], [0, "x", 2]), "column conc"),
        ({}, tidy([0, -1, 2], [0, 1, 2]), "column time"),
        ({"conc": "dv"}, tidy([0, 1], [0, 1]), "conc"),
        ({"auc_method": "log"}, tidy([0, 1], [0, 1]), "auc_method"),
        ({"lloq": -1}, tidy([0, 1], [0, 1]), "lloq"),
        ({"min_hl_points": 2}, tidy([0, 1], [0, 1]), "min_hl_points"),
        ({"intervals": [(5, 1)]}, tidy([0, 1], [0, 1]), "intervals"),
        ({"dose": 100.0}, tidy([0, 1], [0, 1]), "route"),
        ({"dose": -5.0, "route": "intravascular"}, tidy([0, 1], [0, 1]), "dose"),
        ({"dose": 1.0, "route": "iv"}, tidy([0, 1], [0, 1]), "route"),
    ],
)
def test_invalid_input_names_the_field(kwargs, data, field):
    with pytest.raises(PKModelError, match=field):
        nca(data, **kwargs)


def test_not_a_table():
    with pytest.raises(PKModelError, match="data"):
        nca([1, 2, 3])


profiles = st.lists(
    st.tuples(st.floats(0.01, 100), st.one_of(st.just(0.0), st.floats(1e-6, 1e4))), min_size=1, max_size=12
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profiles,
    st.sampled_from(["linear", "lin up/log down"]),
    st.sampled_from(["pknca", "zero", "drop", "lloq/2"]),
    st.sampled_from([None, 0.5]),
)
def test_random_profiles_give_numbers_or_nan_with_reason(points, method, blq, lloq):
    steps, concs = zip(*points)
    times = np.cumsum(steps) - steps[0]
    if blq == "lloq/2" and lloq is None:
        lloq = 0.5
    r = row(nca(tidy(times, concs), auc_method=method, blq=blq, lloq=lloq, dose=10.0, route="intravascular"))
    for key in ("cmax", "tmax", "auclast", "lambda.z", "aucinf.obs", "cl.obs", "vss.obs", "half.life"):
        value = r[key]
        assert math.isnan(value) or math.isfinite(value)
        if math.isnan(value):
            assert r["exclude"] != ""
    if not math.isnan(r["lambda.z"]):
        assert r["lambda.z"] > 0 and r["lambda.z.n.points"] >= 3
    if not math.isnan(r["auclast"]):
        assert r["auclast"] >= 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)), min_size=1, max_size=6))
def test_invalid_values_raise_pkmodel_error(values):
    frame = pd.DataFrame({"subject": 1, "time": np.arange(len(values), dtype=float), "conc": values})
    concs = pd.to_numeric(frame["conc"], errors="coerce")
    valid = bool(concs.notna().all() and np.isfinite(concs).all() and (concs >= 0).all())
    if valid:
        nca(frame)
    else:
        with pytest.raises(PKModelError):
            nca(frame)


def test_ragged_subjects_match_one_at_a_time():
    a = tidy([0, 1, 2, 4, 8, 12], [0, 5, 4, 2.5, 1.1, 0.5], "a")
    b = tidy([0, 0.5, 1, 3, 6, 9, 12, 24], [0, 1, 3, 2.2, 1.5, 1.0, 0.7, 0.15], "b")
    c = tidy([0, 1, 2], [0, 0, 0], "c")  # nothing measurable
    both = nca(pd.concat([a, b, c]), dose={"a": 100.0, "b": 50.0}, route="extravascular")
    assert list(both["subject"]) == ["a", "b", "c"]
    for i, (one, dose) in enumerate(((a, 100.0), (b, 50.0))):
        alone = row(nca(one, dose=dose, route="extravascular"))
        for key in ("auclast", "lambda.z", "aucinf.obs", "cl.obs", "tlast"):
            assert both.iloc[i][key] == alone[key]
    last = both.iloc[2]
    assert last["cmax"] == 0 and math.isnan(last["tlast"]) and math.isnan(last["dose"])
    assert "no measurable concentration" in last["exclude"] and "no dose" in last["exclude"]


def test_dataset_with_addl_doses_and_two_subjects():
    # ID 1: 100 mg IV bolus every 12 h (ADDL 2) sampled over the third interval; ID 2: one dose.
    k, v = 0.1, 20.0
    t1 = [24, 26, 30, 33, 36]
    c1 = [100 / v * sum(math.exp(-k * (t - d)) for d in (0, 12, 24)) for t in t1]
    t2 = [0, 1, 2, 4, 8]
    c2 = [50 / v * math.exp(-k * t) for t in t2]
    records = pd.DataFrame(
        {
            "ID": [1] * 6 + [2] * 6,
            "TIME": [0] + t1 + [0] + t2,
            "EVID": [1] + [0] * 5 + [1] + [0] * 5,
            "AMT": [100.0] + [0.0] * 5 + [50.0] + [0.0] * 5,
            "II": [12.0] + [0.0] * 5 + [0.0] * 6,
            "ADDL": [2] + [0] * 5 + [0] * 6,
            "DV": [np.nan] + c1 + [np.nan] + c2,
            "MDV": [1] + [0] * 5 + [1] + [0] * 5,
        }
    )
    table = nca(records, depot=False, intervals=[(24, 36), (0, math.inf)]).set_index(["ID", "start"])
    steady = table.loc[(1, 24.0)]
    assert steady["route"] == "intravascular" and steady["dose"] == 100
    r = math.exp(-k * 12)
    # Exact: the 3rd interval after doses at 0, 12, 24 is (1 + r + r²) times the first, and
    # the sample at 36 h is before the (absent) 4th dose.
    assert steady["auctau"] == pytest.approx(100 / (k * v) * (1 - r) * (1 + r + r * r), rel=1e-12)
    single = table.loc[(2, 0.0)]
    assert single["cl.obs"] == pytest.approx(k * v, rel=1e-12)
    assert single["vss.obs"] == pytest.approx(v, rel=1e-10)
    # ID 1 has no sample at 0 h: its whole-profile AUC is NaN with the reason.
    assert math.isnan(table.loc[(1, 0.0)]["auclast"]) and "interval start" in table.loc[(1, 0.0)]["exclude"]


def test_size_is_checked_before_allocating(monkeypatch):
    monkeypatch.setattr("pkmodel.analysis.nca_profiles.MAX_CELLS", 10)
    with pytest.raises(PKModelError, match="subject-samples"):
        nca(tidy(np.arange(11.0), np.ones(11)))


def test_absurd_values_give_nan_with_a_reason():
    r = row(nca(tidy([0, 1, 2, 3], [0.0, 1.7e308, 1e308, 1e307]), auc_method="linear"))
    assert math.isnan(r["auclast"]) and "floating-point range" in r["exclude"]
