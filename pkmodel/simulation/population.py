"""Virtual populations: ``simulate(model, regimen, population=Population(...))``.

A :class:`Population` says who the subjects are: how many (``n``), their between-subject
variability (:class:`~pkmodel.drugs.variability.Variability`), their covariates (drawn from
:class:`~pkmodel.drugs.demographics.Demographics`, or a DataFrame with one row per subject) and
the ``seed``. Subject i's parameters are

    P_i = P_typical · (drug's covariate effects) · (``effects``) · exp(η_i)

with the drug's effects those of its population file (for mildronate the renal/hepatic clearance
model, :mod:`pkmodel.drugs.clearance`), the population's own ``effects`` next, then the η. Each
subject draws from its own random stream (:mod:`pkmodel.drugs.streams`), so its parameters do not
depend on the number of subjects before it, the chunk size or the number of workers.

When every curve fits within ``limits.MAX_CELLS`` (subjects × (times + dose events)) and no
``chunk_size`` is given, the result is a normal :class:`~pkmodel.simulation.result.Simulation`
with array parameters, one row per subject. Otherwise the subjects are simulated in chunks with
bounded memory and the result is a :class:`~pkmodel.simulation.population_result.PopulationResult`:
percentiles over time (within a stated relative error), per-subject exposure metrics from each
chunk's :meth:`~pkmodel.Simulation.summary` and the probability of exceeding a level. With a
``dask.distributed.Client`` the same chunks run on the cluster, in a few runs of consecutive
chunks per worker thread; the merged result is bit for bit the local one. The curves, hence the
percentiles, are identical whatever the chunk size; of the metrics, Cmax alone may differ in its
last bit between chunk sizes (its refinement evaluates the subjects still iterating together, and
sums over them may round differently). A tqdm progress bar shows on runs expected to take longer
than about 2 s.

Memory of a streamed run: one chunk of about ``CHUNK_CELLS`` cells (its curves and the engine's
work arrays) plus the percentile histogram (at most ``HISTOGRAM_CELLS`` counts) and the metrics
(a few numbers per subject).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.dosing import events
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.covariate_model import CovariateModel
from pkmodel.drugs.demographics import Demographics, table_covariates
from pkmodel.drugs.populations import PopulationFactors, load_population_factors
from pkmodel.drugs.residual_error import ResidualError
from pkmodel.drugs.streams import Streams, checked_seed
from pkmodel.drugs.variability import Variability, load_variability
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CELLS
from pkmodel.model import Model, to_value
from pkmodel.simulation.log_histogram import LogHistogram
from pkmodel.simulation.population_result import PopulationResult
from pkmodel.simulation.result import Simulation
from pkmodel.simulation.run import simulate_subjects

# Cells (subjects × (times + events)) of one chunk: the concentrations and the engine's work arrays
# of a chunk then stay within some hundreds of MB, whatever the population size.
CHUNK_CELLS = MAX_CELLS // 25
# Cells of the percentile histogram (int64 counts): at most a quarter of MAX_CELLS.
HISTOGRAM_CELLS = MAX_CELLS // 4
# Runs expected to take longer than this (s) show a progress bar unless progress=False.
PROGRESS_AFTER_S = 2.0
# Tasks per worker thread on a cluster, each a run of consecutive chunks counted into one
# histogram: enough for every worker to stay busy to the end, few enough that a worker sends back
# a few histograms (some MiB each) instead of one per chunk (400,000 subjects x 1,000 times on two
# worker processes: 17 s with one chunk per task, 11 s with four tasks per thread).
TASKS_PER_THREAD = 4


@dataclass(frozen=True, eq=False, init=False)
class Population:
    """A virtual population (see the module docstring).

    ``n``: number of subjects (> 0; with a covariate table, its number of rows, and ``n`` may be
    left out); ``variability``: a :class:`Variability`, or the name of a parameter file whose
    ``[variability]`` table to read ("mildronate"), or None; ``covariates``: a
    :class:`Demographics` to draw from, a table (DataFrame or mapping of columns, one row per
    subject), or None (every subject at the reference); ``seed``: a non-negative integer;
    ``effects``: covariate effects of the population's own, after the drug's; ``residual``: a
    :class:`ResidualError` for :meth:`observe`; ``chunk_size``: subjects per chunk (streams the run
    whatever its size); ``metrics``: per-subject exposure metrics in a streamed run (False for
    percentiles only, faster); ``rtol``: the relative error allowed in a streamed percentile.
    """

    n: int
    variability: Variability | None
    covariates: Demographics | dict[str, Any] | None
    seed: int
    effects: CovariateModel
    residual: ResidualError | None
    chunk_size: int | None
    metrics: bool
    rtol: float

    def __init__(
        self,
        n: int | None = None,
        variability: Variability | str | None = None,
        covariates: Demographics | Any | None = None,
        seed: int = 0,
        *,
        effects: CovariateModel | None = None,
        residual: ResidualError | None = None,
        chunk_size: int | None = None,
        metrics: bool = True,
        rtol: float = 1e-3,
    ) -> None:
        set_ = object.__setattr__
        if isinstance(variability, str):
            variability = load_variability(variability)
        if variability is not None and not isinstance(variability, Variability):
            raise PKModelError(
                "variability", type(variability).__name__, "a Variability, a parameter file name or None"
            )
        if effects is None:
            effects = CovariateModel()
        if not isinstance(effects, CovariateModel):
            raise PKModelError("effects", type(effects).__name__, "a CovariateModel or None")
        table: Demographics | dict[str, Any] | None
        if covariates is None or isinstance(covariates, Demographics):
            table = covariates
        else:
            table = table_covariates(covariates, extra=effects.covariates)
            rows = len(next(iter(table.values())))
            if n is not None and _count(n) != rows:
                raise PKModelError("n", n, f"the covariate table has {rows} rows: leave n out or give {rows}")
            n = rows
        if n is None:
            raise PKModelError("n", None, "the number of subjects (an integer > 0), or a covariate table")
        set_(self, "n", _count(n))
        set_(self, "variability", variability)
        set_(self, "covariates", table)
        set_(self, "seed", checked_seed(seed))
        set_(self, "effects", effects)
        if residual is not None and not isinstance(residual, ResidualError):
            raise PKModelError("residual", type(residual).__name__, "a ResidualError or None")
        set_(self, "residual", residual)
        set_(self, "chunk_size", None if chunk_size is None else _count(chunk_size, "chunk_size"))
        if not isinstance(metrics, bool):
            raise PKModelError("metrics", metrics, "True or False")
        set_(self, "metrics", metrics)
        if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 1e-9 <= rtol <= 0.5:
            raise PKModelError("rtol", rtol, "a relative error between 1e-9 and 0.5")
        set_(self, "rtol", float(rtol))

    def model(self, model: Model, start: int = 0, stop: int | None = None, drug: CovariateModel | None = None) -> Model:
        """The model of subjects ``start`` to ``stop`` (default: all): array parameters, one per
        subject. ``drug``: the drug's covariate effects, which apply first (by default those of
        the model's population file, if it names one: :func:`drug_effects`)."""
        stop = self.n if stop is None else stop
        if not 0 <= start < stop <= self.n:
            raise PKModelError("subjects", (start, stop), f"a range within 0..{self.n}")
        if model.n_subjects is not None:
            raise PKModelError(
                "model", repr(model), "typical values (scalar parameters): the population adds the variability"
            )
        if drug is None and self.covariates is not None:
            drug = drug_effects(model)
        m = stop - start
        p = 0 if self.variability is None else len(self.variability.parameters)
        drawn = isinstance(self.covariates, Demographics)
        z = np.empty((m, p))
        u = np.empty((m, Demographics.N_UNIFORM))
        zz = np.empty((m, Demographics.N_NORMAL))
        if p or drawn:
            streams = Streams(self.seed)
            for k in range(m):
                g = streams.rng(start + k)
                z[k] = g.standard_normal(p)
                if drawn:
                    u[k] = g.random(Demographics.N_UNIFORM)
                    zz[k] = g.standard_normal(Demographics.N_NORMAL)
        covariates: Mapping[str, Any] = {}
        if isinstance(self.covariates, Demographics):
            covariates = self.covariates.covariates(u, zz)
        elif self.covariates is not None:
            covariates = {k: v[start:stop] for k, v in self.covariates.items()}
        if covariates and drug is not None:
            model = drug.apply(model, covariates)
        if covariates and self.effects.effects:
            model = self.effects.apply(model, covariates)
        if self.variability is not None:
            model = self.variability.apply(model, self.variability.etas(z))
        if model.n_subjects is None:  # nobody differs: still one row per subject
            model = model.replace(cl=to_value(np.full(m, model.cl)))
        return model

    def observe(self, simulation: Simulation, first_subject: int = 0) -> np.ndarray:
        """Observations (mg/L) of a simulation's concentrations with this population's residual
        error, row k being subject ``first_subject + k`` (its own residual stream)."""
        if self.residual is None:
            raise PKModelError("residual", None, "this population has no residual error: Population(residual=...)")
        return self.residual.observe(simulation.concentration, self.seed, first_subject)


def drug_effects(model: Model, factors: PopulationFactors | None = None) -> CovariateModel:
    """The covariate effects of the drug: of ``factors`` when given, else of the model's population
    file (none for a model without one)."""
    if factors is None and model.populations is not None:
        factors = load_population_factors(model.populations)
    return CovariateModel() if factors is None else factors.effects


def _count(value: Any, field: str = "n") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PKModelError(field, value, "an integer > 0")
    return int(value)


@dataclass(frozen=True)
class _Run:
    """Everything a chunk needs, sent once to each worker."""

    model: Model
    regimen: Regimen
    times: np.ndarray
    population: Population
    drug: CovariateModel
    method: str


def _simulation(run: _Run, start: int, stop: int) -> Simulation:
    return simulate_subjects(
        run.population.model(run.model, start, stop, run.drug),
        run.regimen,
        run.times,
        check_label=False,
        method=run.method,
    )


def _chunks(run: _Run, bounds: list[tuple[int, int]]) -> tuple[int, LogHistogram, pd.DataFrame | None, int]:
    """Consecutive chunks of subjects (``bounds``), one after the other on a worker: the first
    subject, the histogram of their concentrations, their metrics and the number of chunks."""
    hist: LogHistogram | None = None
    tables = []
    for start, stop in bounds:
        sim = _simulation(run, start, stop)
        hist = _counted(hist, sim.concentration, run.population.rtol)
        if run.population.metrics:
            tables.append(sim.summary())
    assert hist is not None
    return bounds[0][0], hist, pd.concat(tables, ignore_index=True) if tables else None, len(bounds)


def _counted(hist: LogHistogram | None, values: np.ndarray, rtol: float) -> LogHistogram:
    """The running histogram with a chunk's concentrations counted in (the first chunk's: a new
    one)."""
    return LogHistogram.of(values, rtol, HISTOGRAM_CELLS) if hist is None else hist.add(values)


def simulate_population(
    model: Model,
    regimen: Regimen,
    times: Any,
    population: Any,
    *,
    patient: Any = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    progress: bool | None = None,
    client: Any = None,
) -> Simulation | PopulationResult:
    """The population behind ``simulate(..., population=...)`` (see the module docstring).
    ``progress``: None shows a bar on runs expected to last longer than about 2 s, True always,
    False never; ``client``: a ``dask.distributed.Client`` to run the chunks on."""
    if not isinstance(population, Population):
        raise PKModelError("population", type(population).__name__, "a pkmodel Population")
    if patient is not None:
        raise PKModelError("patient", patient, "not with a population: give the covariates in the Population")
    if progress is not None and not isinstance(progress, bool):
        raise PKModelError("progress", progress, "True, False or None (a bar on runs longer than about 2 s)")
    # The typical subject carries the checks of simulate(): inputs, label rules (once), the grid.
    # stacklevel: label warnings point at the user's call of pkmodel.simulate.
    typical = simulate_subjects(
        model, regimen, times, factors=factors, check_label=check_label, method=method, stacklevel=4
    )
    run = _Run(model, regimen, typical.times, population, drug_effects(model, factors), method)
    n, width = population.n, len(typical.times) + events.event_count(model, regimen)
    if population.chunk_size is None and n * width <= MAX_CELLS:
        return simulate_subjects(
            population.model(model, 0, n, run.drug), regimen, typical.times, check_label=False, method=method
        )
    size = population.chunk_size or max(1, CHUNK_CELLS // width)
    bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
    metrics: dict[str, np.ndarray] = {}
    hist: LogHistogram | None = None
    bar = _Progress(len(bounds), progress)
    for start, part, table, chunks in _results(run, bounds, client):
        if isinstance(part, LogHistogram):
            hist = part if hist is None else hist.absorb(part)
        else:  # a local chunk's concentrations, counted straight into the running total
            hist = _counted(hist, part, population.rtol)
        if table is not None:
            for column in table.columns:
                metrics.setdefault(column, np.empty(n))[start : start + len(table)] = table[column].to_numpy()
        bar.step(chunks)
    bar.close()
    assert hist is not None
    return PopulationResult(typical.times, hist, pd.DataFrame(metrics) if metrics else None, population.seed)


def _results(run: _Run, bounds: list[tuple[int, int]], client: Any) -> Any:
    """(first subject, concentrations or histogram, metrics, number of chunks): each chunk
    computed here one after the other, or runs of consecutive chunks on the cluster (as
    histograms, :data:`TASKS_PER_THREAD` per worker thread) as they finish."""
    if client is None:
        for start, stop in bounds:
            sim = _simulation(run, start, stop)
            yield start, sim.concentration, sim.summary() if run.population.metrics else None, 1
        return
    from dask.distributed import as_completed

    threads = sum(client.nthreads().values())
    # No worker yet (a cluster still starting or scaling): one chunk per task, for any that join.
    per_task = 1 if threads == 0 else -(-len(bounds) // (TASKS_PER_THREAD * threads))
    tasks = [bounds[i : i + per_task] for i in range(0, len(bounds), per_task)]
    shared = client.scatter(run, broadcast=True)
    futures = client.map(_chunks, [shared] * len(tasks), tasks, pure=False)
    for future in as_completed(futures):
        yield future.result()
        future.release()


class _Progress:
    """A tqdm bar over chunks, opened once the run is expected to last longer than
    :data:`PROGRESS_AFTER_S` (or at once with ``mode=True``; never with ``mode=False``)."""

    def __init__(self, total: int, mode: bool | None) -> None:
        self.total, self.mode, self.done = total, mode, 0
        self.started = time.perf_counter()
        self.bar: Any = None
        if mode:
            self._open()

    def _open(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.done, unit="chunk", desc="population")

    def step(self, chunks: int = 1) -> None:
        self.done += chunks
        if self.bar is not None:
            self.bar.update(chunks)
        elif self.mode is None and self.done < self.total:
            elapsed = time.perf_counter() - self.started
            if elapsed / self.done * self.total > PROGRESS_AFTER_S:
                self._open()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
