"""Issue 6 §6, front-door bad input: each mistake a new user makes gets one clear message.

Every test runs the real ``alvhd`` console script as a user would, and checks the exit
code and what the user reads (no traceback, the key/flag/file named, what to do).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.settings import DEFAULT_CONFIG_PATH

ALVHD = str(Path(sys.executable).with_name("alvhd"))

QUICK_SIM = {
    "ALVH_SIM__SESSIONS": "30",
    "ALVH_SIM__SESSION_SECONDS": "0",
    "ALVH_MQTT__ENABLED": "false",
}


def _alvhd(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALVH_")}
    if "ALVH_MARKET_DIR" in os.environ:
        base["ALVH_MARKET_DIR"] = os.environ["ALVH_MARKET_DIR"]
    return subprocess.run(
        [ALVHD, *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_a_journal_refuses_another_source_and_a_restart_says_what_it_restored(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.sqlite"
    first = _alvhd(
        "run", "--source", "sim", "--exit-at-end", "--journal", str(journal), env=QUICK_SIM
    )
    assert first.returncode == 0, first.stderr[-2000:]
    with sqlite3.connect(journal) as db:
        decisions = db.execute("SELECT count(*) FROM decisions").fetchone()[0]
        owner = db.execute("SELECT source, instance FROM journal_identity").fetchone()
    assert decisions > 0
    assert owner == ("sim", "default")

    # The same journal for a replay: refused, naming the journal, its owner and the way out.
    other = _alvhd(
        "run", "--source", "replay", "--exit-at-end", "--journal", str(journal), env=QUICK_SIM
    )
    assert other.returncode == 78
    assert str(journal) in other.stderr
    assert "'sim'" in other.stderr
    assert "'replay'" in other.stderr
    assert "--journal" in other.stderr
    assert "Traceback" not in other.stderr

    # A restart of the same source restores, and says from when and how much.
    again = _alvhd(
        "run", "--source", "sim", "--exit-at-end", "--journal", str(journal), env=QUICK_SIM
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert '"event": "engine_restored"' in again.stdout
    assert '"snapshot_date": "2025-' in again.stdout
    assert f'"decisions": {decisions}' in again.stdout


def test_default_journals_are_per_source(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "alvhd.sqlite").write_bytes(b"")  # the old shared default, left by an upgrade
    env = {**QUICK_SIM, "STATE_DIRECTORY": str(state)}
    proc = _alvhd("run", "--source", "sim", "--exit-at-end", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in state.glob("*.sqlite")) == [
        "alvhd.sqlite",
        "journal-default-sim.sqlite",
    ]
    # the upgrade is not silent: the old journal is named, with the command that keeps it
    assert '"event": "journal_legacy_found"' in proc.stdout
    assert f"mv {state / 'alvhd.sqlite'} {state / 'journal-default-sim.sqlite'}" in proc.stdout


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("ALVH_LADDR__L1_COVER_FRAC", "ALVH_LADDER__L1_COVER_FRAC"),
        ("ALVH_LADDER_L1_COVER_FRAC", "ALVH_LADDER__L1_COVER_FRAC"),
        ("ALVH_MQTT__PASSWORD", "ALVH_MQTT_PASSWORD"),
    ],
)
def test_unknown_environment_variable_exits_78_with_did_you_mean(
    name: str, suggestion: str
) -> None:
    proc = _alvhd("config", env={name: "0.5"})
    assert proc.returncode == 78
    assert name in proc.stderr
    assert suggestion in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_bogus_log_level_is_a_usage_error() -> None:
    proc = _alvhd("--log-level", "bogus", "config")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
    assert "invalid choice: 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _alvhd("--log-level", "DEBUG", "config").returncode == 0


def test_start_after_the_data_names_the_range_not_none(market_dir: Path) -> None:
    proc = _alvhd("replay", str(market_dir), "--start", "2030-01-01", "--no-progress")
    assert proc.returncode == 66
    assert "2030-01-01" in proc.stderr
    assert "None" not in proc.stderr
    assert "the data covers 2000-05-26 to 2026-" in proc.stderr


def _required_only(market_dir: Path, into: Path) -> Path:
    into.mkdir()
    for name in ("spx_daily.csv", "iwm_daily.csv", "vix_daily.csv"):
        (into / name).symlink_to(market_dir / name)
    return into


def test_missing_rvx_warns_that_l3_cannot_activate(market_dir: Path, tmp_path: Path) -> None:
    data = _required_only(market_dir, tmp_path / "data")
    args = ("replay", str(data), "--start", "2020-01-02", "--end", "2020-03-31", "--no-progress")
    proc = _alvhd(*args, "--days-csv", str(tmp_path / "days.csv"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rvx_daily.csv" in proc.stderr
    assert "L3 cannot activate" in proc.stderr
    # an empty RVX file is unusable input, not a silent L3-off
    (data / "rvx_daily.csv").write_text("")
    empty = _alvhd(*args, "--days-csv", str(tmp_path / "days2.csv"))
    assert empty.returncode == 66
    assert "rvx_daily.csv is empty" in empty.stderr


def test_command_line_value_error_names_the_flag() -> None:
    proc = _alvhd("run", "--source", "sim", "--mqtt-port", "70000", env=QUICK_SIM)
    assert proc.returncode == 78
    assert "mqtt.port" in proc.stderr
    assert "--mqtt-port" in proc.stderr
    assert "set in" not in proc.stderr


def test_a_toml_copied_elsewhere_runs(tmp_path: Path) -> None:
    copied = tmp_path / "mine" / "alvhd.toml"
    copied.parent.mkdir()
    copied.write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**QUICK_SIM, "STATE_DIRECTORY": str(tmp_path / "state")}
    proc = _alvhd("--config", str(copied), "run", "--source", "sim", "--exit-at-end", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    bad = tmp_path / "bad.toml"
    bad.write_text('[calendar]\nmacro_events = "events.csv"\n')
    proc = _alvhd("--config", str(bad), "run", "--source", "sim", "--exit-at-end", env=env)
    assert proc.returncode == 78
    assert "calendar.macro_events" in proc.stderr
    assert str(tmp_path / "events.csv") in proc.stderr
