"""pkmodel: exact, vectorised simulation of linear pharmacokinetic compartment models.

    >>> from pkmodel import Regimen, load_params, simulate
    >>> model = load_params("mildronate")
    >>> sim = simulate(model, Regimen.parse("500 mg PO bid for 14 days"))

Units everywhere: mg, L, h, mg/L (= µg/mL), L/h, 1/h.
"""

from pkmodel import regimens
from pkmodel.dataset import dataset_regimens, read_dataset, write_dataset
from pkmodel.dosing import suggest_dose
from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.model import Model
from pkmodel.params import load_params
from pkmodel.patients import Patient
from pkmodel.regimen import Dose, Regimen
from pkmodel.simulate import Simulation, simulate
from pkmodel.simulate_dataset import simulate_dataset

__all__ = [
    "Dose",
    "Model",
    "PKModelError",
    "PKModelWarning",
    "Patient",
    "Regimen",
    "Simulation",
    "dataset_regimens",
    "load_params",
    "read_dataset",
    "regimens",
    "simulate",
    "simulate_dataset",
    "suggest_dose",
    "write_dataset",
]
__version__ = "0.1.0"
