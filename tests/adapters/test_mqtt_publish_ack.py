"""The publisher's QoS 1 wait for the PUBACK (issue 9: without aiomqtt's per-call task).

``MqttPublisher`` publishes through paho and waits for the broker's acknowledgement in
the sender's own task (``adapters.mqtt.publisher._publish_acked``). What a user relies
on: a burst of concurrent sends is each acknowledged and heard once; a broker that stops
acknowledging makes the send fail with ``PublishFailed`` after ``op_timeout_s`` (so the
pipeline retries it), leaves no stale bookkeeping, and the next send after the broker
is back is delivered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.mqtt.publisher import MqttPublisher
from daemon.errors import PublishFailed
from tests.adapters.test_mqtt import TOPICS, Listener, eventually, make_publisher
from tests.fakes.decisions import alert
from tests.mqtt_broker import start_mosquitto, stop_mosquitto

pytestmark = pytest.mark.mqtt

_OP_TIMEOUT_S = 0.4
"""The publisher's PUBACK timeout in these tests (seconds)."""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = start_mosquitto(tmp_path)
    yield proc, port
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)  # never leave it frozen
    stop_mosquitto(proc)


@pytest.fixture
async def publisher(broker: tuple[subprocess.Popen[bytes], int]) -> AsyncIterator[MqttPublisher]:
    pub = make_publisher(
        broker[1], reconnect_min_s=0.05, reconnect_max_s=0.2, op_timeout_s=_OP_TIMEOUT_S
    )
    task = asyncio.create_task(pub.run(), name="mqtt.publisher")
    try:
        await eventually(lambda: pub.is_connected)
        yield pub
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pub.aclose(timeout_s=1.0)


def _pending(pub: MqttPublisher) -> dict[int, asyncio.Event]:
    client = pub._client
    assert client is not None
    pending = client._pending_publishes  # aiomqtt 2.x internal the publisher registers in
    assert isinstance(pending, dict)
    return pending


async def test_a_concurrent_burst_is_acknowledged_and_heard_once(
    broker: tuple[subprocess.Popen[bytes], int], publisher: MqttPublisher
) -> None:
    listener = Listener(broker[1], TOPICS.everything)
    try:
        ids = [f"burst-{i}" for i in range(10)]
        async with asyncio.timeout(5.0):
            await asyncio.gather(*(publisher.send(alert(i)) for i in ids))
        assert _pending(publisher) == {}
        msgs = await listener.wait_for(
            lambda ms: {m.payload.get("decision_id") for m in ms} >= set(ids)
        )
        heard = [m.payload["decision_id"] for m in msgs if m.payload.get("decision_id") in ids]
        assert sorted(heard) == sorted(ids)  # each once
        assert {m.qos for m in msgs if m.payload.get("decision_id") in ids} == {1}
    finally:
        listener.close()


async def test_no_puback_fails_the_send_after_the_timeout_then_the_broker_is_back(
    broker: tuple[subprocess.Popen[bytes], int], publisher: MqttPublisher
) -> None:
    proc, port = broker
    os.kill(proc.pid, signal.SIGSTOP)  # the broker stops reading: no PUBACK
    started = time.monotonic()
    with pytest.raises(PublishFailed, match="timed out"):
        await publisher.send(alert("frozen-1"))
    waited_s = time.monotonic() - started
    assert _OP_TIMEOUT_S <= waited_s < _OP_TIMEOUT_S + 2.0
    assert _pending(publisher) == {}  # nothing left waiting for that message id
    os.kill(proc.pid, signal.SIGCONT)

    listener = Listener(port, TOPICS.everything)
    try:
        async with asyncio.timeout(10.0):
            while True:  # as the pipeline does: retry until acknowledged
                try:
                    await publisher.send(alert("after-1"))
                    break
                except PublishFailed:
                    await asyncio.sleep(0.1)
        await listener.wait_for(
            lambda ms: any(m.payload.get("decision_id") == "after-1" for m in ms)
        )
    finally:
        listener.close()
