"""pkmodel: exact, vectorised simulation of linear pharmacokinetic compartment models.

    >>> from pkmodel import Model, Regimen, simulate
    >>> model = Model(cl=5.7, v1=60, q=0.61, v2=11.2, ka=2.0, f=0.78)
    >>> sim = simulate(model, Regimen.repeated("500 mg", "12 h", over="14 d", route="oral"))

Units everywhere: mg, L, h, mg/L (= µg/mL), L/h, 1/h.
"""

from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.model import Model
from pkmodel.params import load_params
from pkmodel.regimen import Dose, Regimen
from pkmodel.simulate import Simulation, simulate

__all__ = ["Dose", "Model", "PKModelError", "PKModelWarning", "Regimen", "Simulation", "load_params", "simulate"]
__version__ = "0.1.0"
