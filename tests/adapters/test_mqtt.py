"""MqttPublisher against a REAL mosquitto, observed by an independent paho-mqtt client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adapters.clock import SystemClock
from adapters.mqtt.payloads import OrderPayload, StatusPayload
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics
from daemon.core.model import Layer
from daemon.errors import ConfigError
from tests.conftest import REPO_ROOT
from tests.fakes.decisions import alert, change, order
from tests.mqtt_broker import start_mosquitto, stop_mosquitto

pytestmark = pytest.mark.mqtt

TOPICS = Topics("alvhd-test", "unit")


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: dict[str, Any]
    qos: int
    retain: bool


class Listener:
    """Independent subscriber (paho thread) collecting everything under the instance."""

    def __init__(self, port: int, topic: str = TOPICS.everything) -> None:
        self._lock = threading.Lock()
        self._msgs: list[Msg] = []
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()
        if not self._subscribed.wait(5):
            raise RuntimeError("listener could not subscribe")

    def _on_message(self, _c: object, _u: object, m: paho.MQTTMessage) -> None:
        with self._lock:
            self._msgs.append(Msg(m.topic, json.loads(m.payload), m.qos, bool(m.retain)))

    def messages(self, topic: str | None = None) -> list[Msg]:
        with self._lock:
            return [m for m in self._msgs if topic is None or m.topic == topic]

    async def wait_for(
        self, pred: Callable[[list[Msg]], bool], timeout_s: float = 5.0
    ) -> list[Msg]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msgs = self.messages()
            if pred(msgs):
                return msgs
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out; got {[(m.topic, m.payload) for m in self.messages()]}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = start_mosquitto(tmp_path)
    yield proc, port
    stop_mosquitto(proc)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


async def eventually(pred: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``pred`` (state owned by another thread/process) until true."""
    async with asyncio.timeout(timeout_s):
        while not pred():  # noqa: ASYNC110 - external state, nothing to await on
            await asyncio.sleep(0.01)


def make_publisher(port: int, **kw: Any) -> MqttPublisher:
    return MqttPublisher(
        hostname="127.0.0.1",
        port=port,
        topics=TOPICS,
        clock=SystemClock(),
        mode="paper",
        source="replay",
        version="0.1.0",
        identifier="alvhd-test-unit",
        **kw,
    )


@pytest.fixture
async def running(
    broker: tuple[subprocess.Popen[bytes], int],
) -> AsyncIterator[MqttPublisher]:
    publisher = make_publisher(broker[1], reconnect_min_s=0.05, reconnect_max_s=0.2)
    task = asyncio.create_task(publisher.run(), name="mqtt.publisher")
    try:
        await eventually(lambda: publisher.is_connected)
        yield publisher
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await publisher.aclose()


def status_of(msgs: list[Msg]) -> list[dict[str, Any]]:
    return [m.payload for m in msgs if m.topic == TOPICS.status]


async def test_online_is_retained_and_alerts_and_orders_arrive_qos1(
    running: MqttPublisher, broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    # Subscribing after the connection: only a *retained* status can reach us.
    listener = Listener(broker[1])
    listeners.append(listener)
    msgs = await listener.wait_for(lambda m: bool(status_of(m)))
    [status] = [m for m in msgs if m.topic == TOPICS.status]
    assert status.retain
    assert status.payload["state"] == "online"
    assert status.payload["v"] == 1
    assert status.payload["mode"] == "paper"
    assert StatusPayload.model_validate(status.payload).source == "replay"

    await running.send(alert("a1"))
    await running.submit(order("o1"))
    alert_topic = f"{TOPICS.base}/alerts/layer_activated"
    msgs = await listener.wait_for(
        lambda m: (
            any(x.topic == alert_topic for x in m)
            and any(x.topic == TOPICS.orders_proposed for x in m)
        )
    )
    [a] = [m for m in msgs if m.topic == alert_topic]
    [o] = [m for m in msgs if m.topic == TOPICS.orders_proposed]
    assert (a.qos, a.retain, o.qos, o.retain) == (1, False, 1, False)
    assert a.payload["v"] == 1
    assert a.payload["decision_id"] == "a1"
    assert a.payload["reasons"][0]["id"] == "ratio_macd_negative"
    assert a.payload["exit_rule"]
    assert o.payload["v"] == 2  # orders carry their scenario inputs since v2 (issue 10)
    assert o.payload["reasons"][0]["holds"] is True
    assert o.payload["order_ref"].startswith("alvh:L1:open")
    # The consumer can rebuild the exact proposal from the wire.
    assert OrderPayload.model_validate(o.payload).to_core() == order("o1")


async def test_sends_are_idempotent_per_decision_id(
    running: MqttPublisher, broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    listener = Listener(broker[1], f"{TOPICS.base}/alerts/+")
    listeners.append(listener)
    await running.send(alert("a1"))
    await running.send(alert("a1"))  # a pipeline retry after a lost acknowledgement
    await running.send(alert("a2"))
    msgs = await listener.wait_for(lambda m: any(x.payload["decision_id"] == "a2" for x in m))
    assert [m.payload["decision_id"] for m in msgs] == ["a1", "a2"]


async def test_layers_state_is_retained(
    running: MqttPublisher, broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    await running.publish_layers((Layer.L2, Layer.L1), change("c1"))
    late = Listener(broker[1], TOPICS.layers)
    listeners.append(late)
    [msg] = await late.wait_for(bool)
    assert msg.retain
    assert msg.payload["active_layers"] == ["L1", "L2"]
    assert msg.payload["last_change"]["decision_id"] == "c1"
    assert msg.payload["decision_id"] == "c1"
    assert msg.payload["last_change"]["is_active"] is True


async def test_aclose_leaves_a_retained_offline(
    broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    publisher = make_publisher(broker[1])
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(publisher.run())
        await eventually(lambda: publisher.is_connected)
        await publisher.aclose()  # run() sees the clean disconnect and returns
    assert task.done()
    assert not publisher.is_connected

    late = Listener(broker[1], TOPICS.status)
    listeners.append(late)
    [msg] = await late.wait_for(bool)
    assert msg.retain
    assert msg.payload["state"] == "offline"


WILL_SCRIPT = """
import asyncio, sys
from adapters.clock import SystemClock
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics

async def main():
    p = MqttPublisher(hostname="127.0.0.1", port=int(sys.argv[1]),
                      topics=Topics("alvhd-test", "unit"), clock=SystemClock(),
                      mode="live", source="ibkr", version="0.1.0")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(p.run())
        while not p.is_connected:
            await asyncio.sleep(0.01)
        print("connected", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_last_will_says_offline_when_the_process_dies(
    broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    listener = Listener(broker[1], TOPICS.status)
    listeners.append(listener)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WILL_SCRIPT,
        str(broker[1]),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(8):  # stdout also carries the daemon's log lines
            while (await proc.stdout.readline()).strip() != b"connected":
                pass
        await listener.wait_for(lambda m: any(p["state"] == "online" for p in status_of(m)))
        proc.kill()  # SIGKILL: no DISCONNECT packet, the broker must fire the Will
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    msgs = await listener.wait_for(lambda m: status_of(m)[-1]["state"] == "offline")
    offline = status_of(msgs)[-1]
    assert offline["mode"] == "live"
    assert offline["v"] == 1
    # And it is retained for whoever looks later.
    late = Listener(broker[1], TOPICS.status)
    listeners.append(late)
    [msg] = await late.wait_for(bool)
    assert (msg.retain, msg.payload["state"]) == (True, "offline")


async def test_reconnects_after_a_broker_restart(
    running: MqttPublisher,
    broker: tuple[subprocess.Popen[bytes], int],
    tmp_path: Path,
    listeners: list[Listener],
) -> None:
    proc, port = broker
    stop_mosquitto(proc)
    await eventually(lambda: not running.is_connected)
    restarted, _ = start_mosquitto(tmp_path, port=port)
    try:
        await eventually(lambda: running.is_connected, timeout_s=8)
        assert running.connections == 2
        listener = Listener(port)
        listeners.append(listener)
        # The new broker has no persistence: the publisher re-announced itself.
        await listener.wait_for(lambda m: bool(status_of(m)))
        assert status_of(listener.messages())[0]["state"] == "online"
        await running.send(alert("after-restart"))
        await listener.wait_for(
            lambda m: any(x.payload.get("decision_id") == "after-restart" for x in m)
        )
    finally:
        stop_mosquitto(restarted)


def test_topics_layout() -> None:
    topics = Topics("alvh/prod", "paper-1")
    assert topics.status == "alvh/prod/paper-1/status"
    assert topics.layers == "alvh/prod/paper-1/layers"
    assert topics.orders_proposed == "alvh/prod/paper-1/orders/proposed"
    assert topics.signals == "alvh/prod/paper-1/signals"


@pytest.mark.parametrize(
    ("prefix", "instance"), [("", "x"), ("a/#", "x"), ("a", "b+"), ("a//b", "x")]
)
def test_topics_refuse_wildcards_and_empty_parts(prefix: str, instance: str) -> None:
    with pytest.raises(ConfigError):
        Topics(prefix, instance)


def test_status_payload_is_tz_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        StatusPayload(
            state="online",
            ts=datetime(2020, 1, 1),  # noqa: DTZ001 - the point of the test
            mode="paper",
            source="x",
            version="1",
        )
    ok = StatusPayload(
        state="online", ts=datetime(2020, 1, 1, tzinfo=UTC), mode="paper", source="x", version="1"
    )
    assert StatusPayload.model_validate_json(ok.model_dump_json()) == ok
    assert date(2020, 1, 1) == ok.ts.date()


async def test_a_burst_is_written_in_the_turn_after_its_publishes(
    running: MqttPublisher, broker: tuple[subprocess.Popen[bytes], int], listeners: list[Listener]
) -> None:
    """Issue 9: ten sends started together are on the wire one loop turn later, in order.

    (aiomqtt's own writer needs a self-pipe wake-up and a poll for writability first: the
    packets would still be queued in paho after those two turns.)
    """
    listener = Listener(broker[1])
    listeners.append(listener)
    session = running._client
    assert session is not None
    paho_client = session._client
    ids = [f"burst-{i}" for i in range(10)]
    sends = [asyncio.create_task(running.send(alert(i))) for i in ids]
    await asyncio.sleep(0)  # the ten sends hand their packets to paho
    assert paho_client.want_write()
    await asyncio.sleep(0)  # the next turn writes them
    assert not paho_client.want_write(), "the burst is still queued in paho"
    await asyncio.gather(*sends)  # every PUBACK arrived
    alert_topic = f"{TOPICS.base}/alerts/layer_activated"
    msgs = await listener.wait_for(
        lambda m: len([x for x in m if x.topic == alert_topic]) >= len(ids)
    )
    assert [m.payload["decision_id"] for m in msgs if m.topic == alert_topic] == ids
