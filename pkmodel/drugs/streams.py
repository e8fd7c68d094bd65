"""Random streams of a virtual population: one seed, one independent stream per subject.

Subject ``i`` of a population seeded with ``seed`` draws, for ``purpose`` p, from the counter-based
generator Philox4x64 (numpy's :class:`~numpy.random.Philox`) with the key
``SeedSequence(seed).generate_state(2, uint64)`` and the counter starting at (0, 0, p, i): the
subject's own region of 2^128 blocks of the one keyed sequence (the counter-per-stream design of
Random123, Salmon et al., SC 2011). So a subject's numbers are the same whatever the number of
subjects before it, the chunk it falls in or the worker that computes it, and re-pointing one
generator at a subject costs a state change instead of building a new seed sequence (8 times
faster, which matters at a million subjects). ``purpose`` keeps independent uses apart, so that
adding residual error does not change a subject's parameters:

    PARAMETERS  between-subject variability, then drawn covariates (in that order)
    RESIDUAL    residual error of simulated observations
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError

PARAMETERS = 0
RESIDUAL = 1


def checked_seed(seed: Any) -> int:
    """A seed: a non-negative integer (what :class:`numpy.random.SeedSequence` takes as entropy)."""
    if isinstance(seed, (bool, np.bool_)):
        raise PKModelError("seed", seed, "expected a non-negative integer")
    try:
        value = operator.index(seed)
    except TypeError:
        raise PKModelError("seed", seed, "expected a non-negative integer") from None
    if value < 0:
        raise PKModelError("seed", seed, "expected a non-negative integer")
    return value


def _key(seed: int) -> np.ndarray:
    return np.random.SeedSequence(seed).generate_state(2, np.uint64)


def subject_rng(seed: int, subject: int, purpose: int = PARAMETERS) -> np.random.Generator:
    """A new generator on subject ``subject``'s (0-based) stream for ``purpose`` under ``seed``."""
    return np.random.Generator(np.random.Philox(key=_key(seed), counter=[0, 0, purpose, subject]))


class Streams:
    """The streams of many subjects through one generator: :meth:`rng` re-points it at a
    subject's stream (what :func:`subject_rng` gives), valid until the next call."""

    def __init__(self, seed: int, purpose: int = PARAMETERS) -> None:
        self._bits = np.random.Philox(key=_key(seed))
        self._generator = np.random.Generator(self._bits)
        self._state = self._bits.state
        self._purpose = purpose

    def rng(self, subject: int) -> np.random.Generator:
        state = self._state
        state["state"]["counter"][:] = (0, 0, self._purpose, subject)
        state["buffer_pos"], state["has_uint32"] = 4, 0  # nothing buffered from the last subject
        self._bits.state = state
        return self._generator
