"""The warning classes of the label rules (all subclasses of :class:`pkmodel.errors.PKModelWarning`)::

    LabelWarning                         every label rule
    ├── ContraindicationWarning          the label contraindicates use
    │   ├── PaediatricWarning            younger than the label's paediatric age
    │   ├── PregnancyWarning
    │   ├── BreastfeedingWarning
    │   ├── SevereRenalImpairmentWarning    (also a RenalImpairmentWarning)
    │   └── SevereHepaticImpairmentWarning  (also a HepaticImpairmentWarning)
    ├── RenalImpairmentWarning           a renal grade the label cautions about (severe: contraindicated)
    ├── HepaticImpairmentWarning         a Child–Pugh class the label cautions about (or contraindicates)
    ├── MaximumDoseWarning               more than the label maximum on a calendar day
    └── LateDoseWarning                  a dose after the label's cut-off clock time

So a notebook can silence one rule (``warnings.simplefilter("ignore", LateDoseWarning)``), all
renal warnings whatever their severity (``RenalImpairmentWarning``), or make every
contraindication an error (``warnings.simplefilter("error", ContraindicationWarning)``).
They are exported by :mod:`pkmodel`; :mod:`pkmodel.drugs.label` issues them.
"""

from __future__ import annotations

from pkmodel.errors import PKModelWarning


class LabelWarning(PKModelWarning):
    """A rule of the drug label is met (base class of every label warning)."""


class ContraindicationWarning(LabelWarning):
    """The label contraindicates the drug for this patient."""


class RenalImpairmentWarning(LabelWarning):
    """Impaired renal function: the label asks for a smaller dose (mild/moderate)."""


class SevereRenalImpairmentWarning(RenalImpairmentWarning, ContraindicationWarning):
    """Severe renal impairment or kidney failure: contraindicated by the label."""


class HepaticImpairmentWarning(LabelWarning):
    """Impaired liver function: the label asks for a smaller dose (Child–Pugh A/B)."""


class SevereHepaticImpairmentWarning(HepaticImpairmentWarning, ContraindicationWarning):
    """Severe liver failure (Child–Pugh C): contraindicated by the label."""


class PaediatricWarning(ContraindicationWarning):
    """A patient younger than the label's paediatric age: contraindicated by the label."""


class PregnancyWarning(ContraindicationWarning):
    """Pregnancy: contraindicated by the label."""


class BreastfeedingWarning(ContraindicationWarning):
    """Breastfeeding: contraindicated by the label."""


class MaximumDoseWarning(LabelWarning):
    """More than the label's maximum daily dose on at least one calendar day."""


class LateDoseWarning(LabelWarning):
    """A dose after the label's cut-off clock time (e.g. a stimulant taken "in the first half of the day")."""
