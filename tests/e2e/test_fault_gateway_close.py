"""Fault matrix: the gateway killed for 100 s across the session close.

The fake TWS (a process) dies 15 s before the 2020-02-24 close on the daemon's rehearsal
clock and comes back 100 s later. The close still happens on the quotes already received:
the L1/L2 proposals and alerts must be on MQTT within 1 s of the decision (publishing
never waits on the gateway), each order must be placed exactly once after the gateway is
back, and the subscriber must hear one critical ``broker`` alert for the outage and one
``restored`` alert. About 3 minutes; its own file so that pytest-xdist runs it beside
the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.procs import (
    PREFIX,
    STARTUP_S,
    Alvhd,
    FakeTwsProcess,
    Heard,
    Mosquitto,
    Subscriber,
    daemon_env,
    log_time,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(400)]

CLOCK_START = "2020-02-24T16:13:50-05:00"  # 55 s to start before the kill, on a loaded CI
CLOSE = datetime.fromisoformat("2020-02-24T16:15:00-05:00")
KILL_BEFORE_CLOSE_S = 15.0
DOWN_S = 100.0
PUBLISH_WITHIN_S = 1.0


def _wall(line: dict[str, object]) -> float:
    return log_time(line)


def _broker_alerts(heard: list[Heard]) -> list[dict[str, object]]:
    return [h.payload for h in heard if h.topic.endswith("/alerts/broker")]


def test_gateway_killed_100s_across_the_close(tmp_path: Path) -> None:
    instance = "gw-close"
    broker = Mosquitto(tmp_path)
    broker.start()
    sub = Subscriber(broker.port, f"{PREFIX}/{instance}", client_id="gw-close-sub")
    gateway = FakeTwsProcess(None, "--tick-s", "2")
    gateway.start()
    env = daemon_env(
        broker_port=broker.port,
        journal=tmp_path / "journal.sqlite",
        instance=instance,
        ALVH_SERVICE__MARKET_EVERY_S="1",
    )
    daemon = Alvhd(
        ["run", "--source", "ibkr", "--ib-port", str(gateway.port), "--clock-start", CLOCK_START],
        env,
        tmp_path / "alvhd.log",
    )
    base = f"{PREFIX}/{instance}"
    try:
        shifted = daemon.wait_log("clock_shifted", timeout_s=STARTUP_S)
        offset_s = datetime.fromisoformat(str(shifted["now"])).timestamp() - _wall(shifted)

        def daemon_now() -> datetime:
            return datetime.fromtimestamp(time.time() + offset_s, tz=CLOSE.tzinfo)

        daemon.wait_log("ib_started", timeout_s=STARTUP_S)
        sub.wait_for(
            lambda h: any(
                {"SPX", "IWM", "VIX"} <= set(x.payload["quotes"])
                for x in h
                if x.topic == f"{base}/market"
            ),
            timeout_s=60,
            what="quotes of the session on the market topic",
        )
        kill_at = CLOSE - timedelta(seconds=KILL_BEFORE_CLOSE_S)
        assert daemon_now() < kill_at, "start-up took too long for this scenario"
        wait_until(lambda: daemon_now() >= kill_at, 150, "the kill time")
        gateway.kill()
        killed_at = time.time()

        # The close happens without the gateway; proposals go out at once.
        sub.wait_for(
            lambda h: (
                {x.payload.get("layer") for x in h if x.topic == f"{base}/orders/proposed"}
                >= {"L1", "L2"}
            ),
            timeout_s=40,
            what="the L1 and L2 proposals while the gateway is down",
        )
        time.sleep(2)
        journaled = {
            line["decision_id"]: _wall(line) for line in daemon.events("decision_journaled")
        }
        late = []
        for h in sub.all():
            did = h.payload.get("decision_id")
            is_event = "/alerts/" in h.topic or h.topic.endswith("/orders/proposed")
            if did in journaled and is_event and h.at - journaled[did] > PUBLISH_WITHIN_S:
                late.append((h.topic, round(h.at - journaled[did], 2)))
        assert not late, f"published later than {PUBLISH_WITHIN_S} s after the decision: {late}"
        assert not daemon.events("ib_order_placed"), "no order can be placed without a gateway"
        assert daemon.is_running(), daemon.text()[-3000:]

        wait_until(lambda: time.time() - killed_at >= DOWN_S, DOWN_S + 5, "the outage to last")
        assert daemon.is_running(), daemon.text()[-3000:]
        gateway.start()
        restarted_at = time.time()
        proposed = [x.payload for x in sub.all() if x.topic == f"{base}/orders/proposed"]
        refs = {p["order_ref"] for p in proposed}
        wait_until(
            lambda: {line["order_ref"] for line in daemon.events("ib_order_placed")} >= refs,
            45,
            "every proposal placed after the gateway returned",
        )
        sub.wait_for(
            lambda h: any("restored" in str(a["message"]) for a in _broker_alerts(h)),
            timeout_s=10,
            what="the restored alert",
        )
        time.sleep(2)
        code, _ = daemon.terminate()
    finally:
        daemon.kill()
        gateway.kill()
        sub.close()
        broker.stop()
    assert code == 0, daemon.text()[-3000:]
    placed = daemon.events("ib_order_placed")
    assert all(_wall(p) >= restarted_at for p in placed)
    counts = Counter(p["order_ref"] for p in placed)
    assert counts == Counter(dict.fromkeys(refs, 1)), f"placed: {counts}"
    alerts = _broker_alerts(sub.all())
    critical = [a for a in alerts if a["severity"] == "critical"]
    restored = [a for a in alerts if "restored" in str(a["message"])]
    assert len(critical) == 1, alerts
    assert len(restored) == 1, alerts
