"""The modules of pkmodel.drugs import one another one way only (issue 8, item 4).

Every import counts, also those inside functions or under TYPE_CHECKING: a cycle hidden there
still ties the modules together."""

import ast
import graphlib
from pathlib import Path

import pkmodel.drugs

DRUGS = Path(pkmodel.drugs.__file__).parent


def drug_imports() -> dict[str, set[str]]:
    """Module name -> the pkmodel.drugs modules it imports, read from the source."""
    graph = {}
    for path in sorted(DRUGS.glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                found.add((node.module or "").split(".")[0] or "__init__")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pkmodel.drugs."):
                found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("pkmodel.drugs.")}
        graph[path.stem] = found
    return graph


def test_the_drug_modules_import_one_another_without_a_cycle():
    graph = drug_imports()
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert set(order) >= {"covariates", "renal", "patient", "populations", "clearance", "label"}


def test_the_renal_equations_know_no_patient():
    graph = drug_imports()
    assert graph["renal"] <= {"covariates"}
    assert "renal" in graph["patient"]  # the Patient's own Cockcroft–Gault check uses the equation


def test_no_module_is_left_under_the_old_name():
    assert not (DRUGS / "patients.py").exists()
