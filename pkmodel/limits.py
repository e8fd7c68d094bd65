"""Documented limits of the work pkmodel accepts, checked before anything large is allocated.

Each limit is far above any real regimen or study and far below what exhausts a 24 GiB machine;
a request past one raises :class:`pkmodel.errors.PKModelError` naming the sizes and how to
shrink them. One home for every limit, so that the API, the text parser, datasets and the
command line refuse the same things.

=====================  ============  =================================================================
limit                  value         why
=====================  ============  =================================================================
``MAX_TIME_H``         1e6 h         about 114 years: longer than any treatment; beyond some 1e150 h
                                     the closed forms overflow, so times are refused well before
``MAX_DOSES``          100,000       doses in one regimen (27 years of four doses a day)
``MAX_TIMES``          1,000,000     output times of one simulation
``MAX_CELLS``          100,000,000   subjects × (output times + dose events) held at once: the
                                     concentration matrix alone is 0.8 GB of float64 at the limit
=====================  ============  =================================================================
"""

from __future__ import annotations

MAX_TIME_H = 1e6
MAX_DOSES = 100_000
MAX_TIMES = 1_000_000
MAX_CELLS = 100_000_000

# A concentration given by a user (a target band, observed data to fit), mg/L: 10⁶ mg/L is a
# kilogram per litre, beyond any solution; past it, axis margins and sums of squares overflow.
MAX_CONCENTRATION_MG_L = 1e6
