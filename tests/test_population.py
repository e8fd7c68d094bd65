"""simulate(..., population=...): in memory, in chunks and on a Dask cluster; percentiles against
the analytic distribution; per-subject metrics; the probability of exceeding a level."""

import math
import warnings
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, load_params, simulate
from pkmodel.drugs.variability import Variability
from pkmodel.simulation import log_histogram, population
from pkmodel.simulation.log_histogram import LogHistogram
from pkmodel.simulation.population import Population
from pkmodel.simulation.population_result import PopulationResult

# One compartment, IV bolus: C(t) = D/V exp(-CL/V t).
DOSE, V, CL, CV = 100.0, 10.0, 1.0, 30.0
IV = Model(cl=CL, v1=V)
BOLUS = Regimen.single(DOSE, route="iv")
TIMES = np.linspace(0.0, 24.0, 25)
ORAL = Model(cl=4.0, v1=50.0, q=2.0, v2=30.0, ka=1.5, f=0.8)
BID = Regimen.parse("500 mg PO bid for 3 days")


def bins(histogram):
    """Every bin that holds a value, by time and absolute bin number, with its count and the
    level: the histogram whatever room its rows leave beside the values."""
    rows, cols = np.nonzero(histogram.counts)
    return histogram.level, rows, histogram.lo[rows] + cols, histogram.counts[rows, cols], histogram.zeros


def assert_same_bins(a, b):
    for x, y in zip(bins(a), bins(b), strict=True):
        np.testing.assert_array_equal(x, y)


def oral_population(n, **kw):
    return Population(n, Variability(cv={"cl": 30, "v1": 20, "ka": 40}, correlation={("cl", "v1"): 0.4}), seed=7, **kw)


def test_a_population_that_fits_in_memory_is_a_simulation_with_one_row_per_subject():
    pop = oral_population(40)
    sim = simulate(ORAL, BID, TIMES, population=pop)
    assert sim.concentration.shape == (40, len(TIMES))
    single = simulate(pop.model(ORAL, 12, 13), BID, TIMES)
    np.testing.assert_array_equal(sim.concentration[12], single.concentration[0])


def test_chunked_and_in_memory_runs_agree_exactly():
    n = 60
    memory = simulate(ORAL, BID, TIMES, population=oral_population(n))
    expected = memory.summary()
    for size in (7, 60):
        streamed = simulate(ORAL, BID, TIMES, population=oral_population(n, chunk_size=size), progress=False)
        assert isinstance(streamed, PopulationResult)
        got_metrics = streamed.summary()
        assert list(got_metrics.columns) == list(expected.columns)
        for column in expected.columns:
            if column != "cmax_mg_L":
                np.testing.assert_array_equal(got_metrics[column].to_numpy(), expected[column].to_numpy())
        # Cmax is refined by a minimiser that evaluates the subjects still iterating together, and
        # the engine's sums over that set may round differently in the last bit (1 ulp seen).
        np.testing.assert_allclose(got_metrics["cmax_mg_L"], expected["cmax_mg_L"], rtol=4e-16, atol=0)
        # The curves themselves are identical: the same bins as the in-memory concentrations.
        assert_same_bins(streamed.histogram, LogHistogram.of(memory.concentration, 1e-3, 10**7))
        # The percentiles are order statistics of the in-memory curves, within the stated rtol.
        exact = np.quantile(memory.concentration, [0.05, 0.5, 0.95], axis=0, method="inverted_cdf")
        got = streamed.quantiles([0.05, 0.5, 0.95])
        np.testing.assert_allclose(got, exact, rtol=streamed.rtol * (1 + 1e-9), atol=0)
    seven = simulate(ORAL, BID, TIMES, population=oral_population(n, chunk_size=7), progress=False)
    sixty = simulate(ORAL, BID, TIMES, population=oral_population(n, chunk_size=60), progress=False)
    assert_same_bins(seven.histogram, sixty.histogram)
    np.testing.assert_array_equal(seven.percentiles().to_numpy(), sixty.percentiles().to_numpy())


def test_percentiles_of_a_large_population_follow_the_analytic_distribution():
    # CL log-normal: ln CL ~ N(ln 1, w²), w² = ln(1 + 0.3²). C(t) falls as CL rises, so the
    # q-quantile of C(t) is C at the (1 - q)-quantile of CL:
    #     Q_C(q, t) = D/V exp(-CL exp(w z_(1-q)) t / V).
    n = 40_000
    pop = Population(n, Variability(cv={"cl": CV}), seed=2024, chunk_size=10_000, metrics=False)
    result = simulate(IV, BOLUS, TIMES, population=pop, progress=False)
    w = math.sqrt(math.log(1 + (CV / 100) ** 2))
    for q in (0.05, 0.5, 0.95):
        z = NormalDist().inv_cdf(1 - q)
        cl_q = CL * math.exp(w * z)
        analytic = DOSE / V * np.exp(-cl_q * TIMES / V)
        # The SE of an empirical quantile of ln CL is w sqrt(q(1-q)/n) / phi(z); through C it is
        # multiplied by CL_q t / V. Allowed: 5 SE plus the binning error.
        se = cl_q * TIMES / V * w * math.sqrt(q * (1 - q) / n) / NormalDist().pdf(z)
        got = result.quantiles([q])[0]
        np.testing.assert_array_less(np.abs(got / analytic - 1), 5 * se + result.rtol + 1e-12)


def test_the_probability_of_exceeding_a_level_is_counted_from_each_subjects_exact_cmax():
    pop = oral_population(80, chunk_size=25)
    result = simulate(ORAL, BID, TIMES, population=pop, progress=False)
    cmax = simulate(ORAL, BID, TIMES, population=oral_population(80)).summary()["cmax_mg_L"].to_numpy()
    level = float(np.median(cmax))
    assert result.probability_above(level) == np.mean(cmax > level) == 0.5
    with pytest.raises(PKModelError) as err:
        result.probability_above(1.0, metric="nope")
    assert err.value.field == "metric"


@pytest.mark.parametrize("tasks_per_thread", [4, 1])
def test_the_dask_cluster_gives_the_local_result_bit_for_bit(tasks_per_thread, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    # 5 chunks on 2 threads: one chunk per task (4 tasks per thread), or runs of 3 and 2 chunks.
    monkeypatch.setattr(population, "TASKS_PER_THREAD", tasks_per_thread)
    pop = oral_population(90, chunk_size=20)
    local = simulate(ORAL, BID, TIMES, population=pop, progress=False)
    with warnings.catch_warnings():
        # A LocalCluster started inside a test may warn about its own process/port setup
        # (ResourceWarning on closed sockets, DeprecationWarning from tornado/asyncio internals):
        # that is the cluster's noise, not pkmodel's; the result is checked exactly below.
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        with distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster:
            with distributed.Client(cluster) as client:
                remote = simulate(ORAL, BID, TIMES, population=pop, progress=False, client=client)
    assert_same_bins(remote.histogram, local.histogram)
    q = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(remote.quantiles(q), local.quantiles(q))
    np.testing.assert_array_equal(remote.summary().to_numpy(), local.summary().to_numpy())


def test_the_shipped_variability_table_drives_a_population():
    model = load_params("mildronate")
    sim = simulate(
        model, Regimen.parse("500 mg PO bid for 2 days"), TIMES, population=Population(30, "mildronate", seed=1)
    )
    assert sim.concentration.shape == (30, len(TIMES))
    assert np.std(np.log(sim.model.cl)) > 0 and np.all(sim.model.q == model.q)


def test_residual_error_observations_of_a_population():
    from pkmodel.drugs.residual_error import ResidualError

    pop = Population(20, Variability(cv={"cl": 30}), seed=4, residual=ResidualError(proportional=0.1))
    sim = simulate(IV, BOLUS, TIMES, population=pop)
    y = pop.observe(sim)
    ratio = y / sim.concentration - 1
    assert abs(np.std(ratio) - 0.1) < 0.02 and y.shape == sim.concentration.shape


# --- progress bar ----------------------------------------------------------------------------------


def test_a_progress_bar_shows_when_asked_and_not_otherwise(capsys):
    simulate(IV, BOLUS, TIMES, population=Population(30, seed=1, chunk_size=10), progress=True)
    assert "population" in capsys.readouterr().err
    simulate(IV, BOLUS, TIMES, population=Population(30, seed=1, chunk_size=10), progress=False)
    assert capsys.readouterr().err == ""


# --- invalid input ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=3)))
def test_a_bad_number_of_subjects_is_refused(n):
    with pytest.raises(PKModelError) as err:
        Population(n)
    assert err.value.field == "n"


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text(max_size=3)))
def test_a_bad_seed_is_refused(seed):
    with pytest.raises(PKModelError) as err:
        Population(5, seed=seed)
    assert err.value.field == "seed"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"rtol": 0.0}, "rtol"),
        ({"metrics": "yes"}, "metrics"),
        ({"variability": {"cl": 30}}, "variability"),
        ({"covariates": {"weight": [70.0, 80.0]}, "n": 3}, "n"),
    ],
)
def test_bad_population_inputs_name_their_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Population(**({"n": 5} | kwargs))
    assert err.value.field == field


def test_a_population_with_a_patient_or_array_parameters_is_refused():
    from pkmodel import Patient

    with pytest.raises(PKModelError) as err:
        simulate(IV, BOLUS, TIMES, population=Population(3), patient=Patient(age=40))
    assert err.value.field == "patient"
    with pytest.raises(PKModelError) as err:
        simulate(IV.replace(cl=np.array([1.0, 2.0])), BOLUS, TIMES, population=Population(3))
    assert err.value.field == "model"


# --- the percentile histogram ---------------------------------------------------------------------


# Rows moved or added slice by slice (1: every row) or bin by bin (10**9: every row).
ROW_SLICES = pytest.mark.parametrize("row_slices", [1, 10**9])


@ROW_SLICES
@pytest.mark.parametrize("block", [1, 7, 64, 1 << 17])  # cells counted at a time (1: one time per block)
@pytest.mark.parametrize("budget", [10**6, 2_000])  # 2,000 cells over 40 times forces coarser bins
def test_histogram_counts_each_value_in_its_own_bin_whatever_the_blocks(monkeypatch, block, budget, row_slices):
    monkeypatch.setattr(log_histogram, "_BLOCK_CELLS", block)
    monkeypatch.setattr(log_histogram, "_ROW_SLICE_SPAN", row_slices)
    rng = np.random.default_rng(3)
    values = np.exp(rng.normal(0.0, 2.0, (300, 40)))
    values[:, :3] = 0.0  # before the first dose
    values[rng.random(values.shape) < 0.05] = 0.0
    later = np.exp(rng.normal(1.0, 3.0, (200, 40)))  # mostly beyond the first part's rows
    histogram = LogHistogram.of(values, 1e-3, budget).add(later[:50]).add(values[:120])
    every = np.concatenate([values, later[:50], values[:120]])
    # The bin of a positive double: its bits as an integer, shifted (the module docstring).
    shift = 52 - histogram.bits + histogram.level
    for j in range(every.shape[1]):
        positive = every[:, j][every[:, j] > 0]
        expected, counts = np.unique(positive.view(np.int64) >> shift, return_counts=True)
        row = histogram.counts[j]
        held = np.flatnonzero(row)
        np.testing.assert_array_equal(histogram.lo[j] + held, expected)
        np.testing.assert_array_equal(row[held], counts)
        assert histogram.zeros[j] == len(every) - len(positive)
    assert histogram.n == len(every)


@ROW_SLICES
@pytest.mark.parametrize("budget", [10**6, 60])  # 60 cells over 3 times forces coarser bins
def test_histogram_parts_add_up_exactly_in_any_order_and_quantiles_keep_their_bound(budget, row_slices, monkeypatch):
    monkeypatch.setattr(log_histogram, "_ROW_SLICE_SPAN", row_slices)
    rng = np.random.default_rng(0)
    values = np.exp(rng.normal(0.0, 1.0, (600, 3)))
    values[:50, 0] = 0.0  # before a dose: counted apart
    parts = [LogHistogram.of(values[i : i + 100], 1e-3, budget) for i in range(0, 600, 100)]
    forward, backward = parts[0], parts[-1]
    for p in parts[1:]:
        forward = forward.absorb(p)
    for p in parts[-2::-1]:
        backward = backward.merged(p)
    whole = LogHistogram.of(values, 1e-3, budget)
    counted = LogHistogram.of(values[200:300], 1e-3, budget)
    for i in (0, 100, 300, 400, 500):  # values beyond the first part's rows, then inside them
        counted = counted.add(values[i : i + 100])
    assert_same_bins(counted, whole)
    assert_same_bins(forward, backward)
    assert_same_bins(forward, whole)
    assert forward.rtol <= 1e-3 if budget == 10**6 else forward.rtol > 1e-3
    q = np.array([0.0, 0.05, 0.0833, 0.5, 0.95, 1.0])
    exact = np.quantile(values, q, axis=0, method="inverted_cdf")
    got = forward.quantiles(q)
    np.testing.assert_array_less(np.abs(got - exact), forward.rtol * exact + 1e-300)
    assert got[1, 0] == 0.0  # 5 % of time 0's values are the 50 zeros of 600 (8.3 %)


@ROW_SLICES
@pytest.mark.parametrize("coarser", [False, True])
def test_merging_leaves_both_histograms_as_they_were(coarser, row_slices, monkeypatch):
    # Both parts are added into the merged counts in place: neither may change, also when the
    # merged rows are a's own (a budget with no room beside the values: a's counts need no move)
    # and when the merge must coarsen (b two octaves up: the rows of both outgrow the budget).
    monkeypatch.setattr(log_histogram, "_ROW_SLICE_SPAN", row_slices)
    rng = np.random.default_rng(5)
    values = np.exp(rng.normal(0.0, 1.0, (400, 4)))
    other = values * (4.0 if coarser else 1.0)
    data = LogHistogram.of(values, 1e-3, 10**9)._trimmed()  # rows from each time's first to last value
    budget = 4 * int((data.hi - data.lo + 1).max())
    a, b = LogHistogram.of(values, 1e-3, budget), LogHistogram.of(other[::-1], 1e-3, budget)
    assert a.level == b.level == 0 and a.counts.size == budget  # no room beside the values
    before = [a.counts.copy(), b.counts.copy()]
    merged = a.merged(b)
    np.testing.assert_array_equal(a.counts, before[0])
    np.testing.assert_array_equal(b.counts, before[1])
    assert (merged.level > 0) == coarser
    assert_same_bins(merged, LogHistogram.of(np.concatenate([values, other]), 1e-3, budget))
