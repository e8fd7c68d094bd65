"""pkmodel: exact, vectorised simulation of linear pharmacokinetic compartment models.

    >>> from pkmodel import Regimen, load_params, simulate
    >>> model = load_params("mildronate")
    >>> sim = simulate(model, Regimen.parse("500 mg PO bid for 14 days"))

Units everywhere: mg, L, h, mg/L (= µg/mL), L/h, 1/h.

The package's folders are its layers, each importing only the ones below it: ``engine/``
(numbers only), the base modules (``units``, ``errors``, ``limits``, ``files``, ``model``,
``params``), ``dosing/`` (regimens, datasets and the dosing rules), ``drugs/`` (patients, population
factors, label rules, variability and covariate effects), ``simulation/`` (the front door and
populations), ``analysis/`` (calibration, NCA, dose suggestions, fitting one subject's data) and
``interfaces/`` (the command line, the plots, compare and the explorer). What users touch is
exported here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Every export is imported on first use (module __getattr__, PEP 562), so that `import pkmodel`
# costs no pandas, scipy or matplotlib and a command that needs one function loads only its
# modules. `from pkmodel import simulate` works as usual; the block below is what type
# checkers see.
_EXPORTS = {
    "fit": "pkmodel.analysis.estimate",
    "FitResult": "pkmodel.analysis.fit_result",
    "accumulation": "pkmodel.analysis.nca",
    "nca": "pkmodel.analysis.nca",
    "DoseSuggestion": "pkmodel.analysis.suggest",
    "suggest_dose": "pkmodel.analysis.suggest",
    "read_dataset": "pkmodel.dosing.dataset",
    "Dose": "pkmodel.dosing.dose",
    "dataset_regimens": "pkmodel.dosing.records",
    "write_dataset": "pkmodel.dosing.records",
    "Regimen": "pkmodel.dosing.regimen",
    "CovariateModel": "pkmodel.drugs.covariate_model",
    "Effect": "pkmodel.drugs.covariate_model",
    "Demographics": "pkmodel.drugs.demographics",
    "BreastfeedingWarning": "pkmodel.drugs.label_warnings",
    "ContraindicationWarning": "pkmodel.drugs.label_warnings",
    "HepaticImpairmentWarning": "pkmodel.drugs.label_warnings",
    "LabelWarning": "pkmodel.drugs.label_warnings",
    "LateDoseWarning": "pkmodel.drugs.label_warnings",
    "MaximumDoseWarning": "pkmodel.drugs.label_warnings",
    "PaediatricWarning": "pkmodel.drugs.label_warnings",
    "PregnancyWarning": "pkmodel.drugs.label_warnings",
    "RenalImpairmentWarning": "pkmodel.drugs.label_warnings",
    "SevereHepaticImpairmentWarning": "pkmodel.drugs.label_warnings",
    "SevereRenalImpairmentWarning": "pkmodel.drugs.label_warnings",
    "Patient": "pkmodel.drugs.patient",
    "ResidualError": "pkmodel.drugs.residual_error",
    "Variability": "pkmodel.drugs.variability",
    "PKModelError": "pkmodel.errors",
    "PKModelWarning": "pkmodel.errors",
    "compare": "pkmodel.interfaces.compare",
    "explore": "pkmodel.interfaces.explore",
    "observed_vs_predicted": "pkmodel.interfaces.fit_plots",
    "residuals": "pkmodel.interfaces.fit_plots",
    "band": "pkmodel.interfaces.plot",
    "concentration_time": "pkmodel.interfaces.plot",
    "Model": "pkmodel.model",
    "load_params": "pkmodel.params",
    "Population": "pkmodel.simulation.population",
    "PopulationResult": "pkmodel.simulation.population_result",
    "Simulation": "pkmodel.simulation.result",
    "simulate": "pkmodel.simulation.simulate",
    "simulate_dataset": "pkmodel.simulation.simulate_dataset",
}
_MODULES = {"regimens": "pkmodel.dosing.library"}

if TYPE_CHECKING:
    from pkmodel.analysis.estimate import fit
    from pkmodel.analysis.fit_result import FitResult
    from pkmodel.analysis.nca import accumulation, nca
    from pkmodel.analysis.suggest import DoseSuggestion, suggest_dose
    from pkmodel.dosing import library as regimens
    from pkmodel.dosing.dataset import read_dataset
    from pkmodel.dosing.dose import Dose
    from pkmodel.dosing.records import dataset_regimens, write_dataset
    from pkmodel.dosing.regimen import Regimen
    from pkmodel.drugs.covariate_model import CovariateModel, Effect
    from pkmodel.drugs.demographics import Demographics
    from pkmodel.drugs.label_warnings import (
        BreastfeedingWarning,
        ContraindicationWarning,
        HepaticImpairmentWarning,
        LabelWarning,
        LateDoseWarning,
        MaximumDoseWarning,
        PaediatricWarning,
        PregnancyWarning,
        RenalImpairmentWarning,
        SevereHepaticImpairmentWarning,
        SevereRenalImpairmentWarning,
    )
    from pkmodel.drugs.patient import Patient
    from pkmodel.drugs.residual_error import ResidualError
    from pkmodel.drugs.variability import Variability
    from pkmodel.errors import PKModelError, PKModelWarning
    from pkmodel.interfaces.compare import compare
    from pkmodel.interfaces.explore import explore
    from pkmodel.interfaces.fit_plots import observed_vs_predicted, residuals
    from pkmodel.interfaces.plot import band, concentration_time
    from pkmodel.model import Model
    from pkmodel.params import load_params
    from pkmodel.simulation.population import Population
    from pkmodel.simulation.population_result import PopulationResult
    from pkmodel.simulation.result import Simulation
    from pkmodel.simulation.simulate import simulate
    from pkmodel.simulation.simulate_dataset import simulate_dataset

__all__ = [
    "BreastfeedingWarning",
    "ContraindicationWarning",
    "CovariateModel",
    "Demographics",
    "Dose",
    "DoseSuggestion",
    "Effect",
    "FitResult",
    "HepaticImpairmentWarning",
    "LabelWarning",
    "LateDoseWarning",
    "MaximumDoseWarning",
    "Model",
    "PKModelError",
    "PKModelWarning",
    "PaediatricWarning",
    "Patient",
    "Population",
    "PopulationResult",
    "PregnancyWarning",
    "Regimen",
    "RenalImpairmentWarning",
    "ResidualError",
    "SevereHepaticImpairmentWarning",
    "SevereRenalImpairmentWarning",
    "Simulation",
    "Variability",
    "accumulation",
    "band",
    "compare",
    "concentration_time",
    "dataset_regimens",
    "explore",
    "fit",
    "load_params",
    "nca",
    "observed_vs_predicted",
    "read_dataset",
    "regimens",
    "residuals",
    "simulate",
    "simulate_dataset",
    "suggest_dose",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = import_module(_MODULES[name])
    elif name == "__version__":
        from importlib.metadata import version

        value = version("pkmodel")  # one home for the version: pyproject.toml
    else:
        raise AttributeError(f"module 'pkmodel' has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_MODULES, "__version__"])
