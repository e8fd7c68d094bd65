"""Between-subject variability (BSV): log-normal random effects on model parameters.

Subject i's value of parameter P is P_i = P_typical · exp(η_i,P), with η_i ~ N(0, Ω) (the
NONMEM convention). Ω is given as

- ``cv``: the coefficient of variation of each parameter in percent. For a log-normal P,
  CV = sqrt(exp(ω²) − 1), so ω² = ln(1 + CV²) (CV as a fraction): CV 30 % is ω² = ln(1.09) =
  0.0862, ω = 0.294 (close to, but not exactly, the "ω ≈ CV" shortcut);
- ``omega2``: the variances ω² themselves;
- with either, an optional ``correlation`` between parameters ({("cl", "v1"): 0.5}), giving
  Ω_ij = ρ_ij ω_i ω_j; or ``omega``, the full matrix with ``parameters`` naming its rows.

Ω must be positive definite. ``f`` is the exception to the log-normal rule: F must stay in
(0, 1], so its η acts on the logit scale, logit(F_i) = logit(F) + η_i (F = 1 stays 1), and its
ω² is a variance of logit(F). ``tlag`` = 0 stays 0.

Draws are the ones of :mod:`pkmodel.drugs.streams`: subject i's η are the first standard normal
numbers z of its own stream, η = L z with L the Cholesky factor of Ω, computed one subject at a
time (no BLAS blocking), so a subject's η do not depend on the other subjects.

A drug's parameter file may hold a ``[variability]`` table, read by :func:`load_variability`:
one ``[variability.<parameter>]`` entry per parameter with ``cv`` (percent, a number or "15 %")
or ``omega2``, each with ``basis`` and ``source``, and optionally
``correlation = [{ between = ["cl", "v1"], value = 0.3 }]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pkmodel.drugs.covariate_model import PARAMETERS
from pkmodel.errors import PKModelError
from pkmodel.model import Model, checked_number, to_value
from pkmodel.params import BASES, data_dir, read_toml


def omega2_from_cv(cv_percent: float) -> float:
    """ω² of a log-normal parameter with coefficient of variation ``cv_percent`` (%):
    ln(1 + CV²)."""
    return float(np.log1p((cv_percent / 100.0) ** 2))


def cv_from_omega2(omega2: float) -> float:
    """The coefficient of variation (%) of a log-normal parameter with variance ``omega2`` of its
    logarithm: 100 · sqrt(exp(ω²) − 1)."""
    return float(100.0 * np.sqrt(np.expm1(omega2)))


@dataclass(frozen=True, eq=False, init=False)
class Variability:
    """Between-subject variability: ``parameters`` (names of model fields) and their covariance
    matrix ``omega`` (Ω, read-only, positive definite). See the module docstring for the inputs:

        Variability(cv={"cl": 30, "v1": 20}, correlation={("cl", "v1"): 0.4})
        Variability(omega2={"cl": 0.09})
        Variability(omega=[[0.09, 0.02], [0.02, 0.04]], parameters=["cl", "v1"])
    """

    parameters: tuple[str, ...]
    omega: NDArray[np.float64]

    def __init__(
        self,
        cv: Mapping[str, Any] | None = None,
        *,
        omega2: Mapping[str, Any] | None = None,
        correlation: Mapping[tuple[str, str], Any] | None = None,
        omega: ArrayLike | None = None,
        parameters: Sequence[str] | None = None,
    ) -> None:
        given = [k for k, v in (("cv", cv), ("omega2", omega2), ("omega", omega)) if v is not None]
        if len(given) != 1:
            raise PKModelError(
                "variability", given or None, "give exactly one of cv (%), omega2 or omega (with parameters)"
            )
        if omega is not None:
            names = _names(parameters, "parameters")
            matrix = _matrix(omega, len(names))
            if correlation is not None:
                raise PKModelError(
                    "correlation", correlation, "not with a full omega matrix (it holds the covariances)"
                )
        else:
            if parameters is not None:
                raise PKModelError("parameters", parameters, "only with omega; cv and omega2 name their parameters")
            table = cv if cv is not None else omega2
            field = given[0]
            if not isinstance(table, Mapping) or not table:
                raise PKModelError(field, table, "a mapping from parameter name to a number, e.g. {'cl': 30}")
            names = _names(list(table), field)
            if cv is not None:
                variances = [omega2_from_cv(_cv(table[p], f"cv[{p!r}]")) for p in names]
            else:
                variances = [checked_number(table[p], f"omega2[{p!r}]", low=0.0) for p in names]
            sd = np.sqrt(variances)
            rho = np.eye(len(names))
            for pair, r in (correlation or {}).items():
                if not (
                    isinstance(pair, tuple) and len(pair) == 2 and all(p in names for p in pair) and pair[0] != pair[1]
                ):
                    raise PKModelError(
                        "correlation", pair, f"a pair of two different parameters among {', '.join(names)}"
                    )
                value = checked_number(r, f"correlation[{pair!r}]", low=-1.0, high=1.0)
                i, j = names.index(pair[0]), names.index(pair[1])
                rho[i, j] = rho[j, i] = value
            matrix = rho * np.outer(sd, sd)
        try:
            chol = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            chol = None
        if chol is None or not np.all(np.diag(chol) > 0):
            field = "correlation" if correlation else "omega"
            raise PKModelError(
                field, matrix.tolist(), "Ω must be positive definite (correlations between -1 and 1 that fit together)"
            )
        matrix.setflags(write=False)
        chol.setflags(write=False)
        object.__setattr__(self, "parameters", tuple(names))
        object.__setattr__(self, "omega", matrix)
        object.__setattr__(self, "_chol", chol)

    @property
    def omega2(self) -> dict[str, float]:
        """ω² of each parameter (the diagonal of Ω)."""
        return {p: float(self.omega[i, i]) for i, p in enumerate(self.parameters)}

    @property
    def cv(self) -> dict[str, float]:
        """CV (%) of each parameter: 100 · sqrt(exp(ω²) − 1) (for ``f``: of exp of its logit η)."""
        return {p: cv_from_omega2(w) for p, w in self.omega2.items()}

    @property
    def correlation(self) -> NDArray[np.float64]:
        """The correlation matrix of the η."""
        sd = np.sqrt(np.diag(self.omega))
        return self.omega / np.outer(sd, sd)

    def etas(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """η = L z for standard normal draws ``z`` of shape (n_subjects, n_parameters), summed
        in a fixed order per subject so each row depends on its own draws only."""
        chol = self._chol  # type: ignore[attr-defined]
        p = len(self.parameters)
        eta = np.zeros_like(z)
        for i in range(p):
            for j in range(i + 1):
                eta[:, i] += chol[i, j] * z[:, j]
        return eta

    def apply(self, model: Model, eta: NDArray[np.float64]) -> Model:
        """``model`` with each parameter's typical value (scalar or per subject) times exp(η)
        (logit scale for ``f``): array parameters, one subject per row of ``eta``."""
        changes = {}
        for i, name in enumerate(self.parameters):
            typical = getattr(model, name)
            if typical is None:
                raise PKModelError(
                    "variability", name, f"the model has no {name}: variability only on parameters it has"
                )
            e = eta[:, i]
            if name == "f":
                f = np.asarray(typical, dtype=float)
                # logit(F_i) = logit(F) + η, i.e. F_i = F / (F + (1 − F) e^−η); F = 1 stays 1.
                changes[name] = to_value(f / (f + (1.0 - f) * np.exp(-e)))
            else:
                changes[name] = to_value(np.asarray(typical, dtype=float) * np.exp(e))
        return model.replace(**changes)

    def __repr__(self) -> str:
        cv = ", ".join(f"{p}: {c:.3g} %" for p, c in self.cv.items())
        corr = self.correlation
        off = [
            f"{self.parameters[i]}~{self.parameters[j]} {corr[i, j]:.3g}"
            for i in range(len(self.parameters))
            for j in range(i)
            if corr[i, j] != 0
        ]
        return f"Variability(CV {cv}{'; correlation ' + ', '.join(off) if off else ''})"


def _names(names: Any, field: str) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise PKModelError(field, names, f"parameter names among {', '.join(PARAMETERS)}")
    for p in names:
        if p not in PARAMETERS:
            raise PKModelError(field, p, f"unknown parameter; allowed: {', '.join(PARAMETERS)}")
    if len(set(names)) != len(names):
        raise PKModelError(field, list(names), "each parameter once")
    return list(names)


def _cv(value: Any, field: str) -> float:
    if isinstance(value, str):
        raw = value.strip()
        if not raw.endswith("%"):
            raise PKModelError(field, value, "a CV in percent: a number such as 30 or a string '30 %'")
        try:
            value = float(raw[:-1])
        except ValueError:
            raise PKModelError(field, value, "a CV in percent: a number such as 30 or a string '30 %'") from None
    # Beyond 1000 % a log-normal is no longer a description of people; it is a typo for a fraction.
    return checked_number(value, field, low=0.0, high=1000.0, unit="%")


def _matrix(omega: Any, p: int) -> NDArray[np.float64]:
    try:
        matrix = np.array(omega, dtype=float)
    except (TypeError, ValueError):
        raise PKModelError("omega", omega, "a square matrix of numbers") from None
    if matrix.shape != (p, p) or not np.all(np.isfinite(matrix)):
        raise PKModelError("omega", omega, f"a finite {p} x {p} matrix (one row per parameter)")
    if not np.array_equal(matrix, matrix.T):
        raise PKModelError("omega", omega, "must be symmetric")
    return matrix


# --- a drug file's [variability] table -------------------------------------------------------------


def load_variability(name_or_path: str | Path) -> Variability:
    """The ``[variability]`` table of a parameter file (the name of a shipped file such as
    "mildronate", or a path), as a :class:`Variability`."""
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".toml"):
        path = Path(name_or_path)
    elif isinstance(name_or_path, str) and name_or_path and not any(c in name_or_path for c in "/\\."):
        path = data_dir() / f"{name_or_path}.toml"
    else:
        raise PKModelError("variability", name_or_path, "the name of a shipped parameter file or a path to a TOML file")
    doc = read_toml(path, "variability", "a parameter file")
    table = doc.get("variability")
    if not isinstance(table, Mapping) or not table:
        raise PKModelError("variability", str(name_or_path), "the file has no [variability] table")
    cv: dict[str, Any] = {}
    omega2: dict[str, Any] = {}
    for name, entry in table.items():
        if name == "correlation":
            continue
        where = f"variability.{name}"
        if not isinstance(entry, Mapping) or len({"cv", "omega2"} & set(entry)) != 1:
            raise PKModelError(where, entry, "a table with either cv (%) or omega2, and basis and source")
        if entry.get("basis") not in BASES:
            raise PKModelError(f"{where}.basis", entry.get("basis"), f"allowed: {', '.join(BASES)}")
        (cv if "cv" in entry else omega2)[name] = entry.get("cv", entry.get("omega2"))
    if cv and omega2:
        omega2 |= {p: omega2_from_cv(_cv(v, f"variability.{p}.cv")) for p, v in cv.items()}
        cv = {}
    correlation = {}
    for i, c in enumerate(table.get("correlation", [])):
        if not isinstance(c, Mapping) or not isinstance(c.get("between"), list) or len(c["between"]) != 2:
            raise PKModelError(f"variability.correlation[{i}]", c, 'a table { between = ["cl", "v1"], value = 0.3 }')
        correlation[tuple(c["between"])] = c.get("value")
    if cv:
        return Variability(cv=cv, correlation=correlation or None)
    return Variability(omega2=omega2, correlation=correlation or None)
