"""simulate() with junk and extreme inputs: a result (finite, non-negative concentrations) or a
PKModelError, never another exception and never a warning (property-based, hypothesis)."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.dosing.dose import Dose

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

extreme = st.one_of(
    st.floats(min_value=1e-12, max_value=1e12),
    st.sampled_from([0.0, -1.0, 1e-300, 1e300, float("inf"), float("nan")]),
)
junk = st.one_of(extreme, st.sampled_from(["12 h", "1e-300 L/h", "", "abc", None, True, [], [1.0, 2.0]]))


def attempt(make):
    """Run ``make`` with warnings as errors: its result, or None when it raised PKModelError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return make()
        except PKModelError as err:
            assert str(err)
            return None


@st.composite
def doses(draw):
    route = draw(st.sampled_from(["iv", "oral", "peripheral"]))
    kind = draw(st.sampled_from(["bolus", "duration", "rate"]))
    kw = {}
    if kind == "duration":
        kw["duration"] = draw(extreme)
    elif kind == "rate":
        kw["rate"] = draw(extreme)
    if draw(st.booleans()):
        kw["f"] = draw(extreme)
    if draw(st.booleans()):
        kw["tlag"] = draw(extreme)
    if draw(st.integers(0, 4)) == 0:
        kw["ss"] = draw(st.sampled_from([1, 2]))
        kw["interval"] = draw(extreme)
    return attempt(lambda: Dose(draw(extreme), draw(extreme), route, **kw))


@SETTINGS
@given(
    cl=junk,
    v1=extreme,
    ka=st.one_of(st.none(), extreme),
    f=st.one_of(st.just(1.0), extreme),
    tlag=st.one_of(st.just(0.0), extreme),
    dose_list=st.lists(doses(), min_size=1, max_size=5),
    times=st.one_of(st.none(), st.lists(extreme, min_size=1, max_size=8), junk),
    method=st.sampled_from(["auto", "direct", "grid", "bogus", None]),
)
def test_simulate_gives_a_result_or_a_pkmodel_error(cl, v1, ka, f, tlag, dose_list, times, method):
    model = attempt(lambda: Model(cl=cl, v1=v1, ka=ka, f=f, tlag=tlag))
    kept = tuple(d for d in dose_list if d is not None)
    if model is None or not kept:
        return
    regimen = Regimen(kept)
    sim = attempt(lambda: simulate(model, regimen, None if times is None else times, method=method))
    if sim is None:
        return
    conc = attempt(lambda: sim.concentration)
    if conc is None:
        return
    assert conc.shape == (sim.n_subjects, len(sim.times))
    assert np.all(np.isfinite(conc)) and np.all(conc >= 0)
    attempt(lambda: sim.summary())


@SETTINGS
@given(
    amount=extreme,
    interval=extreme,
    n_doses=st.integers(1, 30),
    cl=extreme,
    v1=extreme,
    until=st.one_of(extreme, st.floats(min_value=0, max_value=1e7)),
)
def test_repeated_regimens_over_any_window(amount, interval, n_doses, cl, v1, until):
    model = attempt(lambda: Model(cl=cl, v1=v1, ka=1.0))
    regimen = attempt(lambda: Regimen.repeated(amount, interval, n_doses=n_doses, route="oral"))
    if model is None or regimen is None:
        return
    sim = attempt(lambda: simulate(model, regimen, np.linspace(0.0, until, 50) if np.isfinite(until) else [until]))
    if sim is None:
        return
    conc = attempt(lambda: sim.concentration)
    if conc is not None:
        assert np.all(np.isfinite(conc)) and np.all(conc >= 0)
        attempt(lambda: sim.summary())
