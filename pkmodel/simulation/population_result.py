"""What a streamed population run returns: percentiles over time, per-subject exposure metrics and
the probability of exceeding a level, without any subject's whole curve.

Units: time h, concentration mg/L, AUC mg·h/L.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pkmodel.errors import PKModelError
from pkmodel.simulation.log_histogram import LogHistogram


class PopulationResult:
    """Result of a population simulated in chunks (:func:`pkmodel.simulate` with a population
    too large to hold, or with ``chunk_size`` set).

    Attributes: ``times`` (h), ``n_subjects``, ``seed``, ``histogram`` (the counts per time, see
    :mod:`pkmodel.simulation.log_histogram`), ``rtol`` (bound on the relative error of a
    percentile), ``metrics`` (a DataFrame of exposure metrics, one row per subject in subject order,
    from :meth:`pkmodel.Simulation.summary` of each chunk: exact closed-form values; None when the
    population was run with ``metrics=False``).
    """

    def __init__(self, times: np.ndarray, histogram: LogHistogram, metrics: pd.DataFrame | None, seed: int) -> None:
        self.times = times
        self.histogram = histogram
        self.metrics = metrics
        self.seed = seed
        self.n_subjects = histogram.n

    @property
    def rtol(self) -> float:
        """A percentile is within this relative error of the exact order statistic."""
        return self.histogram.rtol

    def quantiles(self, q: Any) -> np.ndarray:
        """Concentration quantiles (mg/L) at every output time, each q in [0, 1]: shape
        (len(q), n_times) (inverted-CDF definition, within :attr:`rtol`)."""
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        if qs.ndim != 1 or qs.size == 0 or not np.all((qs >= 0) & (qs <= 1)):
            raise PKModelError("q", q, "quantiles in [0, 1], e.g. (0.05, 0.5, 0.95)")
        return self.histogram.quantiles(qs)

    def percentiles(self, percents: Any = (5, 50, 95)) -> pd.DataFrame:
        """A table of ``time_h`` and one column ``p<percent>`` (mg/L) per percentile in [0, 100]."""
        ps = np.atleast_1d(np.asarray(percents, dtype=float))
        if ps.ndim != 1 or ps.size == 0 or not np.all((ps >= 0) & (ps <= 100)):
            raise PKModelError("percents", percents, "percentiles in [0, 100], e.g. (5, 50, 95)")
        values = self.histogram.quantiles(ps / 100.0)
        columns = {"time_h": self.times} | {f"p{p:g}": values[i] for i, p in enumerate(ps)}
        return pd.DataFrame(columns)

    def summary(self) -> pd.DataFrame:
        """Exposure metrics per subject (see :meth:`pkmodel.Simulation.summary`)."""
        if self.metrics is None:
            raise PKModelError("metrics", None, "this population was run with metrics=False")
        return self.metrics

    def probability_above(self, level: float, metric: str = "cmax_mg_L") -> float:
        """The fraction of subjects whose ``metric`` (a column of :meth:`summary`, by default Cmax
        in mg/L) is above ``level``: exact, from each subject's closed-form value."""
        table = self.summary()
        if metric not in table.columns:
            raise PKModelError("metric", metric, f"allowed: {', '.join(table.columns)}")
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not np.isfinite(level):
            raise PKModelError("level", level, "a finite number in the unit of the metric")
        return float(np.mean(table[metric].to_numpy() > level))

    def __repr__(self) -> str:
        return (
            f"<PopulationResult: {self.n_subjects} subjects; {len(self.times)} times from {self.times[0]:g} to "
            f"{self.times[-1]:g} h; percentiles within {self.rtol:.2g}>"
        )
