"""Parameter files: the shipped mildronate file is sourced value by value; user files load alike."""

import math
import tomllib

import pytest

from pkmodel import Model, PKModelError, load_params
from pkmodel.params import BASES, data_dir, read_params, shipped


def test_every_shipped_parameter_says_where_it_came_from():
    assert "mildronate" in shipped()
    for name in shipped():
        meta, params = read_params(name)
        assert meta.get("name")
        for p in params.values():
            assert p.basis in BASES, (name, p.name)
            assert p.source and len(p.source) > 40, (name, p.name)


def test_mildronate_reproduces_the_label_half_lives():
    m = load_params("mildronate")
    # Injection label: early half-life 5.56-6.55 h, terminal ("final") half-life 15.34 h.
    assert 5.56 <= m.t_half_alpha <= 6.55
    assert m.t_half_beta == pytest.approx(15.34, rel=1e-12)
    assert m.n_compartments == 2 and 0 < m.f <= 1 and m.ka > 0
    for end in (5.56, 6.55):
        variant = load_params("mildronate", variant=f"alpha-{end}")
        assert variant.t_half_alpha == pytest.approx(end, rel=1e-12)
        assert variant.t_half_beta == pytest.approx(15.34, rel=1e-12)
    with pytest.raises(PKModelError, match="alpha-5.56"):
        load_params("mildronate", variant="alpha-7")


def test_user_file_with_units_and_overrides(tmp_path):
    path = tmp_path / "drug.toml"
    path.write_text(
        '[model]\nname = "my drug"\n'
        '[parameters]\ncl = "100 mL/min"\nv1 = { value = "20 L", basis = "assumption", source = "guess" }\n'
        "ka = 1.2\n",
        encoding="utf-8",
    )
    m = load_params(path)
    assert isinstance(m, Model) and m.name == "my drug"
    assert (m.cl, m.v1, m.ka) == pytest.approx((6.0, 20.0, 1.2))
    assert load_params(path, cl=3.0).cl == 3.0


def test_micro_constant_file(tmp_path):
    path = tmp_path / "micro.toml"
    path.write_text("[parameters]\nk10 = 0.1\nk12 = 0.3\nk21 = 0.2\nv1 = 10\n", encoding="utf-8")
    m = load_params(path)
    assert m.alpha == pytest.approx((0.6 + math.sqrt(0.28)) / 2)


@pytest.mark.parametrize(
    "body, field",
    [
        ("[parameters]\ncl = 1\nv1 = 2\nvolume = 3\n", "parameters"),
        ("[parameters]\ncl = 1\n", "parameters"),
        ("[parameters]\ncl = 1\nv1 = 2\nk21 = 3\n", "parameters"),
        ("[parameters]\ncl = { value = 1, basis = 'rumour' }\nv1 = 2\n", "parameters.cl.basis"),
        ("[parameters]\ncl = -1\nv1 = 2\n", "cl"),
        ("not toml at all [", "params"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, body, field):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PKModelError) as err:
        load_params(path)
    assert err.value.field == field


def test_unknown_name_lists_what_exists():
    with pytest.raises(PKModelError, match="mildronate"):
        load_params("no-such-drug")


def test_shipped_files_are_valid_toml_with_units_in_strings():
    for name in shipped():
        doc = tomllib.loads((data_dir() / f"{name}.toml").read_text(encoding="utf-8"))
        for key, entry in doc["parameters"].items():
            if key != "f":
                assert isinstance(entry["value"], str), f"{name}.{key} should carry its unit"


# --- files that cannot be read, and a population file that does not exist (issue 7) -----------


def test_unreadable_or_binary_files_are_a_pkmodel_error_naming_the_path(tmp_path, monkeypatch):
    with pytest.raises(PKModelError) as err:
        load_params("/bin/ls")  # was UnicodeDecodeError
    assert err.value.field == "params" and err.value.value == "/bin/ls" and "UTF-8" in str(err.value)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[parameters]\ncl = "5 L/h"\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(PKModelError, match="not UTF-8"):
        load_params(latin)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(PKModelError, match="no such file"):
        load_params(folder)
    # Root reads any file, so a permission error is simulated where the bytes are read.
    good = tmp_path / "good.toml"
    good.write_text('[parameters]\ncl = "5 L/h"\nv1 = "20 L"\n', encoding="utf-8")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(good), "read_bytes", refuse)
    with pytest.raises(PKModelError) as err:
        load_params(good)
    assert err.value.value == str(good) and "Permission denied" in str(err.value)


@pytest.mark.parametrize("value", ['"no-such-label"', "7", '"mildronate"', '"../params/mildronate-populations"'])
def test_a_population_file_that_does_not_exist_is_refused_at_load_time(tmp_path, value):
    path = tmp_path / "drug.toml"
    path.write_text(f'[model]\npopulations = {value}\n[parameters]\ncl = "5 L/h"\nv1 = "20 L"\n', encoding="utf-8")
    with pytest.raises(PKModelError) as err:
        load_params(path)  # was a FileNotFoundError at the first patient
    assert err.value.field == "model.populations"
    assert "mildronate-populations" in err.value.allowed  # says what exists


def test_mildronate_names_its_population_file():
    assert load_params("mildronate").populations == "mildronate-populations"
    assert load_params("mildronate", variant="alpha-5.56").populations == "mildronate-populations"
