"""Fault matrix, IB side at start: the gateway closed, SIGTERM while connecting, a hung request.

Real processes: mosquitto, the fake TWS (``python -m tests.fakes.tws``), ``alvhd run
--source ibkr``; the verdict is what an independent paho subscriber heard.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from adapters.mqtt.embedded import free_port
from tests.e2e.procs import (
    PREFIX,
    STARTUP_S,
    Alvhd,
    FakeTwsProcess,
    Heard,
    Mosquitto,
    NotifySocket,
    Subscriber,
    daemon_env,
    log_time,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]


def _statuses(heard: list[Heard]) -> list[dict[str, object]]:
    return [h.payload for h in heard if h.topic.endswith("/status")]


def _broker_alerts(heard: list[Heard]) -> list[dict[str, object]]:
    return [h.payload for h in heard if h.topic.endswith("/alerts/broker")]


def test_gateway_closed_at_start_degrades_alerts_once_then_recovers(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    instance = "gw-closed"
    sub = Subscriber(mosquitto.port, f"{PREFIX}/{instance}", client_id="gw-closed-sub")
    notify = NotifySocket(tmp_path / "notify.sock")
    gateway = FakeTwsProcess(None, "--tick-s", "5")  # not started: the gateway is down
    env = daemon_env(
        broker_port=mosquitto.port,
        journal=tmp_path / "journal.sqlite",
        instance=instance,
        notify=notify,
        ALVH_SERVICE__STATUS_EVERY_S="2",
    )
    daemon = Alvhd(
        ["run", "--source", "ibkr", "--ib-port", str(gateway.port)], env, tmp_path / "alvhd.log"
    )
    try:
        ready = daemon.wait_log("started", timeout_s=STARTUP_S)  # READY=1 is sent here
        sub.wait_for(
            lambda h: (
                any(
                    s["state"] == "online"
                    and s["health"] == "degraded"
                    and "ib_unreachable" in s["reasons"]  # type: ignore[operator]
                    for s in _statuses(h)
                )
                and any(a["severity"] == "critical" for a in _broker_alerts(h))
            ),
            timeout_s=30,
            what="status online+degraded(ib_unreachable) and a critical broker alert",
        )
        heard = [
            h
            for h in sub.all()
            if h.topic.endswith("/alerts/broker") and h.payload["severity"] == "critical"
        ]
        assert heard[0].at - log_time(ready) < 10, "the outage alert must come within 10 s"
        degraded = [
            h
            for h in sub.all()
            if h.topic.endswith("/status") and h.payload["health"] == "degraded"
        ]
        assert degraded[0].at - log_time(ready) < 10, "degraded status within 10 s"
        assert notify.has("READY=1"), "READY=1 must not wait for the gateway"
        # No restart loop, and one alert for the whole episode however many retries.
        time.sleep(12)
        assert daemon.is_running(), daemon.text()[-3000:]
        assert len(daemon.events("ib_connect_failed")) >= 3
        critical = [a for a in _broker_alerts(sub.all()) if a["severity"] == "critical"]
        assert len(critical) == 1, critical
        assert str(gateway.port) in str(critical[0]["message"])
        # Heartbeat: the retained status is re-published while degraded.
        assert len(_statuses(sub.all())) >= 3

        gateway.start()
        sub.wait_for(
            lambda h: any("restored" in str(a["message"]) for a in _broker_alerts(h)),
            timeout_s=30,
            what="the broker restored alert",
        )
        sub.wait_for(
            lambda h: _statuses(h)[-1]["health"] == "ok",
            timeout_s=10,
            what="status health ok after the gateway is back",
        )
        daemon.wait_log("ib_started", timeout_s=60)
        code, _ = daemon.terminate()
        assert code == 0, daemon.text()[-3000:]
    finally:
        daemon.kill()
        gateway.kill()
        notify.close()
        sub.close()
    alerts = _broker_alerts(sub.all())
    assert [a["severity"] for a in alerts].count("critical") == 1
    assert len([a for a in alerts if "restored" in str(a["message"])]) == 1


def test_sigterm_while_connecting_to_ib_exits_0(mosquitto: Mosquitto, tmp_path: Path) -> None:
    instance = "gw-sigterm"
    sub = Subscriber(mosquitto.port, f"{PREFIX}/{instance}", client_id="gw-sigterm-sub")
    journal = tmp_path / "journal.sqlite"
    env = daemon_env(broker_port=mosquitto.port, journal=journal, instance=instance)
    daemon = Alvhd(
        ["run", "--source", "ibkr", "--ib-port", str(free_port())], env, tmp_path / "alvhd.log"
    )
    try:
        daemon.wait_log("ib_connect_failed", timeout_s=STARTUP_S)
        sub.wait_for(
            lambda h: any(s["state"] == "online" for s in _statuses(h)),
            timeout_s=30,
            what="the online status (MQTT up while IB is still connecting)",
        )
        code, took_s = daemon.terminate()
    finally:
        daemon.kill()
    try:
        assert code == 0, daemon.text()[-3000:]
        assert took_s < 10.0 + 2.0  # service.shutdown_timeout_s (+ interpreter exit)
        signalled = daemon.events("signal_received")[-1]
        assert log_time(daemon.events("stopped")[-1]) - log_time(signalled) <= 10.0
        stopped = daemon.events("stopped")
        assert stopped, "no `stopped` log line"
        assert stopped[-1]["exit_code"] == 0
        # the journal was closed cleanly: no WAL left behind, and it reads back
        assert not Path(f"{journal}-wal").exists()
        with sqlite3.connect(journal) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        sub.wait_for(
            lambda h: any(s["state"] == "offline" for s in _statuses(h)),
            timeout_s=5,
            what="the offline status",
        )
        offline = [s for s in _statuses(sub.all()) if s["state"] == "offline"][-1]
        assert offline["clean_stop"] is True
    finally:
        sub.close()


def test_option_chain_never_answered_daemon_ready_and_alerts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    instance = "gw-chain"
    sub = Subscriber(mosquitto.port, f"{PREFIX}/{instance}", client_id="gw-chain-sub")
    notify = NotifySocket(tmp_path / "notify.sock")
    gateway = FakeTwsProcess(None, "--tick-s", "5", "--hang-option-chain")
    gateway.start()
    env = daemon_env(
        broker_port=mosquitto.port,
        journal=tmp_path / "journal.sqlite",
        instance=instance,
        notify=notify,
        ALVH_IB__REQUEST_TIMEOUT_S="3",
    )
    daemon = Alvhd(
        ["run", "--source", "ibkr", "--ib-port", str(gateway.port)], env, tmp_path / "alvhd.log"
    )
    try:
        # ready and trading-capable before the chain request even timed out
        daemon.wait_log("ib_started", timeout_s=STARTUP_S)
        assert not daemon.events("ib_option_chain_unanswered")
        assert notify.has("READY=1")
        sub.wait_for(
            lambda h: any("option chain" in str(a["message"]) for a in _broker_alerts(h)),
            timeout_s=15,
            what="an alert saying the option chain request was not answered",
        )
        sub.wait_for(
            lambda h: _statuses(h)[-1]["health"] == "ok" and _statuses(h)[-1]["state"] == "online",
            timeout_s=5,
            what="status online + ok",
        )
        assert daemon.is_running()
        code, _ = daemon.terminate()
        assert code == 0, daemon.text()[-3000:]
    finally:
        daemon.kill()
        gateway.kill()
        notify.close()
        sub.close()
    assert not [a for a in _broker_alerts(sub.all()) if a["severity"] == "critical"]
