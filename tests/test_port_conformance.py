"""Static port conformance (checked by ``mypy``, like structlog's ``tests/typing``).

Each assignment below fails type checking if the implementation drifts from its port;
the test functions also exercise each through the port type, so a fake that type-checks
but misbehaves fails at run time too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.clock import SystemClock
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.topics import Topics
from adapters.sqlite.journal import SqliteJournal
from daemon.core.engine import Engine
from daemon.core.model import Alert, AlertKind, Severity
from daemon.errors import PublishFailed
from daemon.pipeline import EngineApi, LogSink
from daemon.ports import AlertSink, Clock, Journal, MarketDataSource, OrderSink
from tests.fakes.ports import (
    FakeClock,
    FakeMarketDataSource,
    InMemoryJournal,
    RecordingAlertSink,
    RecordingOrderSink,
)

_alerts: AlertSink = RecordingAlertSink()
_orders: OrderSink = RecordingOrderSink()
_journal: Journal = InMemoryJournal()
_clock: Clock = FakeClock()
_system_clock: Clock = SystemClock()
_log_alerts: AlertSink = LogSink()
_log_orders: OrderSink = LogSink()


def _source() -> MarketDataSource:
    return FakeMarketDataSource()  # needs a running loop only for its queue's waiters


def _sqlite(j: SqliteJournal) -> Journal:
    return j


def _mqtt_alerts(p: MqttPublisher) -> AlertSink:
    return p


def _mqtt_orders(p: MqttPublisher) -> OrderSink:
    return p


def _engine(e: Engine) -> EngineApi:
    return e


def _alert(i: int) -> Alert:
    return Alert(
        decision_id=f"a{i}",
        ts=datetime(2020, 3, 2, tzinfo=UTC),
        kind=AlertKind.DATA_STALE,
        severity=Severity.WARNING,
        key="stale:VIX",
        message="VIX stale",
    )


async def test_journals_dedup_through_the_port(tmp_path: Path) -> None:
    sqlite = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        for journal in (_journal, _sqlite(sqlite)):
            assert await journal.append(_alert(1)) is True
            assert await journal.append(_alert(1)) is False
            assert [r.decision for r in await journal.unpublished()] == [_alert(1)]
    finally:
        await sqlite.aclose()


async def test_mqtt_sink_without_broker_raises_the_port_error() -> None:
    publisher = MqttPublisher(
        hostname="127.0.0.1",
        port=1,
        topics=Topics("alvhd", "t"),
        clock=SystemClock(),
        mode="paper",
        source="replay",
        version="0",
        connect_wait_s=0.05,
    )
    sink = _mqtt_alerts(publisher)
    # The pipeline retries only TransientError: a missing broker must surface as one.
    with pytest.raises(PublishFailed):
        await sink.send(_alert(1))
    await publisher.aclose()
