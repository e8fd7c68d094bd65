"""Non-compartmental analysis (NCA) of concentration-time data with PKNCA's conventions and names.

    >>> table = nca(sim)                                    # a pkmodel.simulation.result.Simulation
    >>> table = nca(frame, subject="id", time="t", conc="c", dose=500.0)   # a tidy DataFrame
    >>> table = nca(read_dataset("study.csv"), depot=True)  # a NONMEM-style dataset

One row per subject and interval; column names are PKNCA's (the R package by Bill Denney,
https://billdenney.github.io/pknca/): ``cmax``, ``tmax``, ``tlast``, ``clast.obs``,
``auclast``, ``aucinf.obs``, ``lambda.z``, ``adj.r.squared``, ``half.life``, ... (see
:func:`nca` for the full list with units). The conventions followed, each from PKNCA's
documentation (``PKNCA.options``, ``pk.calc.half.life``, ``clean.conc.blq``, the
"Half-Life Calculation" and "Options for Controlling PKNCA" vignettes):

- **Tmax** is the first time of the maximum (PKNCA ``first.tmax = TRUE``).
- **Tlast/Clast** are the last measurable concentration: > 0 and, when an LLOQ is given, >= LLOQ.
- **AUC** by ``"lin up/log down"`` (PKNCA's default ``auc.method``: the log trapezoid where the
  concentration falls between two positive values, the linear one elsewhere) or ``"linear"``;
  AUClast runs from the interval start to Tlast. An AUC needs a concentration at the interval
  start (PKNCA refuses an AUC starting before the first measurement); otherwise it is NaN with the
  reason in ``exclude``.
- **λz** (``lambda.z``) by log-linear least squares on the terminal points, chosen as PKNCA's
  ``pk.calc.half.life`` does: candidates are the last 3, 4, ... measurable points after Tmax
  (Tmax itself excluded unless ``allow_tmax_in_half_life``; ``allow.tmax.in.half.life = FALSE``
  in PKNCA) and after the end of the last dose in the interval; among the candidates with
  λz > 0 and an adjusted R² above (best adjusted R² − ``adj_r_squared_factor``, 1e-4 as in
  PKNCA), the one with the most points wins. At least ``min_hl_points`` (3) points are needed;
  otherwise λz and what depends on it are NaN, with the reason. ``lambda_z_times`` instead uses
  exactly the points the user picks (PKNCA's ``manually.selected.points``).
  adj.r.squared = 1 − (1 − r²)(n − 1)/(n − 2); span.ratio = (last − first time of the fit)/t½.
- **AUCinf** = AUClast + Clast/λz with the observed Clast (``aucinf.obs``) or the one the
  regression predicts at Tlast (``aucinf.pred``); ``aucpext`` = 100 (1 − AUClast/AUCinf) %.
- **BLQ** (PKNCA ``conc.blq``; a value is BLQ when it is 0 or below ``lloq``): a rule for the
  BLQ values before the first measurable one (``first``) and for those between the first and the
  last measurable ones (``middle``): ``"zero"`` (PKNCA's "keep": the value counts as 0),
  ``"drop"`` (the sample is removed), ``"lloq/2"`` (the value becomes LLOQ/2) or a number (mg/L).
  The default ``"pknca"`` is PKNCA's default: first zero, middle drop. BLQ values after Tlast
  never enter AUClast or λz (PKNCA's ``last`` rule matters only for its AUCall, not computed
  here). Imputed values enter the AUC but never λz, Tlast or Clast: an imputed value is not a
  measurement.
- **Dosing intervals** (a finite end): ``auctau`` (AUC over the interval; needs a measurable
  concentration at its end), ``cav`` = AUCτ/τ, ``cmin``, ``ctrough`` (concentration at the end),
  ``ptf`` = 100 (Cmax − Cmin)/Cav % (PKNCA's peak-trough fluctuation) and ``swing`` =
  100 (Cmax − Cmin)/Cmin %. :func:`accumulation` gives the accumulation ratios between two
  intervals.

Units: time h, concentration mg/L, dose mg, AUC mg·h/L, AUMC mg·h²/L, λz 1/h, CL L/h, V L.
CL and Vz after extravascular doses are CL/F and Vz/F (the dose is the nominal amount).

The calculation is split by idea: :mod:`.nca_options` (the options and BLQ rules),
:mod:`.nca_profiles` (reading the inputs and the intervals), :mod:`.auc_rules` (the AUC of a
segment), :mod:`.terminal_phase` (λz) and :mod:`.nca_table` (the parameters of one interval).
pandas is imported when an NCA runs, not when pkmodel is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.analysis.nca_options import check_options
from pkmodel.analysis.nca_profiles import interval_bounds, manual_points, read_profiles
from pkmodel.analysis.nca_table import interval_table
from pkmodel.errors import PKModelError

if TYPE_CHECKING:
    import pandas as pd


def nca(
    data: Any,
    *,
    subject: str = "subject",
    time: str = "time",
    conc: str = "conc",
    dose: float | Mapping[Any, float] | None = None,
    dose_time: float | Sequence[float] = 0.0,
    duration: float = 0.0,
    route: str | None = None,
    depot: bool | None = None,
    intervals: Sequence[tuple[float, float]] | None = None,
    auc_method: str = "lin up/log down",
    lloq: float | None = None,
    blq: str | Mapping[str, str | float] = "pknca",
    lambda_z_times: Sequence[float] | Mapping[Any, Sequence[float]] | None = None,
    min_hl_points: int = 3,
    adj_r_squared_factor: float = 1e-4,
    allow_tmax_in_half_life: bool = False,
) -> pd.DataFrame:
    """NCA parameters per subject and interval (PKNCA conventions; see the module docstring).

    ``data``, one of:

    - a :class:`pkmodel.simulation.result.Simulation`: its ``times`` and ``concentration``; the doses and
      the route come from its regimen (extravascular when any dose is oral; the dose is the
      nominal amount); subjects are numbered 0, 1, ... in a ``subject`` column.
    - a NONMEM-style dataset (a DataFrame with ``ID``, ``TIME``, ``EVID`` and ``DV`` columns, as
      :func:`pkmodel.dosing.dataset.read_dataset` returns; it is checked again here): observations are
      the EVID 0 records (without MDV = 1), doses the dose records with their ADDL doses (read by
      :func:`pkmodel.dosing.records.dataset_doses`; ``depot`` says how CMT is numbered, as there);
      subjects in an ``ID`` column.
    - a tidy DataFrame with columns ``subject``, ``time`` (h) and ``conc`` (mg/L) (names
      configurable), one row per sample, times increasing within a subject. Doses are then
      ``dose`` (mg; one number, or a mapping subject -> mg) given at each of ``dose_time`` (h;
      one time or several), lasting ``duration`` (h, 0 for a bolus), by ``route``.

    ``route``: "extravascular" or "intravascular" (needed for tidy data with a dose; Vss is only
    computed for intravascular doses). ``intervals``: (start, end) pairs in h, end may be
    ``math.inf``; by default one interval per subject from the first dose (or, without doses,
    the first sample) to infinity. The dose of an interval is the sum of the doses given in
    [start, end). ``auc_method``: "lin up/log down" (default) or "linear". ``lloq`` (mg/L):
    values below it are BLQ (without it, only zeros are); ``blq``: "pknca" (default: zero before
    the first measurable value, dropped between measurable values), "zero", "drop", "lloq/2" (one
    rule in both places), or a mapping with keys "first" and/or "middle" and values "zero",
    "drop", "lloq/2" or a number (mg/L); a key left out keeps PKNCA's default.
    ``lambda_z_times``: times (h) of the points to fit λz on, for every subject or as a mapping
    subject -> times (subjects absent from the mapping use the automatic rule).

    Columns: the subject column, ``start``, ``end`` (h), ``route``, ``dose`` (mg), ``cmax``,
    ``cmin``, ``ctrough``, ``clast.obs``, ``clast.pred`` (mg/L), ``tmax``, ``tlast``,
    ``lambda.z.time.first``, ``lambda.z.time.last``, ``half.life`` (h), ``auclast``,
    ``aucinf.obs``, ``aucinf.pred``, ``auctau`` (mg·h/L), ``aumclast``, ``aumcinf.obs`` (mg·h²/L,
    time measured from the interval start), ``mrt.obs`` (h; AUMCinf/AUCinf minus half the
    infusion duration for intravascular doses), ``lambda.z`` (1/h), ``r.squared``,
    ``adj.r.squared``, ``lambda.z.n.points``, ``span.ratio``, ``aucpext.obs``, ``aucpext.pred``,
    ``ptf``, ``swing`` (%), ``cl.obs``, ``cl.pred`` (L/h; CL/F when extravascular), ``vz.obs``,
    ``vz.pred`` (L; Vz/F when extravascular), ``vss.obs`` (L, intravascular only), ``cav``
    (mg/L), and ``exclude``: why values of the row are NaN ("" when none is).

    Invalid input raises :class:`PKModelError`; a profile that does not allow a parameter
    (too few points for λz, no sample at the interval start, no dose) gives NaN and a reason.
    """
    options = check_options(auc_method, lloq, blq, min_hl_points, adj_r_squared_factor, allow_tmax_in_half_life)
    profiles = read_profiles(
        data, subject=subject, time=time, conc=conc, dose=dose, dose_time=dose_time, duration=duration,
        route=route, depot=depot,
    )
    import pandas as pd

    bounds = interval_bounds(intervals, profiles)
    manual = manual_points(lambda_z_times, profiles)
    tables = [interval_table(profiles, start, end, manual, options) for start, end in bounds]
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    if len(tables) > 1:
        # One block per interval -> subject by subject, intervals in the order given.
        n = len(profiles.subjects)
        order = np.lexsort((np.repeat(np.arange(len(tables)), n), np.tile(np.arange(n), len(tables))))
        table = table.iloc[order].reset_index(drop=True)
    return table


def accumulation(table: pd.DataFrame, first: tuple[float, float], steady: tuple[float, float]) -> pd.DataFrame:
    """Accumulation ratios per subject from an :func:`nca` table with both intervals:
    ``rac.auctau`` = AUCτ(steady)/AUCτ(first) and ``rac.cmax`` = Cmax(steady)/Cmax(first)
    (dimensionless). ``first`` and ``steady``: the (start, end) pairs (h) given to :func:`nca`."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame) or not {"start", "end", "auctau", "cmax"} <= set(table.columns):
        raise PKModelError("table", type(table).__name__, "a table returned by pkmodel.analysis.nca.nca")
    subject = table.columns[0]
    rows = []
    for name, (a, b) in (("first", first), ("steady", steady)):
        pick = table[(table["start"] == float(a)) & (table["end"] == float(b))]
        if pick.empty:
            have = sorted(set(zip(table["start"], table["end"], strict=True)))
            raise PKModelError(name, (a, b), f"an interval of the table; it has {have}")
        rows.append(pick.set_index(subject))
    one, ss = rows
    out = pd.DataFrame(
        {"rac.auctau": ss["auctau"] / one["auctau"], "rac.cmax": ss["cmax"] / one["cmax"]}
    )
    return out.rename_axis(subject).reset_index()
