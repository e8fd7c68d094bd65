"""The shipped mildronate parameters are what the calibration produces."""

import pytest

from pkmodel import load_params
from pkmodel.fit import calibrate_mildronate, calibration_table, load_targets

FIELDS = ("cl", "v1", "q", "v2", "ka", "f")


@pytest.mark.parametrize("variant, t_half_alpha", [(None, 6.06), ("alpha-5.56", 5.56), ("alpha-6.55", 6.55)])
def test_shipped_parameters_are_the_fit(variant, t_half_alpha):
    fitted = calibrate_mildronate(t_half_alpha).model
    shipped = load_params("mildronate", variant=variant)
    for field in FIELDS:
        # The file stores ten significant digits; Q and V2 are derived from them.
        assert getattr(shipped, field) == pytest.approx(getattr(fitted, field), rel=1e-6), field


def test_targets_carry_sources_and_the_table_scores_them():
    targets = load_targets()
    assert len(targets) == 19 and all(t.source and t.sd > 0 for t in targets)
    table = calibration_table(load_params("mildronate"), targets)
    # z by hand for one row: (predicted - observed) / SD.
    row = table.set_index("target").loc["oral 500 mg, AUC0-24"]
    assert row.z == pytest.approx((row.predicted - 68.0) / 7.0)
    # The label half-lives are held, so their z-scores are what the label implies.
    assert table.set_index("target").loc["terminal half-life"].z == pytest.approx(0.0, abs=1e-9)
