"""Random streams of a virtual population: one seed, one independent stream per subject.

Subject ``i`` of a population seeded with ``seed`` draws from
``numpy.random.SeedSequence(entropy=seed, spawn_key=(i, purpose))``: the same numbers whatever
the number of subjects before it, the chunk it falls in or the worker that computes it (what
``SeedSequence(seed).spawn(n)[i]`` would give for ``purpose`` left out, without building the
other ``n - 1`` sequences). ``purpose`` keeps independent uses apart, so that adding residual
error does not change a subject's parameters:

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


def subject_rng(seed: int, subject: int, purpose: int = PARAMETERS) -> np.random.Generator:
    """The generator of subject ``subject`` (0-based) for ``purpose`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(subject, purpose))))
