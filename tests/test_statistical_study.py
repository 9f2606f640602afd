"""The measurement helpers behind docs/statistical.md, on small instances."""

from __future__ import annotations

import numpy as np

from linkmech.evaluation.statistical import cost_rows, ex_post_check_rows, misreport_rows


def _number(cell: str) -> float:
    return float(cell.split("+-")[0])


def test_cost_rows_unlinked_ratio_is_n_minus_one_and_linked_is_smaller() -> None:
    rows = cost_rows([5, 12], ["iid_uniform", "shift_correlated"], episodes=2)
    for row in rows:
        assert abs(row["unlinked cost/surplus"] - (row["N = T"] - 1)) < 1e-9
        assert 0.0 <= row["linked cost/surplus"] < row["unlinked cost/surplus"]
        assert 0.0 <= row["P(omega in Omega*)"] <= 1.0


def test_ex_post_check_never_gains() -> None:
    (row,) = ex_post_check_rows(3, 4, trials=30)
    assert row["largest gain from a misreport in Omega*"] <= 1e-9


def test_misreports_never_gain_and_linked_equals_unlinked_inside_omega_star() -> None:
    rows = misreport_rows([6, 12], "iid_uniform", episodes=4, factors=(0.8, 1.05, 3.0))
    assert len(rows) == 6
    for row in rows:
        assert _number(row["unlinked gain"]) <= 1e-9  # unlinked VCG is ex-post IC everywhere
        assert row["largest linked gain"] <= 1e-9
        if row["retracted"] == 0.0:  # inside Omega*n the linked gain is the unlinked one
            assert np.isclose(_number(row["linked gain"]), _number(row["unlinked gain"]), atol=1e-4)
    assert any(row["retracted"] > 0 for row in rows)  # the factor-3 liar leaves Omega*n
