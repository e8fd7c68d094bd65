"""No drug is chosen in code: the default parameter file is named in params/defaults.toml, and no
string in the package (outside docstrings) names a shipped drug."""

import ast
from pathlib import Path

import pytest

import pkmodel.params as params
from pkmodel.errors import PKModelError
from pkmodel.interfaces.options import DEFAULT_PARAMS, build_parser
from pkmodel.params import default_params, load_params, shipped

PACKAGE = Path(params.__file__).parent


def test_the_default_is_the_file_named_in_defaults_toml():
    # The command line keeps its behaviour: without --params it simulates the shipped mildronate file.
    assert default_params() == DEFAULT_PARAMS == "mildronate"
    assert build_parser().parse_args(["simulate", "--dose", "500 mg"]).params == "mildronate"
    assert load_params(default_params()).populations == "mildronate-populations"


def test_switching_the_default_is_a_change_of_files(tmp_path, monkeypatch):
    (tmp_path / "defaults.toml").write_text('[defaults]\nparams = "other"\n', encoding="utf-8")
    (tmp_path / "other.toml").write_text('[parameters]\ncl = 1.0\nv1 = 10.0\n', encoding="utf-8")
    monkeypatch.setattr(params, "data_dir", lambda: tmp_path)
    assert default_params() == "other"


@pytest.mark.parametrize(
    "text",
    [
        '[defaults]\nparams = "no-such-file"\n',
        '[defaults]\nparams = "../other"\n',
        '[defaults]\nparams = 3\n',
        '[defaults]\n',
        "defaults = 1\n",
    ],
)
def test_a_bad_defaults_file_names_the_field(tmp_path, monkeypatch, text):
    (tmp_path / "defaults.toml").write_text(text, encoding="utf-8")
    (tmp_path / "other.toml").write_text('[parameters]\ncl = 1.0\nv1 = 10.0\n', encoding="utf-8")
    monkeypatch.setattr(params, "data_dir", lambda: tmp_path)
    with pytest.raises(PKModelError) as err:
        default_params()
    assert err.value.field == "defaults.params"


def test_a_missing_defaults_file_says_which_file(tmp_path, monkeypatch):
    monkeypatch.setattr(params, "data_dir", lambda: tmp_path)
    with pytest.raises(PKModelError, match="defaults.toml"):
        default_params()


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_drug_is_named_in_code():
    drugs = shipped()
    assert drugs  # the check below means something
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in _code_strings(path)
        if any(drug in text.lower() for drug in drugs)
    ]
    assert not found
