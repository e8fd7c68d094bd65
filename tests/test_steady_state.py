"""Steady state in closed form equals brute-force repeated dosing (the classic engine bugs)."""

import numpy as np
import pytest

from pkmodel import Model, Regimen, simulate
from pkmodel.dosing.dose import Dose

TWO = dict(cl=5.0, v1=20.0, q=8.0, v2=50.0)
TAU = 12.0
_DISPOSITION = Model.from_micro(0.25, 20.0, k12=0.4, k21=0.1)
_KA_IS_ALPHA = _DISPOSITION.replace(ka=_DISPOSITION.alpha, f=0.8)
CASES = {
    "iv bolus": (Model(**TWO), dict(route="iv")),
    "oral": (Model(**TWO, ka=1.1, f=0.7), dict(route="oral")),
    "oral with lag": (Model(**TWO, ka=1.1, f=0.7, tlag=0.7), dict(route="oral")),
    "oral, lag longer than tau": (Model(**TWO, ka=1.1, f=0.7, tlag=30.0), dict(route="oral")),
    "oral, ka = alpha exactly": (_KA_IS_ALPHA, dict(route="oral")),
    "short infusion": (Model(**TWO), dict(route="iv", duration=3.0)),
    "infusion as long as tau": (Model(**TWO), dict(route="iv", duration=TAU)),
    "infusion longer than tau": (Model(**TWO), dict(route="iv", duration=29.0)),
    "one compartment oral infusion with lag": (Model(cl=5.0, v1=20.0, ka=0.8, tlag=5.0), dict(route="oral", duration=20.0)),
}


@pytest.mark.parametrize("name", CASES)
def test_steady_state_equals_many_doses(name):
    model, kw = CASES[name]
    # 600 doses: the slowest mode (beta about 0.06/h) has decayed by e^-430 long before the end.
    brute = _repeated(600, False, **kw)
    at_ss = _repeated(6, True, **kw)
    t = np.linspace(0.0, 5 * TAU, 241)
    expected = simulate(model, brute, (600 - 6) * TAU + t).concentration[0]
    got = simulate(model, at_ss, t).concentration[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    assert np.all(got > 0)


def _repeated(n: int, steady_state: bool, route: str, duration: float = 0.0) -> Regimen:
    # Built from Dose: Regimen.repeated infuses IV only, and one case infuses into the depot.
    doses = [Dose(i * TAU, 100.0, route, duration) for i in range(n)]
    if steady_state:
        doses[0] = Dose(0.0, 100.0, route, duration, ss=1, interval=TAU)
    return Regimen(tuple(doses), TAU)


def test_ss2_adds_steady_state_to_what_is_there():
    model = Model(**TWO, ka=1.1, f=0.7, tlag=0.5)
    earlier = Dose(0.0, 300.0, "iv")
    ss2 = Dose(5.0, 100.0, "oral", ss=2, interval=TAU)
    combined = Regimen((earlier, ss2))
    t = np.linspace(0, 40, 161)
    got = simulate(model, combined, t).concentration[0]
    alone = simulate(model, Regimen((earlier,)), t).concentration[0]
    ss_only = simulate(model, Regimen((Dose(5.0, 100.0, "oral", ss=1, interval=TAU),)), t).concentration[0]
    np.testing.assert_allclose(got, alone + ss_only, rtol=1e-12, atol=1e-15)


def test_ss1_resets_what_came_before():
    model = Model(**TWO)
    before = Regimen.single(1000.0, duration=10.0)  # still infusing when the reset comes
    reset = Regimen((Dose(4.0, 100.0, "iv", ss=1, interval=TAU),))
    t = np.linspace(4.0, 40, 145)
    got = simulate(model, before + reset, t).concentration[0]
    expected = simulate(model, reset, t).concentration[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_steady_state_trough_and_peak_by_hand_one_compartment():
    k, v, dose = 0.1, 20.0, 100.0
    sim = simulate(Model(cl=k * v, v1=v), Regimen.repeated(dose, TAU, n_doses=2, steady_state=True), [0.0, TAU])
    r = np.exp(-k * TAU)
    peak = dose / v / (1 - r)  # C_max,ss = (D/V) / (1 - e^(-k tau)); trough = peak e^(-k tau)
    np.testing.assert_allclose(sim.concentration[0], [peak, peak], rtol=1e-13)
    assert sim.at([TAU], left=True)[0, 0] == pytest.approx(peak * r, rel=1e-13)
    assert sim.summary().cmin_mg_L.iloc[0] == pytest.approx(peak * r, rel=1e-13)
