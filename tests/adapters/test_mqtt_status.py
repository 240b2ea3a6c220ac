"""MqttPublisher status heartbeat, health reasons and the signals topic, on a real mosquitto."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from adapters.mqtt.publisher import MqttPublisher
from daemon.core.model import SignalReading
from tests.adapters.test_mqtt import (
    TOPICS,
    Listener,
    broker,
    eventually,
    listeners,
    make_publisher,
    status_of,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.mqtt
__all__ = ["broker", "listeners"]  # fixtures re-used from test_mqtt


def reading(value: float) -> SignalReading:
    return SignalReading(
        id="ratio_macd_negative", value=value, threshold=0.0, holds=value < 0, detail="d"
    )


@pytest.fixture
async def reasons_and_publisher(
    broker: tuple[subprocess.Popen[bytes], int],
) -> AsyncIterator[tuple[list[str], MqttPublisher]]:
    reasons: list[str] = []
    publisher = make_publisher(
        broker[1],
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        health=lambda: reasons,
        status_every_s=0.5,
        status_poll_s=0.05,
        signals_every_s=0.3,
    )
    tasks = [
        asyncio.create_task(publisher.run()),
        asyncio.create_task(publisher.run_status()),
        asyncio.create_task(publisher.run_signals()),
    ]
    try:
        await eventually(lambda: publisher.is_connected)
        yield reasons, publisher
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await publisher.aclose()


async def test_status_shows_degraded_reasons_at_once_and_beats(
    reasons_and_publisher: tuple[list[str], MqttPublisher],
    broker: tuple[subprocess.Popen[bytes], int],
    listeners: list[Listener],
) -> None:
    reasons, publisher = reasons_and_publisher
    listener = Listener(broker[1], TOPICS.status)
    listeners.append(listener)
    await listener.wait_for(lambda m: bool(status_of(m)))
    assert status_of(listener.messages())[-1]["health"] == "ok"
    reasons.append("ib_unreachable")
    msgs = await listener.wait_for(
        lambda m: status_of(m)[-1]["health"] == "degraded", timeout_s=1.0
    )
    degraded = status_of(msgs)[-1]
    assert degraded["state"] == "online"
    assert degraded["reasons"] == ["ib_unreachable"]
    assert publisher.reasons == ("ib_unreachable",)
    # heartbeat: re-published (retained) with a fresh ts while nothing changes
    count = len(status_of(listener.messages()))
    await listener.wait_for(lambda m: len(status_of(m)) >= count + 2, timeout_s=3.0)
    stamps = [s["ts"] for s in status_of(listener.messages())]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    reasons.clear()
    await listener.wait_for(lambda m: status_of(m)[-1]["health"] == "ok", timeout_s=1.0)
    assert status_of(listener.messages())[-1]["reasons"] == []


async def test_clean_stop_is_marked_in_the_offline_status(
    broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    publisher = make_publisher(broker[1], reconnect_min_s=0.05)
    task = asyncio.create_task(publisher.run())
    await eventually(lambda: publisher.is_connected)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await publisher.aclose()
    late = Listener(broker[1], TOPICS.status)
    listeners.append(late)
    [msg] = await late.wait_for(bool)
    assert msg.retain
    assert msg.payload["state"] == "offline"
    assert msg.payload["clean_stop"] is True


async def test_signals_are_retained_and_rate_limited_to_the_latest(
    reasons_and_publisher: tuple[list[str], MqttPublisher],
    broker: tuple[subprocess.Popen[bytes], int],
    listeners: list[Listener],
) -> None:
    _, publisher = reasons_and_publisher
    listener = Listener(broker[1], TOPICS.signals)
    listeners.append(listener)
    day = date(2020, 2, 24)
    for i in range(20):  # a burst of evaluations: only some reach the broker
        publisher.offer_signals(
            [reading(-0.001 * (i + 1))],
            session_date=day,
            is_provisional=True,
            ts=datetime(2020, 2, 24, 15, 0, i, tzinfo=UTC),
        )
        await asyncio.sleep(0.01)
    msgs = await listener.wait_for(
        lambda m: bool(m) and m[-1].payload["readings"][0]["value"] == pytest.approx(-0.02),
        timeout_s=3.0,
    )
    assert 1 <= len(msgs) <= 3, "a burst must be rate-limited"
    assert msgs[-1].retain or len(msgs) > 1
    assert msgs[-1].payload["session_date"] == "2020-02-24"
    assert msgs[-1].payload["is_provisional"] is True
    late = Listener(broker[1], TOPICS.signals)
    listeners.append(late)
    [retained] = await late.wait_for(bool)
    assert retained.retain
    assert retained.payload["readings"][0]["value"] == pytest.approx(-0.02)


HEARTBEAT_SCRIPT = """
import asyncio, sys
from adapters.clock import SystemClock
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics

async def main():
    p = MqttPublisher(hostname="127.0.0.1", port=int(sys.argv[1]),
                      topics=Topics("alvhd-test", "unit"), clock=SystemClock(),
                      mode="paper", source="ibkr", version="0.1.0",
                      status_every_s=0.5, status_poll_s=0.05)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(p.run())
        tg.create_task(p.run_status())
        while not p.is_connected:
            await asyncio.sleep(0.01)
        print("connected", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_the_last_will_says_when_the_daemon_was_last_seen_not_when_it_connected(
    broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    listener = Listener(broker[1], TOPICS.status)
    listeners.append(listener)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HEARTBEAT_SCRIPT,
        str(broker[1]),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(8):
            while (await proc.stdout.readline()).strip() != b"connected":
                pass
        await asyncio.sleep(3.0)  # several heartbeats, each re-arming the Will
        killed_at = datetime.now(UTC)
        proc.kill()  # SIGKILL: no DISCONNECT, the broker fires the Will
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    msgs = await listener.wait_for(lambda m: status_of(m)[-1]["state"] == "offline")
    will = status_of(msgs)[-1]
    assert will["clean_stop"] is False
    ts = datetime.fromisoformat(will["ts"])
    online_since = datetime.fromisoformat(will["online_since"])
    assert (killed_at - ts).total_seconds() < 1.5, "the Will's time must be the last heartbeat"
    assert (ts - online_since).total_seconds() > 2.0, "not the connect time"
    # exactly one offline (one armed Will at a time: retired keepers left no Will behind)
    assert [s["state"] for s in status_of(listener.messages())].count("offline") == 1
