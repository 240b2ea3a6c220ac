"""Fault matrix, MQTT side (short): SIGTERM with the broker down; --exit-at-end with no broker.

Real processes: mosquitto, ``alvhd run --source replay`` over the real 2020 history, and an
independent paho subscriber; the journal file is read back with sqlite3 afterwards.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.mqtt.embedded import free_port
from tests.e2e.procs import (
    PREFIX,
    STARTUP_S,
    Alvhd,
    Mosquitto,
    Subscriber,
    daemon_env,
    decision_ids,
    log_time,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

SHUTDOWN_TIMEOUT_S = 4.0
EXIT_SLACK_S = 2.0
"""Interpreter teardown after the ``stopped`` line, on a loaded CI machine."""


def _journal(path: Path) -> list[tuple[str, str, int]]:
    """(decision_id, kind, published) of every journalled decision, in journal order."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT decision_id, kind, published FROM decisions ORDER BY seq"
        ).fetchall()


def test_sigterm_with_the_broker_down_exits_0_in_time_and_loses_nothing(
    mosquitto: Mosquitto, market_dir: Path, tmp_path: Path
) -> None:
    instance = "mqtt-sigterm"
    sub = Subscriber(mosquitto.port, f"{PREFIX}/{instance}", client_id="mqtt-sigterm-sub")
    journal = tmp_path / "journal.sqlite"
    env = daemon_env(
        broker_port=mosquitto.port,
        journal=journal,
        instance=instance,
        ALVH_REPLAY__DATA_DIR=str(market_dir),
        ALVH_REPLAY__START="2020-01-01",
        ALVH_REPLAY__END="2020-06-30",
        ALVH_SERVICE__SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_TIMEOUT_S),
    )
    daemon = Alvhd(["run", "--source", "replay", "--pace-s", "0.2"], env, tmp_path / "alvhd.log")
    try:
        sub.wait_for(lambda h: bool(decision_ids(h)), timeout_s=STARTUP_S, what="a decision")
        # the README's retained …/signals topic: the readings of the latest evaluation
        sub.wait_for(
            lambda h: any(x.topic.endswith("/signals") for x in h), timeout_s=10, what="signals"
        )
        signals = [x for x in sub.all() if x.topic.endswith("/signals")][-1].payload
        assert len(signals["readings"]) == 10
        assert {"ratio_macd_negative", "vix_rsi_hot"} <= {r["id"] for r in signals["readings"]}
        mosquitto.stop()  # the broker dies mid-replay; decisions keep coming
        time.sleep(8)
        assert daemon.is_running(), daemon.text()[-3000:]
        code, took_s = daemon.terminate()
    finally:
        daemon.kill()
        sub.close()
    assert code == 0, daemon.text()[-3000:]
    stopped = daemon.events("stopped")[-1]
    assert stopped["exit_code"] == 0
    # the daemon's own shutdown (signal → `stopped`) fits the configured budget ...
    shutdown_s = log_time(stopped) - log_time(daemon.events("signal_received")[-1])
    assert shutdown_s <= SHUTDOWN_TIMEOUT_S, f"shutdown took {shutdown_s:.2f} s"
    # ... and so does the process, up to the interpreter's own exit
    assert took_s <= SHUTDOWN_TIMEOUT_S + EXIT_SLACK_S, f"exit after {took_s:.2f} s"
    rows = _journal(journal)
    heard = decision_ids(sub.all())
    unpublished = [d for d, _, published in rows if not published]
    assert unpublished, "decisions made during the outage must wait in the journal"
    # Nothing lost: every journalled alert/order was heard or is still unpublished.
    events = {d for d, kind, _ in rows if kind in ("alert", "order")}
    assert events <= set(heard) | set(unpublished)
    assert not [d for d, n in Counter(heard).items() if n > 1], "a decision was sent twice"
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_exit_at_end_with_no_broker_exits_after_the_drain_deadline(
    market_dir: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    env = daemon_env(
        broker_port=free_port(),  # nothing listens there
        journal=journal,
        instance="mqtt-none",
        ALVH_REPLAY__DATA_DIR=str(market_dir),
        ALVH_REPLAY__START="2020-01-01",
        ALVH_REPLAY__END="2020-03-31",
        ALVH_SERVICE__SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_TIMEOUT_S),
    )
    daemon = Alvhd(["run", "--source", "replay", "--exit-at-end"], env, tmp_path / "alvhd.log")
    try:
        code = daemon.wait(60)
    finally:
        daemon.kill()
    assert code == 0, daemon.text()[-3000:]
    finished = daemon.events("source_finished")
    assert finished, "the replay did not finish"
    deadline = daemon.events("drain_deadline_passed")
    assert deadline, "it must say that it stopped with decisions undelivered"
    assert deadline[0]["deadline_s"] == SHUTDOWN_TIMEOUT_S
    rows = _journal(journal)
    assert rows
    assert not any(published for _, _, published in rows), "nothing could be published"
