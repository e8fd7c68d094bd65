"""Covariate models as data: how a subject's covariates change the typical parameter values.

An :class:`Effect` multiplies one parameter of the model (``cl``, ``v1``, ``q``, ``v2``, ``ka``,
``f``, ``tlag``) by a factor computed from one covariate ``x`` (any name: ``crcl``, ``weight``,
``age``, ``child_pugh``, ...) with parameter ``theta`` and reference value ``ref``:

    power         (x / ref) ** theta               CL ∝ (CrCL/100)^0.75, V ∝ (WT/70)^1
    exponential   exp(theta · (x − ref))           CL ∝ exp(−0.01 · (AGE − 40))
    linear        1 + theta · (x − ref)            must stay > 0 for every subject
    categorical   factors[x]                       Child–Pugh {"A": 0.8, "B": 0.6, "C": 0.4}
    pathways      1 + Σ_k fraction_k · (g_k − 1)   parallel elimination routes, each its own effects

``pathways`` splits a parameter into parts that add up to it (fractions summing to 1), each
scaled by the product ``g_k`` of its own effects. The renal/hepatic clearance model of
:mod:`pkmodel.drugs.clearance`, CL·[(1 − fe)·f_hepatic + fe·CrCL/CrCL_ref], is this type with a
non-renal pathway (fraction 1 − fe, categorical on ``child_pugh``) and a renal one (fraction fe,
power 1 on ``crcl``): written as 1 + Σ f_k (g_k − 1), the reference subject gets exactly 1.0.

A subject without a value of a covariate is at the reference: its factor is exactly 1 (for a
categorical effect: a missing category, None, has factor 1). Effects on one parameter multiply.
A :class:`CovariateModel` is a tuple of effects; :func:`effects_from_toml` reads them from a
drug file's ``[[effects]]`` tables, where a number may name another entry of the file (e.g.
``fraction = "clearance.fe"``) so that each number has one home. Covariate values may be numbers
or 1-D arrays (one per subject); categories may be strings or arrays of strings/None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.model import Model, Value, checked_number, to_value

EFFECT_TYPES = ("power", "exponential", "linear", "categorical", "pathways")
#: The model fields a covariate effect may act on.
PARAMETERS = ("cl", "v1", "q", "v2", "ka", "f", "tlag")


@dataclass(frozen=True)
class Pathway:
    """One part of a parameter in a ``pathways`` effect: its ``fraction`` of the typical value
    (in [0, 1]) and the ``effects`` (without ``parameter``) that scale that part."""

    name: str
    fraction: float
    effects: tuple[Effect, ...]


@dataclass(frozen=True)
class Effect:
    """One covariate effect on ``parameter`` (see the module docstring for the formulas).

    ``type``: one of :data:`EFFECT_TYPES`; ``covariate``: the covariate's name (not for
    ``pathways``); ``theta``: the exponent or slope (per unit of the covariate);
    ``reference``: the covariate value whose factor is 1 (same unit as the covariate);
    ``factors``: category -> factor (> 0) of a ``categorical`` effect; ``pathways``: the parts of a
    ``pathways`` effect, fractions summing to 1.
    """

    parameter: str
    type: str
    covariate: str | None = None
    theta: float = 1.0
    reference: float = 1.0
    factors: Mapping[str, float] = field(default_factory=dict, hash=False)
    pathways: tuple[Pathway, ...] = ()

    def __post_init__(self) -> None:
        if self.parameter not in PARAMETERS and self.parameter != "":
            raise PKModelError("effect.parameter", self.parameter, f"allowed: {', '.join(PARAMETERS)}")
        if self.type not in EFFECT_TYPES:
            raise PKModelError("effect.type", self.type, f"allowed: {', '.join(EFFECT_TYPES)}")
        where = f"effect on {self.parameter or 'a pathway'}"
        if self.type == "pathways":
            if not self.pathways:
                raise PKModelError(f"{where}.pathways", self.pathways, "at least one pathway")
            total = math.fsum(p.fraction for p in self.pathways)
            if not math.isclose(total, 1.0, rel_tol=1e-12):
                raise PKModelError(f"{where}.pathways", total, "the fractions must add up to 1")
            return
        if not isinstance(self.covariate, str) or not self.covariate:
            raise PKModelError(f"{where}.covariate", self.covariate, "the name of a covariate, e.g. 'weight'")
        checked_number(self.theta, f"{where}.theta", low=-np.inf)
        if self.type == "power":
            checked_number(self.reference, f"{where}.reference", low=0.0)
        elif self.type in ("exponential", "linear"):
            checked_number(self.reference, f"{where}.reference", low=-np.inf)
        else:
            if not isinstance(self.factors, Mapping) or not self.factors:
                raise PKModelError(f"{where}.factors", self.factors, "a mapping from category to factor (> 0)")
            for k, v in self.factors.items():
                checked_number(v, f"{where}.factors[{k!r}]", low=0.0)
            # A plain dict copy: the effect is immutable by convention and stays picklable (Dask).
            object.__setattr__(self, "factors", dict(self.factors))

    def factor(self, covariates: Mapping[str, Any]) -> Any:
        """The factor (a float, or an array: one per subject) for the given covariates."""
        if self.type == "pathways":
            parts = [(p.fraction, _product(p.effects, covariates)) for p in self.pathways]
            total: Any = 1.0
            for fraction, g in parts:
                total = total + fraction * (np.asarray(g, dtype=float) - 1.0)
            return total
        x = covariates.get(self.covariate or "")
        if x is None:
            return 1.0
        if self.type == "categorical":
            return _categorical(x, self.factors, self.covariate or "")
        x = np.asarray(x, dtype=float)
        if self.type == "power":
            return (x / self.reference) ** self.theta
        if self.type == "exponential":
            return np.exp(self.theta * (x - self.reference))
        factor = 1.0 + self.theta * (x - self.reference)
        if not np.all(factor > 0):
            bad = float(np.asarray(x)[~(factor > 0)][0]) if np.ndim(x) else float(x)
            raise PKModelError(
                self.covariate or "covariate",
                bad,
                f"the linear effect on {self.parameter} gives a factor <= 0 here (1 + {self.theta:g}·(x − "
                f"{self.reference:g})): use a power or exponential effect, or a covariate value in range",
            )
        return factor


def _categorical(x: Any, factors: Mapping[str, float], name: str) -> Any:
    if isinstance(x, str):
        if x not in factors:
            raise PKModelError(name, x, f"allowed: {', '.join(factors)} (or None: factor 1)")
        return float(factors[x])
    values = np.asarray(x, dtype=object)
    unknown = sorted({str(v) for v in values if v is not None and v not in factors})
    if unknown:
        raise PKModelError(name, unknown[0], f"allowed: {', '.join(factors)} (or None: factor 1)")
    return np.array([1.0 if v is None else float(factors[v]) for v in values])


def _product(effects: Sequence[Effect], covariates: Mapping[str, Any]) -> Any:
    # The first factor is taken as it is, so one effect alone gives its own number, unrounded.
    g: Any = 1.0
    for i, e in enumerate(effects):
        g = e.factor(covariates) if i == 0 else g * e.factor(covariates)
    return g


@dataclass(frozen=True)
class CovariateModel:
    """Covariate effects on a model's parameters: typical value × the product of its effects."""

    effects: tuple[Effect, ...] = ()

    def __post_init__(self) -> None:
        effects = tuple(self.effects)
        for e in effects:
            if not isinstance(e, Effect) or e.parameter == "":
                raise PKModelError(
                    "effects", e, "expected pkmodel.drugs.covariate_model.Effect values with a parameter"
                )
        object.__setattr__(self, "effects", effects)

    def __add__(self, other: CovariateModel) -> CovariateModel:
        return CovariateModel(self.effects + other.effects)

    @property
    def covariates(self) -> frozenset[str]:
        """The covariate names the effects read."""
        names: set[str] = set()
        stack = list(self.effects)
        while stack:
            e = stack.pop()
            if e.covariate:
                names.add(e.covariate)
            for p in e.pathways:
                stack.extend(p.effects)
        return frozenset(names)

    def factor(self, parameter: str, covariates: Mapping[str, Any]) -> Value:
        """The product of the effects on ``parameter`` (1.0 without any)."""
        return to_value(_product([e for e in self.effects if e.parameter == parameter], covariates))

    def apply(self, model: Model, covariates: Mapping[str, Any]) -> Model:
        """``model`` (typical values) with each affected parameter multiplied by its factor;
        array covariates give array parameters (one subject per element)."""
        changes = {}
        for name in dict.fromkeys(e.parameter for e in self.effects):
            typical = getattr(model, name)
            if typical is None:
                raise PKModelError("effects", name, f"the model has no {name} for a covariate effect to act on")
            factor = self.factor(name, covariates)
            if not (isinstance(factor, float) and factor == 1.0):
                changes[name] = to_value(np.asarray(typical, dtype=float) * np.asarray(factor))
        return model.replace(**changes) if changes else model


# --- reading effects from a drug file -------------------------------------------------------------

Lookup = Callable[[str], Any]


def effects_from_toml(entries: Any, lookup: Lookup, field: str = "effects") -> CovariateModel:
    """A :class:`CovariateModel` from a drug file's ``[[effects]]`` list. Every number may be given
    as the dotted name of another entry of the file (e.g. ``"clearance.fe"``), which ``lookup``
    resolves, so each number keeps one home; ``fraction = "rest"`` in the last pathway is 1 minus
    the others. Keys ``basis`` and ``source`` document an entry and are not read here."""
    if not isinstance(entries, list):
        raise PKModelError(field, entries, "a list of [[effects]] tables")
    return CovariateModel(tuple(_effect(e, lookup, f"{field}[{i}]") for i, e in enumerate(entries)))


_KEYS = {"parameter", "type", "covariate", "theta", "reference", "factors", "pathways", "basis", "source"}


def _effect(entry: Any, lookup: Lookup, where: str, parameter: str | None = None) -> Effect:
    if not isinstance(entry, Mapping):
        raise PKModelError(where, entry, "a table with parameter, type and covariate")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise PKModelError(
            f"{where}.{unknown[0]}", entry[unknown[0]], f"unknown key; known: {', '.join(sorted(_KEYS))}"
        )

    def number(key: str, default: float) -> float:
        value = entry.get(key, default)
        return checked_number(lookup(value) if isinstance(value, str) else value, f"{where}.{key}", low=-np.inf)

    factors = entry.get("factors", {})
    if isinstance(factors, str):
        factors = lookup(factors)
    pathways: list[Pathway] = []
    if entry.get("type") == "pathways":
        parts = entry.get("pathways")
        if not isinstance(parts, list) or not parts:
            raise PKModelError(f"{where}.pathways", parts, "a list of pathway tables (name, fraction, effects)")
        for i, part in enumerate(parts):
            here = f"{where}.pathways[{i}]"
            if not isinstance(part, Mapping) or set(part) - {"name", "fraction", "effects"}:
                raise PKModelError(here, part, "a table with name, fraction and effects")
            raw = part.get("fraction")
            if raw == "rest":
                if i != len(parts) - 1 and i != 0:
                    raise PKModelError(f"{here}.fraction", raw, '"rest" is only for the first or the last pathway')
                fraction = math.nan
            else:
                fraction = checked_number(
                    lookup(raw) if isinstance(raw, str) else raw,
                    f"{here}.fraction",
                    low=0.0,
                    high=1.0,
                    low_inclusive=True,
                )
            effects = tuple(
                _effect(e, lookup, f"{here}.effects[{j}]", "") for j, e in enumerate(part.get("effects", []))
            )
            pathways.append(Pathway(str(part.get("name", i)), fraction, effects))
        rest = [i for i, p in enumerate(pathways) if math.isnan(p.fraction)]
        if len(rest) > 1:
            raise PKModelError(f"{where}.pathways", "rest", 'at most one pathway may take the "rest"')
        if rest:
            others = math.fsum(p.fraction for p in pathways if not math.isnan(p.fraction))
            p = pathways[rest[0]]
            pathways[rest[0]] = Pathway(p.name, 1.0 - others, p.effects)
    return Effect(
        parameter=str(entry.get("parameter", "")) if parameter is None else parameter,
        type=str(entry.get("type")),
        covariate=entry.get("covariate"),
        theta=number("theta", 1.0),
        reference=number("reference", 1.0),
        factors=factors,
        pathways=tuple(pathways),
    )
