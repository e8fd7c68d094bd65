"""pkmodel: exact, vectorised simulation of linear pharmacokinetic compartment models.

    >>> from pkmodel import Regimen, load_params, simulate
    >>> model = load_params("mildronate")
    >>> sim = simulate(model, Regimen.parse("500 mg PO bid for 14 days"))

Units everywhere: mg, L, h, mg/L (= µg/mL), L/h, 1/h.

The package's folders are its layers, each importing only the ones below it: ``engine/``
(numbers only), the base modules (``units``, ``errors``, ``limits``, ``files``, ``model``,
``params``), ``dosing/`` (regimens, datasets and the dosing rules), ``drugs/`` (patients, population
factors, label rules), ``simulation/`` (the front door), ``analysis/`` (calibration, NCA, dose
suggestions, fitting one subject's data) and ``interfaces/`` (the command line, the plots and the explorer). What users touch is
exported here.
"""

from importlib.metadata import version

from pkmodel.analysis.estimate import fit
from pkmodel.analysis.fit_result import FitResult
from pkmodel.analysis.nca import accumulation, nca
from pkmodel.analysis.suggest import DoseSuggestion, suggest_dose
from pkmodel.dosing import library as regimens
from pkmodel.dosing.dataset import read_dataset
from pkmodel.dosing.dose import Dose
from pkmodel.dosing.records import dataset_regimens, write_dataset
from pkmodel.dosing.regimen import Regimen
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
from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.interfaces.compare import compare
from pkmodel.interfaces.explore import explore
from pkmodel.interfaces.fit_plots import observed_vs_predicted, residuals
from pkmodel.interfaces.plot import band, concentration_time
from pkmodel.model import Model
from pkmodel.params import load_params
from pkmodel.simulation.simulate import Simulation, simulate
from pkmodel.simulation.simulate_dataset import simulate_dataset

__all__ = [
    "BreastfeedingWarning",
    "ContraindicationWarning",
    "Dose",
    "DoseSuggestion",
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
    "PregnancyWarning",
    "Regimen",
    "RenalImpairmentWarning",
    "SevereHepaticImpairmentWarning",
    "SevereRenalImpairmentWarning",
    "Simulation",
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
__version__ = version("pkmodel")  # one home for the version: pyproject.toml
