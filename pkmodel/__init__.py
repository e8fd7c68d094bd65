"""pkmodel: exact, vectorised simulation of linear pharmacokinetic compartment models.

    >>> from pkmodel import Regimen, load_params, simulate
    >>> model = load_params("mildronate")
    >>> sim = simulate(model, Regimen.parse("500 mg PO bid for 14 days"))

Units everywhere: mg, L, h, mg/L (= µg/mL), L/h, 1/h.

The package's folders are its layers, each importing only the ones below it: ``engine/``
(numbers only), the base modules (``units``, ``errors``, ``limits``, ``files``, ``model``,
``params``), ``dosing/`` (regimens, datasets and the dosing rules), ``drugs/`` (patients, population
factors, label rules), ``simulation/`` (the front door), ``analysis/`` (calibration, NCA, dose
suggestions) and ``interfaces/`` (the command line and the plots). What users touch is exported here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Every export is imported on first use (module __getattr__, PEP 562), so that `import pkmodel`
# costs no pandas, scipy or matplotlib and a command that needs one function loads only its
# modules. `from pkmodel import simulate` works as usual; the block below is what type
# checkers see.
_EXPORTS = {
    "accumulation": "pkmodel.analysis.nca",
    "nca": "pkmodel.analysis.nca",
    "DoseSuggestion": "pkmodel.analysis.suggest",
    "suggest_dose": "pkmodel.analysis.suggest",
    "read_dataset": "pkmodel.dosing.dataset",
    "Dose": "pkmodel.dosing.dose",
    "dataset_regimens": "pkmodel.dosing.records",
    "write_dataset": "pkmodel.dosing.records",
    "Regimen": "pkmodel.dosing.regimen",
    "BreastfeedingWarning": "pkmodel.drugs.label",
    "ContraindicationWarning": "pkmodel.drugs.label",
    "HepaticImpairmentWarning": "pkmodel.drugs.label",
    "LabelWarning": "pkmodel.drugs.label",
    "LateDoseWarning": "pkmodel.drugs.label",
    "MaximumDoseWarning": "pkmodel.drugs.label",
    "PaediatricWarning": "pkmodel.drugs.label",
    "PregnancyWarning": "pkmodel.drugs.label",
    "RenalImpairmentWarning": "pkmodel.drugs.label",
    "SevereHepaticImpairmentWarning": "pkmodel.drugs.label",
    "SevereRenalImpairmentWarning": "pkmodel.drugs.label",
    "Patient": "pkmodel.drugs.patient",
    "PKModelError": "pkmodel.errors",
    "PKModelWarning": "pkmodel.errors",
    "concentration_time": "pkmodel.interfaces.plot",
    "Model": "pkmodel.model",
    "load_params": "pkmodel.params",
    "Simulation": "pkmodel.simulation.simulate",
    "simulate": "pkmodel.simulation.simulate",
    "simulate_dataset": "pkmodel.simulation.simulate_dataset",
}
_MODULES = {"regimens": "pkmodel.dosing.library"}

if TYPE_CHECKING:
    from pkmodel.analysis.nca import accumulation, nca
    from pkmodel.analysis.suggest import DoseSuggestion, suggest_dose
    from pkmodel.dosing import library as regimens
    from pkmodel.dosing.dataset import read_dataset
    from pkmodel.dosing.dose import Dose
    from pkmodel.dosing.records import dataset_regimens, write_dataset
    from pkmodel.dosing.regimen import Regimen
    from pkmodel.drugs.label import (
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
    from pkmodel.errors import PKModelError, PKModelWarning
    from pkmodel.interfaces.plot import concentration_time
    from pkmodel.model import Model
    from pkmodel.params import load_params
    from pkmodel.simulation.simulate import Simulation, simulate
    from pkmodel.simulation.simulate_dataset import simulate_dataset

__all__ = [
    "BreastfeedingWarning",
    "ContraindicationWarning",
    "Dose",
    "DoseSuggestion",
    "HepaticImpairmentWarning",
    "LabelWarning",
    "LateDoseWarning",
    "MaximumDoseWarning",
    "Model",
    "PKModelError",
    "PKModelWarning",
    "PaediatricWarning",
    "Patient",
    "PregnancyWarning",
    "Regimen",
    "RenalImpairmentWarning",
    "SevereHepaticImpairmentWarning",
    "SevereRenalImpairmentWarning",
    "Simulation",
    "accumulation",
    "concentration_time",
    "dataset_regimens",
    "load_params",
    "nca",
    "read_dataset",
    "regimens",
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
