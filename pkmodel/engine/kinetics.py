"""Rate constants and closed-form propagators of linear one- and two-compartment models with a
first-order depot (the eigen forms and the propagators Phi, Gamma between events).

State vector (amounts, mg): 0 depot, 1 central, 2 peripheral. Rate constants (1/h): ``ka`` depot
to central, ``k10`` elimination from central, ``k12`` / ``k21`` central to peripheral and back
(both zero for a one-compartment model). Inputs are boluses into any compartment and zero-order
infusions (piecewise-constant rates, mg/h) into any compartment. This covers NONMEM's ADVAN1-4.

Between two events the state moves by ``A(t0 + h) = Phi(h) A(t0) + Gamma(h) R``. Every entry of
``Phi`` and ``Gamma`` is a short sum of ``coef * h**(m-1) * exp[-l1 h, ..., -lm h]``, the
convolution of ``m`` exponentials with rates ``l_i`` among ``ka``, ``alpha``, ``beta`` and ``0``
(a constant input is the exponential of rate 0). For the mammillary model every coefficient and
every divided difference is non-negative, so the sums never cancel, and the divided differences
themselves are computed exactly at coinciding rates (``divdiff.py``). No formula here divides by
``alpha - beta`` or ``ka - alpha``.

Derivation, with D = (e^{-alpha .} * e^{-beta .}) the convolution of the two disposition
exponentials and g = k21 - beta = alpha - k10 - k12 >= 0:
    central <- central    e^{-alpha h} + g D
    peripheral <- central k12 D
    central <- peripheral k21 D
    peripheral <- peripheral e^{-alpha h} + (alpha - k21) D
    depot <- depot        e^{-ka h}
and a source in the depot is the central/peripheral response convolved once more with
``ka e^{-ka .}``. An infusion is the response to a bolus convolved with the constant 1 (one more
rate 0), and the integral over ``[0, h]`` (for AUC) is one more convolution with 1 as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from pkmodel.engine.divdiff import exp_divided_difference

DEPOT, CENTRAL, PERIPHERAL = 0, 1, 2
N_STATES = 3

# (target, source) -> terms (coefficient name, rates): see the module docstring. Rates: "k" ka,
# "a" alpha, "b" beta; each term is coef * h**(m-1) * exp[-rate_1 h, ..., -rate_m h].
_TERMS: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {
    (DEPOT, DEPOT): (("one", "k"),),
    (CENTRAL, DEPOT): (("ka", "ak"), ("ka_g", "abk")),
    (PERIPHERAL, DEPOT): (("ka_k12", "abk"),),
    (CENTRAL, CENTRAL): (("one", "a"), ("g", "ab")),
    (PERIPHERAL, CENTRAL): (("k12", "ab"),),
    (CENTRAL, PERIPHERAL): (("k21", "ab"),),
    (PERIPHERAL, PERIPHERAL): (("one", "a"), ("alpha_k21", "ab")),
}


@dataclass(frozen=True)
class Kinetics:
    """Rate constants in 1/h, each an array broadcastable to the subjects' shape.

    ``alpha >= beta`` are the disposition eigenvalues (1/h), computed without cancellation:
    ``alpha - beta = sqrt((k10 + k12 - k21)**2 + 4 k12 k21)`` is a sum of non-negative terms.
    """

    ka: np.ndarray
    k10: np.ndarray
    k12: np.ndarray
    k21: np.ndarray

    @classmethod
    def of(cls, ka: ArrayLike, k10: ArrayLike, k12: ArrayLike, k21: ArrayLike) -> Kinetics:
        arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (ka, k10, k12, k21)))
        return cls(*(np.array(a) for a in arrays))

    def reshaped(self, shape: tuple[int, ...]) -> Kinetics:
        """The same constants reshaped (for broadcasting against a grid of times)."""
        return self._derived(lambda x: x.reshape(shape))

    def subset(self, who: slice | np.ndarray) -> Kinetics:
        """The constants of some subjects (a slice or an index along the first axis)."""
        return self._derived(lambda x: x[who])

    def _derived(self, view: Callable[[np.ndarray], np.ndarray]) -> Kinetics:
        # The eigenvalues already computed come along (a view of each), not computed again.
        new = Kinetics(*(view(x) for x in (self.ka, self.k10, self.k12, self.k21)))
        for name in _DERIVED:
            if name in self.__dict__:
                new.__dict__[name] = view(self.__dict__[name])
        return new

    @cached_property
    def _u(self) -> np.ndarray:
        return self.k10 + self.k12 - self.k21

    @cached_property
    def alpha_minus_beta(self) -> np.ndarray:
        # hypot: no overflow of the squares for extreme (still finite) rate constants.
        return np.hypot(self._u, 2.0 * np.sqrt(self.k12) * np.sqrt(self.k21))

    @cached_property
    def alpha(self) -> np.ndarray:
        return 0.5 * (self.k10 + self.k12 + self.k21 + self.alpha_minus_beta)

    @cached_property
    def beta(self) -> np.ndarray:
        # alpha * beta = k10 * k21; this avoids subtracting two nearly equal numbers.
        return self.k10 * self.k21 / self.alpha

    @cached_property
    def g(self) -> np.ndarray:
        """k21 - beta = alpha - k10 - k12 (>= 0), chosen branch by branch to avoid cancellation."""
        return _half_root_minus(self.alpha_minus_beta, self._u, self.k12 * self.k21)

    @cached_property
    def alpha_k21(self) -> np.ndarray:
        """alpha - k21 = k10 + k12 - beta (>= 0), likewise without cancellation."""
        return _half_root_minus(self.alpha_minus_beta, -self._u, self.k12 * self.k21)

    def coefficient(self, name: str) -> np.ndarray | float:
        """A coefficient of ``_TERMS``: 1, a rate constant, or a product of two (computed only
        when asked for)."""
        if name == "one":
            return 1.0
        if name.startswith("ka_"):
            return self.ka * self.coefficient(name[3:])
        return getattr(self, name)

    def rate(self, symbol: str) -> np.ndarray | float:
        """A rate of ``_TERMS`` (1/h): "k" ka, "a" alpha, "b" beta, "z" 0."""
        return 0.0 if symbol == "z" else getattr(self, _RATES[symbol])


_RATES = {"k": "ka", "a": "alpha", "b": "beta"}
# The cached properties of Kinetics, carried along by Kinetics._derived.
_DERIVED = ("_u", "alpha_minus_beta", "alpha", "beta", "g", "alpha_k21")


def _half_root_minus(root: np.ndarray, u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(root - u) / 2 where root = sqrt(u**2 + 4 p), p >= 0, without cancellation when u > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rationalised = 2.0 * p / (root + u)
    return np.where(u > 0, rationalised, 0.5 * (root - u))


def transfer_matrix(kin: Kinetics, h: np.ndarray | float, sources: tuple[int, ...], extra_zeros: int = 0) -> np.ndarray:
    """Phi(h) (``extra_zeros=0``) or its convolutions with 1, shape (3, 3, *broadcast shape).

    ``M[target, source]``; rows and columns outside ``sources`` stay zero. With ``extra_zeros=1``
    the same entries give Gamma(h), the response to a unit infusion (equally the integral of Phi
    over [0, h]); ``extra_zeros=2`` gives the integral of Gamma. Each divided difference is
    computed once and shared by the entries that use it.
    """
    h = np.asarray(h, dtype=float)
    shape = np.broadcast(h, kin.k10).shape
    out = np.zeros((N_STATES, N_STATES) + shape)
    cache: dict[str, np.ndarray] = {}
    # The points -rate * h and their exponentials, once per rate: the entries share them. (The
    # rates all have the shape of k10, so only the rate 0 needs broadcasting.)
    points: dict[str, np.ndarray] = {}
    exps: dict[str, np.ndarray] = {}
    for (target, source), terms in _TERMS.items():
        if target not in sources or source not in sources:
            continue
        for coef_name, rates in terms:
            rates = rates + "z" * extra_zeros
            if rates not in cache:
                for r in rates:
                    if r not in points:
                        if r == "z":
                            points[r], exps[r] = np.broadcast_to(0.0, shape), np.broadcast_to(1.0, shape)
                        else:
                            points[r] = kin.rate(r) * -h
                            exps[r] = np.exp(points[r])
                dd = exp_divided_difference([points[r] for r in rates], [exps[r] for r in rates])
                # h ** (m - 1) * dd, without a power where m - 1 is 0 or 1.
                cache[rates] = dd if len(rates) == 1 else (h if len(rates) == 2 else h ** (len(rates) - 1)) * dd
            out[target, source] += cache[rates] if coef_name == "one" else kin.coefficient(coef_name) * cache[rates]
    return out
