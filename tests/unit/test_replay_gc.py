"""`alvhd replay` runs with the cyclic garbage collector off (issue 9): it must not need it.

Collections were ≈ 0.15 s of a full-history replay and freed next to nothing. This holds
the batch replay to that: three years of sessions run with the collector off leave only
a handful of unreachable cycles (not one or more per close), so the command's memory is
the same with the collector off; and ``main`` switches it back on when it returns.
"""

from __future__ import annotations

import asyncio
import gc
from datetime import date
from pathlib import Path

from daemon.app import replay_fast
from daemon.cli import main
from daemon.settings import DEFAULT_CONFIG_PATH, load_settings


def test_three_years_of_closes_leave_no_cyclic_garbage(market_dir: Path) -> None:
    settings = load_settings(DEFAULT_CONFIG_PATH)
    gc.collect()
    gc.disable()
    try:
        run = asyncio.run(
            replay_fast(settings, market_dir, start=date(2019, 1, 2), end=date(2021, 12, 31))
        )
        found = gc.collect()
    finally:
        gc.enable()
    assert run.sessions > 750
    assert found < 200, f"{found} unreachable objects after {run.sessions} closes"


def test_main_switches_the_collector_back_on(market_dir: Path, tmp_path: Path) -> None:
    argv = ["replay", str(market_dir), "--start", "2020-02-03", "--end", "2020-02-28"]
    code = main([*argv, "--no-progress", "--days-csv", str(tmp_path / "days.csv")])
    assert code in {0, 1}  # 1: the cost cap was breached (a result)
    assert (tmp_path / "days.csv").is_file()
    assert gc.isenabled()
