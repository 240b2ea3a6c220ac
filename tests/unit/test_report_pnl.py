"""The replay's P&L tables: period changes, drawdowns, cover and cost ratios."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from daemon.core.model import Layer
from daemon.report import StressWindow, max_drawdown_usd, pnl_rows


def test_max_drawdown_is_the_largest_fall_from_a_running_peak_starting_at_zero() -> None:
    assert max_drawdown_usd(pd.Series([0.0, 10.0, 4.0, 12.0, 1.0, 5.0])) == 11.0
    assert max_drawdown_usd(pd.Series([-3.0, -8.0, -2.0])) == 8.0  # losing from the start
    assert max_drawdown_usd(pd.Series([1.0, 2.0, 3.0])) == 0.0
    assert max_drawdown_usd(pd.Series([], dtype=float)) == 0.0


def _frame() -> pd.DataFrame:
    # 6 sessions; the window covers sessions 3..5 (index 2..4)
    return pd.DataFrame(
        {
            "date": [f"2020-03-0{i}" for i in range(2, 8)],
            "active_layers": ["", "L1", "L1+L2", "L1+L2", "L1", ""],
            "condor_pnl_usd": [100.0, 120.0, 60.0, -40.0, -10.0, 0.0],
            "sleeve_pnl_usd": [-5.0, -10.0, 20.0, 90.0, 70.0, 60.0],
            "baseline_l1_pnl_usd": [0.0, -2.0, 5.0, 30.0, 25.0, 20.0],
            "condor_credit_usd": [1000.0, 1000.0, 1000.0, 2000.0, 2000.0, 2000.0],
            "premium_paid_usd": [0.0, 100.0, 300.0, 300.0, 300.0, 300.0],
            "scenario_loss_usd": [0.0, 500.0, 500.0, 0.0, 400.0, 0.0],
            "covered_frac": [0.0, 0.5, 0.9, 0.0, 1.0, 0.0],
        }
    )


def test_a_window_row_counts_changes_since_the_session_before_it() -> None:
    window = StressWindow(name="crash", start=date(2020, 3, 4), end=date(2020, 3, 6))
    whole, years, (row,) = pnl_rows(_frame(), [window])
    assert [y.name for y in years] == ["2020"]
    assert (row.start, row.end, row.days) == (date(2020, 3, 4), date(2020, 3, 6), 3)
    assert row.condor_pnl_usd == -10.0 - 120.0
    assert row.sleeve_pnl_usd == 70.0 - (-10.0)
    assert row.net_pnl_usd == pytest.approx(-130.0 + 80.0)
    assert row.baseline_pnl_usd == 25.0 - (-2.0)
    # condor path within the window: -60, -160, -130 → worst fall 160 from the 0 start
    assert row.max_dd_condor_usd == 160.0
    # net path: -60+30=-30, -160+100=-60, -130+80=-50 → 60
    assert row.max_dd_net_usd == 60.0
    assert row.credit_usd == 1000.0
    assert row.premium_usd == 200.0
    assert row.premium_pct_credit == pytest.approx(20.0)
    assert row.net_cost_pct_credit == pytest.approx(-8.0)  # the sleeve earned 8% of credit
    assert row.realised_cover_frac == pytest.approx(80.0 / 130.0)
    assert row.promised_cover_frac == pytest.approx((0.9 + 1.0) / 2)
    assert row.days_on == {Layer.L1: 3, Layer.L2: 2, Layer.L3: 0}
    assert whole.condor_pnl_usd == 0.0  # from 0 before the first session
    assert whole.realised_cover_frac is None  # the condor did not lose over the run
