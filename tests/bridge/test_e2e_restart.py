"""The bridge killed mid-stream, and the daemon killed: what reaches people.

- ``kill -9`` of the bridge while 120 alerts stream in and its target is failing (30 rows
  stored but undelivered, retries in progress), 30 more published while it is down:
  after a restart every alert reaches the phone exactly once, in order (the outbox kept
  what it had stored, the broker queued what it had not acknowledged, the outbox refuses
  the re-sends). A kill in the milliseconds between a target accepting a message and
  the outbox recording it would repeat that one message: delivery is at-least-once.
- ``kill -9`` of the daemon: one "alvhd is down" critical within ``daemon_silence_s`` +
  5 s (here at once, through its Last Will), and one "back" after it restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.mqtt.embedded import Broker
from tests.bridge.helpers import (
    PREFIX,
    BridgeProc,
    Publisher,
    Receiver,
    alert_payload,
    bridge_env,
    wait_until,
    write_bridge_config,
)
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(180)]

STREAM = 120


def test_bridge_killed_mid_stream_loses_nothing_and_sends_nothing_twice(
    broker: Broker, ntfy: Receiver, tmp_path: Path
) -> None:
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=broker.port,
        outbox=tmp_path / "outbox.sqlite",
        extra={"instances": []},
        targets=[{"name": "phone", "url": f"ntfy://127.0.0.1:{ntfy.port}/phone"}],
    )
    bridge = BridgeProc(tmp_path, config, bridge_env(None, None))
    bridge.start()
    pub = Publisher(broker.port)
    killed_at = -1
    expected = [f"data stale: alert number {n:04d}" for n in range(STREAM)]
    try:
        for n in range(STREAM):
            pub.publish(f"{PREFIX}/default/alerts/data_stale", alert_payload(n))
            if n == 29:
                wait_until(lambda: len(ntfy.received()) == 30, 10, "first 30 delivered")
                ntfy.fail_for(6.0)  # 30… pile up in the outbox while ntfy answers 503
            if n == 59:
                wait_until(lambda: ntfy.refused() > 0, 10, "a refused retry")
                bridge.kill9()  # stored-but-undelivered rows and unacked messages in flight
                killed_at = len(ntfy.received())
            if n == 89:
                bridge.start()  # same client id and outbox: resumes the session
            time.sleep(0.04)
        # a QoS 1 re-send of the same decisions (as a restarted daemon does) is ignored
        for n in range(5):
            pub.publish(f"{PREFIX}/default/alerts/data_stale", alert_payload(n))
        wait_until(lambda: len(ntfy.received()) >= STREAM, 40, "every alert delivered")
        time.sleep(3)
    finally:
        pub.close()
        assert bridge.stop() == 0
    titles = [m["title"] for m in ntfy.received()]
    assert killed_at == 30, "nothing was accepted while ntfy failed"
    dupes = {t: c for t, c in Counter(titles).items() if c > 1}
    assert not dupes, f"pushed twice: {dupes}"
    assert sorted(titles) == expected, "none lost"
    assert titles == expected, "in order"


def _start_daemon(broker: Broker, market_dir: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALVH_")},
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__KEEPALIVE_S": "5",
        "ALVH_JOURNAL__PATH": str(tmp_path / "journal.sqlite"),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2019-12-02",
        "ALVH_REPLAY__END": "2019-12-03",
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    return subprocess.Popen(
        [str(alvhd), "run", "--source", "replay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_daemon_killed_raises_one_down_and_one_back(
    broker: Broker, ntfy: Receiver, tmp_path: Path, market_dir: Path
) -> None:
    silence_s = 45.0
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=broker.port,
        outbox=tmp_path / "outbox.sqlite",
        extra={"daemon_silence_s": silence_s, "instances": ["default"]},
        targets=[
            {
                "name": "phone",
                "url": f"ntfy://127.0.0.1:{ntfy.port}/phone",
                "min_severity": "critical",
            }
        ],
    )
    bridge = BridgeProc(tmp_path, config, bridge_env(None, None))
    bridge.start()
    listener = Listener(broker.port, PREFIX)
    daemon = _start_daemon(broker, market_dir, tmp_path)
    try:
        listener.wait_for(
            lambda msgs: any(t.endswith("/status") and p["state"] == "online" for t, p, _ in msgs),
            timeout_s=30,
        )
        time.sleep(2)
        assert ntfy.received() == [], "a healthy daemon raises nothing"
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=5)
        killed_at = time.time()
        wait_until(lambda: len(ntfy.received()) >= 1, silence_s + 5, "the down alert")
        down = ntfy.received()[0]
        assert down["title"] == "alvhd is down (default)"
        assert down["priority"] == 5
        assert "without a clean stop" in down["message"]
        assert down["arrived_at"] - killed_at < silence_s + 5
        daemon = _start_daemon(broker, market_dir, tmp_path)
        wait_until(lambda: len(ntfy.received()) >= 2, 30, "the back message")
        time.sleep(3)
        titles = [m["title"] for m in ntfy.received()]
    finally:
        # the bridge stops first: this daemon's offline on SIGTERM is not part of the test
        assert bridge.stop() == 0
        daemon.terminate()
        daemon.wait(timeout=20)
        listener.close()
    assert titles == ["alvhd is down (default)", "alvhd is back (default)"]
