"""``days.csv`` and the P&L table without pandas (issue 9): the same bytes and the same floats.

``alvhd replay`` (without ``--report``) writes ``days.csv`` with the ``csv`` module from
``day_columns`` and computes its P&L table in plain Python, so it never imports pandas.
These tests hold that path to what pandas gives: the full replay's file has the bytes
pinned in ``test_replay_readings_fingerprint``, every kind of column is written as
``DataFrame.to_csv`` writes it, and the P&L rows are the same floats from either input.
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from daemon.report import (
    DayColumns,
    _mean,
    day_columns,
    days_frame,
    load_stress_windows,
    pnl_rows,
    write_days_csv,
)
from daemon.settings import DEFAULT_CONFIG_PATH, load_settings
from tests.unit.replay_run import full_replay
from tests.unit.test_replay_readings_fingerprint import DAYS_CSV


def test_the_full_replays_days_csv_from_columns_has_the_pinned_bytes(
    market_dir: Path, tmp_path: Path
) -> None:
    run = full_replay(market_dir)
    path = write_days_csv(day_columns(run.days), tmp_path / "days.csv")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DAYS_CSV
    # the day summaries themselves take the same path
    again = write_days_csv(run.days, tmp_path / "again.csv")
    assert again.read_bytes() == path.read_bytes()


EDGE_COLUMNS: DayColumns = {
    "date": ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"],
    "ints": [1, 0, 76, -3],
    "ints_and_none": [1, None, 0, 2],
    "floats_and_ints": [2776.0, 3, 0.1, -0.0],
    "floats_nan": [0.5, math.nan, 1e-05, 1e16],
    "floats_none": [None, 0.25, -1.5e-07, 123456789.125],
    "all_none": [None, None, None, None],
    "text": ["L1", "", "L1+L2", None],
    "quoted": ["a,b", 'say "hi"', "plain", "x\ny"],
    "flags": [True, False, True, True],
}


def test_every_kind_of_column_is_written_as_pandas_writes_it(tmp_path: Path) -> None:
    ours = write_days_csv(EDGE_COLUMNS, tmp_path / "ours.csv").read_bytes()
    theirs = tmp_path / "pandas.csv"
    pd.DataFrame(EDGE_COLUMNS).to_csv(theirs, index=False)
    assert ours == theirs.read_bytes()
    assert b"\n2020-01-03,0,,3.0,," in ours  # an int among floats is 3.0, None is empty


def test_pnl_rows_are_the_same_floats_from_the_columns_and_from_the_frame(
    market_dir: Path,
) -> None:
    run = full_replay(market_dir)
    settings = load_settings(DEFAULT_CONFIG_PATH)
    windows = load_stress_windows(settings.data_file("stress windows", Path("stress_windows.csv")))
    from_columns = pnl_rows(day_columns(run.days), windows)
    from_frame = pnl_rows(days_frame(run.days), windows)
    assert from_columns == from_frame
    whole, years, wins = from_columns
    assert whole.days == run.sessions
    assert len(years) == 20  # 2007 … 2026
    assert {w.name for w in wins} >= {"COVID crash 2020", "GFC 2008"}


@pytest.mark.parametrize("size", [1, 7, 8, 9, 127, 128, 129, 300, 1000, 4814])
def test_the_mean_is_bit_for_bit_pandas_mean(size: int) -> None:
    rng = random.Random(size)  # noqa: S311 - test data
    values = [rng.uniform(-1.0, 1.0) * 10 ** rng.randint(-3, 5) for _ in range(size)]
    if size > 2:
        values[1] = math.nan  # skipped, as pandas skips it
    assert _mean(values) == float(pd.Series(values).mean())
    assert math.isnan(_mean([math.nan, math.nan]))
