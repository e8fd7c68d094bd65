"""The targets file of a calibration: published summary statistics ("targets") and the
``[calibration]`` table that says how a parameter file is calibrated against them.

A target is a reported mean ± SD of one metric under one regimen (e.g. Cmax after 500 mg oral,
13.8 ± 3.2 mg/L). Everything drug-specific is data: a targets file (``params/<drug>-targets.toml``)
lists the targets and, in its ``[calibration]`` table, which parameter file is calibrated, which of
its values are held (e.g. a label's half-lives) and which are searched, on which scale and from
which starts. :func:`load_calibration` reads it; no drug number lives in code.

Metrics: ``cmax``, ``tmax`` (single dose, over the 24 h after it), ``auc_0_24`` (mg·h/L),
``cmax_ss`` (peak over one interval at steady state), and any model property by name (``f``,
``t_half_alpha``, ``t_half_beta``, ``cl``, ``vss``, ...).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.params import data_dir
from pkmodel.units import Kind, parse_quantity

REGIMEN_METRICS = ("cmax", "tmax", "auc_0_24", "cmax_ss")
# A model's own numbers (fields and derived properties) can be targets too.
MODEL_METRICS = ("cl", "v1", "q", "v2", "ka", "f", "tlag", "k10", "k12", "k21", "alpha", "beta", "t_half_alpha",
                 "t_half_beta", "vss")  # fmt: skip
TRANSFORMS = ("log", "logit")


@dataclass(frozen=True)
class Target:
    """One published mean ± SD of ``metric``: under ``amount`` mg by ``route`` (single dose, or at
    steady state every ``interval`` h) for the regimen metrics, or a model property."""

    name: str
    metric: str
    mean: float
    sd: float
    unit: str
    source: str
    amount: float | None = None
    route: str | None = None
    interval: float | None = None
    fitted: bool = True

    @property
    def regimen(self) -> Regimen | None:
        """The study regimen as a :class:`Regimen` (for plots and the cross-check with simulate)."""
        if self.amount is None or self.route is None:
            return None
        if self.interval is None:
            return Regimen.single(self.amount, self.route)
        return Regimen.repeated(self.amount, self.interval, n_doses=2, route=self.route, steady_state=True)


@dataclass(frozen=True)
class Search:
    """One searched coordinate: a model field (or ``terminal_auc_share``), the scale it is searched
    on (``log`` for a positive value, ``logit`` for a fraction), its starting values and optional
    ``lower`` / ``upper`` bounds (a rule of the calibration, stated in its file)."""

    name: str
    transform: str
    starts: tuple[float, ...]
    lower: float | None = None
    upper: float | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds on the free scale (-inf / inf where none is declared)."""
        lo = -np.inf if self.lower is None else float(self.to_free(self.lower))
        hi = np.inf if self.upper is None else float(self.to_free(self.upper))
        return lo, hi

    def to_free(self, value: Any) -> np.ndarray:
        return np.log(value) if self.transform == "log" else logit(value)

    def from_free(self, x: Any) -> np.ndarray:
        return np.exp(x) if self.transform == "log" else expit(x)


@dataclass(frozen=True)
class CalibrationSpec:
    """The ``[calibration]`` table of a targets file: the parameter file calibrated, the values
    it holds, the coordinates searched and the targets."""

    params: str
    held: tuple[str, ...]
    search: tuple[Search, ...]
    targets: tuple[Target, ...]
    combine_starts: str = "product"
    description: str = ""
    path: Path | None = field(default=None, compare=False)


def _read_toml(name_or_path: str | Path, what: str) -> tuple[dict[str, Any], Path]:
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = Path(str(data_dir() / f"{name_or_path}.toml"))
    if not path.is_file():
        raise PKModelError(what, str(name_or_path), "a TOML file path or the name of a file shipped in params/")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PKModelError(what, str(name_or_path), f"a valid UTF-8 TOML file ({err})") from None


def load_targets(name_or_path: str | Path) -> list[Target]:
    """Targets from a TOML file: shipped name (``params/<name>.toml``) or a path."""
    doc, _ = _read_toml(name_or_path, "targets")
    return _targets(doc)


def _targets(doc: dict[str, Any]) -> list[Target]:
    targets = []
    for i, entry in enumerate(doc.get("target", [])):
        where = f"target[{i}]"
        metric = entry.get("metric")
        if metric not in REGIMEN_METRICS + MODEL_METRICS:
            raise PKModelError(f"{where}.metric", metric, f"allowed: {', '.join(REGIMEN_METRICS + MODEL_METRICS)}")
        sd = entry.get("sd")
        if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd > 0 or not np.isfinite(sd):
            raise PKModelError(f"{where}.sd", sd, "a standard deviation > 0")
        spec = entry.get("regimen")
        amount = route = interval = None
        if (spec is None) != (metric not in REGIMEN_METRICS):
            raise PKModelError(
                f"{where}.regimen", spec, f"a regimen exactly when the metric is one of {REGIMEN_METRICS}"
            )
        if spec is not None:
            amount = parse_quantity(spec.get("amount"), "amount", field=f"{where}.regimen.amount", positive=True)
            route = spec.get("route")
            if route not in ("iv", "oral"):
                raise PKModelError(f"{where}.regimen.route", route, "iv (bolus) or oral")
            if (metric == "cmax_ss") != ("interval" in spec):
                raise PKModelError(f"{where}.regimen.interval", spec.get("interval"), "an interval exactly for cmax_ss")
            if "interval" in spec:
                interval = parse_quantity(spec["interval"], "time", field=f"{where}.regimen.interval", positive=True)
        targets.append(
            Target(
                name=entry["name"],
                metric=metric,
                mean=float(entry["mean"]),
                sd=float(sd),
                unit=entry.get("unit", ""),
                source=entry["source"],
                amount=amount,
                route=route,
                interval=interval,
                fitted=bool(entry.get("fitted", True)),
            )
        )
    return targets


def load_calibration(name_or_path: str | Path) -> CalibrationSpec:
    """The calibration a targets file declares (its ``[calibration]`` table and targets)."""
    doc, path = _read_toml(name_or_path, "targets")
    table = doc.get("calibration")
    if not isinstance(table, dict):
        raise PKModelError("calibration", str(name_or_path), "the targets file needs a [calibration] table")
    params = table.get("params")
    if not isinstance(params, str):
        raise PKModelError("calibration.params", params, "the name or path of the parameter file calibrated")
    held = table.get("held", [])
    if not isinstance(held, list) or not all(isinstance(h, str) for h in held):
        raise PKModelError("calibration.held", held, "a list of parameter names")
    search = []
    for name, entry in table.get("search", {}).items():
        transform = entry.get("transform")
        if transform not in TRANSFORMS:
            raise PKModelError(f"calibration.search.{name}.transform", transform, f"allowed: {', '.join(TRANSFORMS)}")
        starts = entry.get("start")
        starts = starts if isinstance(starts, list) else [starts]
        values = []
        for s in starts:
            value = number(s, name, f"calibration.search.{name}.start")
            ok = value > 0 and (transform == "log" or value < 1)
            if not ok:
                raise PKModelError(f"calibration.search.{name}.start", s, "> 0 (log) or in (0, 1) (logit)")
            values.append(value)
        bounds = [
            None if entry.get(b) is None else number(entry[b], name, f"calibration.search.{name}.{b}")
            for b in ("lower", "upper")
        ]
        found = Search(name, transform, tuple(values), *bounds)
        lo, hi = found.bounds
        if not all(lo < found.to_free(v) < hi for v in values):
            raise PKModelError(f"calibration.search.{name}.start", starts, f"strictly inside the bounds {bounds}")
        search.append(found)
    if not search:
        raise PKModelError("calibration.search", None, "at least one searched parameter")
    combine = table.get("combine_starts", "product")
    if combine not in ("product", "zip"):
        raise PKModelError("calibration.combine_starts", combine, "product (every combination) or zip (i-th with i-th)")
    if combine == "zip" and len({len(s.starts) for s in search if len(s.starts) > 1}) > 1:
        raise PKModelError("calibration.search", [len(s.starts) for s in search], "equal numbers of starts for zip")
    params_path = Path(params)
    if not params_path.is_absolute() and params_path.suffix == ".toml":
        params = str(path.parent / params_path)
    return CalibrationSpec(
        params, tuple(held), tuple(search), tuple(_targets(doc)), combine, str(table.get("description", "")), path
    )


_KINDS: dict[str, Kind] = {
    "cl": "flow", "q": "flow", "v1": "volume", "v2": "volume", "ka": "rate_constant", "k10": "rate_constant",
    "k12": "rate_constant", "k21": "rate_constant", "t_half_alpha": "time", "t_half_beta": "time", "tlag": "time",
}  # fmt: skip


def number(value: Any, name: str, where: str) -> float:
    """A number of the file (or a string with the unit of the model field ``name``), in internal units."""
    if isinstance(value, str) and name in _KINDS:
        return parse_quantity(value, _KINDS[name], field=where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise PKModelError(where, value, "a finite number (or a string with a unit)")
    return float(value)
