"""End to end: `alvhd run --source replay` over early 2020 → real mosquitto → an independent client.

The daemon runs as a real subprocess (the console script), publishes to a private mosquitto on
a free loopback port, and a paho-mqtt client that shares no code with the daemon listens.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.embedded import Broker
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

PREFIX = "alvhd-e2e"
INSTANCE = "ci"


def _activation_alerts(
    msgs: list[tuple[str, dict[str, Any], bool]], layer: str
) -> list[dict[str, Any]]:
    return [
        p
        for t, p, _ in msgs
        if t == f"{PREFIX}/{INSTANCE}/alerts/layer_activated" and p.get("layer") == layer
    ]


def _orders(msgs: list[tuple[str, dict[str, Any], bool]], layer: str) -> list[dict[str, Any]]:
    return [
        p for t, p, _ in msgs if t == f"{PREFIX}/{INSTANCE}/orders/proposed" and p["layer"] == layer
    ]


def test_replay_2020_publishes_ladder_and_goes_offline(
    broker: Broker, market_dir: Path, tmp_path: Path
) -> None:
    listener = Listener(broker.port, PREFIX)
    journal_path = tmp_path / "journal.sqlite"
    env = {
        **os.environ,
        "ALVH_MQTT__HOST": "127.0.0.1",
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__INSTANCE": INSTANCE,
        "ALVH_JOURNAL__PATH": str(journal_path),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2020-01-01",
        "ALVH_REPLAY__END": "2020-04-30",
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    proc = subprocess.Popen(
        [str(alvhd), "run", "--source", "replay"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        msgs = listener.wait_for(
            lambda m: (
                bool(_activation_alerts(m, "L1"))
                and bool(_activation_alerts(m, "L2"))
                and bool(_orders(m, "L1"))
                and bool(_orders(m, "L2"))
                and any(p.get("source_done") is True for t, p, _ in m if t.endswith("/status"))
            ),
            timeout_s=60,
        )
        assert proc.poll() is None, "the daemon stays up after the replay until it is stopped"

        status = [p for t, p, _ in msgs if t == f"{PREFIX}/{INSTANCE}/status"]
        assert status[0]["state"] == "online"
        for layer in ("L1", "L2"):
            alert = _activation_alerts(msgs, layer)[0]
            assert alert["v"] == 1
            reason_ids = {r["id"] for r in alert["reasons"] if r["holds"]}
            assert reason_ids, f"{layer} activation alert names no reason"
            assert alert["exit_rule"], f"{layer} activation states no exit rule"
            order = _orders(msgs, layer)[0]
            assert order["intent"] == "open"
            assert order["action"] == "BUY"
            assert order["contracts"] > 0
            assert order["limit_price"] > 0
            assert order["order_ref"].startswith("alvh")
            assert {r["id"] for r in order["reasons"] if r["holds"]}, "order names no reason"
        assert "ratio_macd_negative" in {
            r["id"] for r in _activation_alerts(msgs, "L1")[0]["reasons"]
        }

        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()

    # A fresh client sees the retained status: offline.
    late = Listener(broker.port, PREFIX)
    try:
        retained = late.wait_for(
            lambda m: any(t == f"{PREFIX}/{INSTANCE}/status" and r for t, _, r in m), timeout_s=5
        )
    finally:
        late.close()
    status_msgs = [p for t, p, r in retained if t == f"{PREFIX}/{INSTANCE}/status" and r]
    assert status_msgs[-1]["state"] == "offline"

    # Every journalled decision was published, and the listener saw each of them.
    with sqlite3.connect(journal_path) as db:
        rows = db.execute("SELECT decision_id, published FROM decisions").fetchall()
    assert rows, "the journal is empty"
    assert all(published for _, published in rows), "unpublished decisions left in the journal"
    seen_ids = {p.get("decision_id") for _, p, _ in msgs}
    # Layer changes travel on the retained `layers` topic, their id under `last_change`.
    seen_ids |= {
        p["last_change"]["decision_id"]
        for t, p, _ in msgs
        if t.endswith("/layers") and p.get("last_change")
    }
    published_kinds = {t.rsplit("/", 2)[-2] for t, _, _ in msgs}
    assert "alerts" in published_kinds
    journal_ids = {d for d, _ in rows}
    missing = journal_ids - seen_ids
    assert not missing, f"{len(missing)} journalled decisions never reached the broker"
