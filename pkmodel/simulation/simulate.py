"""The front door: ``simulate(model, regimen, times)`` -> :class:`Simulation`.

Orchestration only: the inputs are checked (and their size estimated against
:mod:`pkmodel.limits` before anything large is allocated), the regimen becomes engine events by
the dosing rules of :mod:`pkmodel.dosing.events`, and the engine computes. Concentrations are kept as
one array (n_subjects, n_times), computed on first use; the tidy DataFrame and the
per-compartment amounts are built only when asked for, so a population of 10,000 subjects stays
a 2-D array.

Units: time h, concentration mg/L (= µg/mL), amount mg, AUC mg·h/L.

Values are right-continuous, so an output at a bolus time includes the bolus, and troughs are
left limits (just before the dose).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors
from pkmodel.model import Model
from pkmodel.simulation.result import METHODS, Simulation
from pkmodel.simulation.run import default_times, simulate_subjects

if TYPE_CHECKING:  # imported when simulate() is given a population: most runs never load it
    from pkmodel.simulation.population import Population
    from pkmodel.simulation.population_result import PopulationResult

__all__ = ["METHODS", "Simulation", "default_times", "simulate"]


@overload
def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: None = None,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation: ...


@overload
def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: Population,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation | PopulationResult: ...


def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: Population | None = None,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation | PopulationResult:
    """Simulate ``regimen`` in ``model``; the one front door of pkmodel.

    ``model``: a :class:`Model` (array parameters give one subject per element);
    ``regimen``: a :class:`Regimen`; ``times``: sorted output times in h (numbers, or strings
    such as "12 h"), by default :func:`default_times`. ``patient``: a
    :class:`pkmodel.Patient` whose renal and hepatic function scale the clearance
    (``factors``: the population factors, by default those of the model's population file). When
    the model names a population file with label rules (``model.populations``, e.g. the shipped
    mildronate model), every label rule
    the patient or the regimen meets issues a :class:`pkmodel.drugs.label.LabelWarning`;
    ``check_label=False`` skips that for regimens that are not prescriptions (published study
    doses to match, trial doses while searching). Returns a :class:`Simulation` whose
    ``concentration`` is in mg/L.

    ``population``: a :class:`pkmodel.simulation.population.Population` to simulate instead of
    one subject: per-subject curves (a Simulation) when they fit in memory, else a
    :class:`~pkmodel.simulation.population_result.PopulationResult` streamed in chunks, with a
    progress bar on long runs (``progress``) and on a Dask cluster with ``client``.
    """
    if population is not None or progress is not None or client is not None:
        from pkmodel.simulation.population import simulate_population

        return simulate_population(
            model, regimen, times, population, patient=patient, factors=factors, check_label=check_label,
            method=method, progress=progress, client=client,
        )
    return simulate_subjects(
        model, regimen, times, patient=patient, factors=factors, check_label=check_label, method=method, stacklevel=3
    )
