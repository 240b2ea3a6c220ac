"""Fault matrix: the journal on a full filesystem (a real 256 KiB tmpfs).

The replay of the whole history fills the disk within a few sessions. The daemon must
send a critical ``journal`` alert naming the path and the cause (heard by an independent
subscriber), exit with the documented code 74 (EX_IOERR), and leave a journal that
passes SQLite's integrity check. Mounting needs root (CAP_SYS_ADMIN); without it the
test is skipped and says why.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import PREFIX, Alvhd, Mosquitto, Subscriber, daemon_env

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

EXIT_IOERR = 74


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted under ``tmp_path`` (unmounted afterwards)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_journal_on_a_full_filesystem_alerts_and_exits_74(
    full_disk: Path, market_dir: Path, tmp_path: Path
) -> None:
    instance = "journal-full"
    broker = Mosquitto(tmp_path)
    broker.start()
    sub = Subscriber(broker.port, f"{PREFIX}/{instance}", client_id="journal-full-sub")
    journal = full_disk / "journal.sqlite"
    env = daemon_env(
        broker_port=broker.port,
        journal=journal,
        instance=instance,
        ALVH_REPLAY__DATA_DIR=str(market_dir),
    )
    daemon = Alvhd(["run", "--source", "replay"], env, tmp_path / "alvhd.log")
    try:
        code = daemon.wait(120)
        sub.wait_for(
            lambda h: any(x.topic.endswith("/alerts/journal") for x in h),
            timeout_s=10,
            what="the journal alert",
        )
    finally:
        daemon.kill()
        sub.close()
        broker.stop()
    assert code == EXIT_IOERR, daemon.text()[-3000:]
    (alert,) = [h.payload for h in sub.all() if h.topic.endswith("/alerts/journal")]
    assert alert["severity"] == "critical"
    assert str(journal) in alert["message"]
    assert "full" in alert["message"]  # SQLite's cause: "database or disk is full"
    failed = daemon.events("journal_failed")
    assert failed
    assert failed[0]["path"] == str(journal)
    assert daemon.events("stopped")[-1]["exit_code"] == EXIT_IOERR
    # Integrity kept: a copy of the file (and its WAL) reads back clean.
    copy = tmp_path / "copy.sqlite"
    shutil.copy(journal, copy)
    wal = Path(f"{journal}-wal")
    if wal.exists():
        shutil.copy(wal, Path(f"{copy}-wal"))
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (n,) = db.execute("SELECT count(*) FROM decisions").fetchone()
    assert n > 0, "decisions before the disk filled up are kept"
