"""Pipelined publishing (issue 9): a burst journaled at once, sent concurrently, each once.

The pipeline over fakes (a scripted engine, an in-memory journal that records its batch
calls, sinks that hold or fail sends on demand), and the SQLite journal's batch calls.
What a subscriber would notice: every decision arrives, none twice, in journal order
(also after an outage), none before it is journaled, and a slow acknowledgement does not
hold back the next burst.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.sqlite.journal import SqliteJournal
from daemon.core.model import Alert, Decision, ProposedOrder, Quote, SessionClose
from daemon.errors import PublishFailed
from daemon.pipeline import PUBLISH_WINDOW
from tests.fakes.decisions import alert, order
from tests.fakes.ports import FakeMarketDataSource, InMemoryJournal
from tests.unit.test_pipeline import D1, D2, T1, T2, Harness, StubEngine, day_tape


class BatchJournal(InMemoryJournal):
    """InMemoryJournal with the batch calls of SqliteJournal, recording their sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.append_batches: list[int] = []
        self.publish_batches: list[int] = []

    async def append_many(self, decisions: Sequence[Decision]) -> list[bool]:
        self.append_batches.append(len(decisions))
        return [await self.append(d) for d in decisions]

    async def mark_published_many(self, decision_ids: Sequence[str]) -> None:
        self.publish_batches.append(len(decision_ids))
        for decision_id in decision_ids:
            await self.mark_published(decision_id)


class SlowSink:
    """Alert and order sink: each send takes ``delay_s`` (a PUBACK round trip).

    Counts how many sends are in flight at once; fails the first send of the ids in
    ``fail_once``; while ``down`` is set every send fails (a broker outage); a send of an
    id in ``held`` waits until ``release`` is set (a slow PUBACK).
    """

    def __init__(self, delay_s: float = 0.01, fail_once: frozenset[str] = frozenset()) -> None:
        self.delay_s = delay_s
        self.fail_once = set(fail_once)
        self.down = False
        self.held: set[str] = set()
        self.release = asyncio.Event()
        self.started: list[str] = []
        self.delivered: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def _go(self, decision_id: str) -> None:
        self.started.append(decision_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            if decision_id in self.held:
                await self.release.wait()
            if self.down:
                raise PublishFailed(f"fake broker down for {decision_id}")
            if decision_id in self.fail_once:
                self.fail_once.discard(decision_id)
                raise PublishFailed(f"fake PUBACK timeout for {decision_id}")
            self.delivered.append(decision_id)
        finally:
            self.in_flight -= 1

    async def send(self, alert: Alert) -> None:
        await self._go(alert.decision_id)

    async def submit(self, order: ProposedOrder) -> None:
        await self._go(order.decision_id)


def _burst(prefix: str, n: int) -> list[Decision]:
    out: list[Decision] = []
    for i in range(n):
        if i % 2:
            out.append(order(f"{prefix}o{i}"))
        else:
            out.append(alert(f"{prefix}a{i}", key=f"{prefix}{i}"))
    return out


def _harness(
    journal: InMemoryJournal,
    sink: SlowSink,
    *,
    window: int,
    source: FakeMarketDataSource | None = None,
) -> tuple[Harness, list[str]]:
    d1, d2 = _burst("x", 10), _burst("y", 10)
    engine = StubEngine(on_close={D1: d1, D2: d2})
    source = source or FakeMarketDataSource([*day_tape(D1, T1), *day_tape(D2, T2)])
    h = Harness(engine, source, journal=journal, publish_window=window)
    h.pipeline._alert_sink = sink
    h.pipeline._order_sink = sink
    return h, [d.decision_id for d in (*d1, *d2)]


def _write_ahead(journal: InMemoryJournal, ids: Sequence[str], sink: SlowSink) -> None:
    """Every decision was journaled before any send of it started (and before marking)."""
    for decision_id in ids:
        assert ("append", decision_id) in journal.events
    assert journal.events.index(("append", ids[-1])) < journal.events.index(("publish", ids[0]))
    assert sink.started[0] == ids[0]


async def test_a_burst_is_journaled_at_once_and_sent_concurrently_in_order() -> None:
    journal, sink = BatchJournal(), SlowSink(delay_s=0.02)
    h, ids = _harness(journal, sink, window=16)
    assert await h.run() == 0
    assert journal.append_batches == [10, 10]  # one transaction (one fsync) per burst
    # both bursts were queued before the first PUBACK: the window (16) bounds what is in flight
    assert sink.max_in_flight == 16
    assert sink.started == ids  # sent in journal order
    assert sink.delivered == ids  # each once
    assert all(r.published for r in journal.records())
    # marked published in batches as the acknowledgements came back, each batch ≤ window
    assert [e for e in journal.events if e[0] == "publish"] == [("publish", i) for i in ids]
    assert max(journal.publish_batches) <= 16
    assert sum(journal.publish_batches) > 10  # not one transaction per decision
    _write_ahead(journal, ids, sink)
    assert h.pipeline.stats.published == 20
    assert h.pipeline.outbox.items() == ()


async def test_window_one_is_the_sequential_path() -> None:
    journal, sink = BatchJournal(), SlowSink(delay_s=0.001)
    h, ids = _harness(journal, sink, window=1)
    assert await h.run() == 0
    assert sink.max_in_flight == 1
    assert sink.delivered == ids
    assert journal.publish_batches == []  # one mark_published per decision


async def test_a_slow_acknowledgement_does_not_hold_back_the_next_burst() -> None:
    """The first decision's PUBACK is late: the others (and the 2nd burst) still go out,
    but nothing after it is marked published before it (a restart re-sends in order)."""
    journal, sink = BatchJournal(), SlowSink(delay_s=0.001)
    source = FakeMarketDataSource(day_tape(D1, T1), keep_open=True)
    h, ids = _harness(journal, sink, window=PUBLISH_WINDOW, source=source)
    sink.held = {ids[0]}
    run = asyncio.create_task(h.run())
    async with asyncio.timeout(5.0):
        while len(sink.delivered) < 9:  # noqa: ASYNC110 - polling a fake's state
            await asyncio.sleep(0.005)
        for event in day_tape(D2, T2):  # the next session close, head still unacknowledged
            source.push(event)
        while len(sink.delivered) < 15:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    assert sink.delivered == ids[1:16]  # 15 acknowledged while the head waits (window 16)
    assert [r.decision.decision_id for r in await journal.unpublished()] == ids  # in order
    sink.release.set()
    source.end()
    assert await run == 0
    assert sorted(sink.delivered) == sorted(ids)
    assert len(sink.delivered) == 20  # each once
    assert all(r.published for r in journal.records())


async def test_a_failed_send_in_a_window_is_retried_alone_and_nothing_is_sent_twice() -> None:
    journal, sink = BatchJournal(), SlowSink(delay_s=0.005, fail_once=frozenset({"xo3", "ya4"}))
    h, ids = _harness(journal, sink, window=16)
    assert await h.run() == 0
    assert sorted(sink.delivered) == sorted(ids)
    assert len(sink.delivered) == len(set(sink.delivered))  # each delivered once
    assert all(r.published for r in journal.records())
    assert sink.started.count("xo3") == 2
    assert sink.started.count("ya4") == 2
    assert h.pipeline.stats.published == 20


async def test_after_an_outage_the_undelivered_go_out_in_journal_order() -> None:
    """The broker is down while the bursts are sent: every send of the window fails; once
    it is back they are delivered each once, in journal order."""
    journal, sink = BatchJournal(), SlowSink(delay_s=0.002)
    sink.down = True
    h, ids = _harness(journal, sink, window=16)

    async def broker_returns() -> None:
        while len(sink.started) < 16:  # noqa: ASYNC110 - polling a fake's state
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)  # a few retries fail too
        sink.down = False

    back = asyncio.create_task(broker_returns())
    assert await h.run() == 0
    await back
    assert sink.delivered == ids  # journal order, each once
    assert all(r.published for r in journal.records())
    assert len(sink.started) > 20  # there were failed attempts


async def test_shutdown_drain_waits_for_the_sends_in_flight_and_sends_nothing_twice() -> None:
    """Stopped (SIGTERM) with a window in flight: the drain lets the sends finish, marks
    them published without sending again, and delivers what was still queued."""
    journal, sink = BatchJournal(), SlowSink(delay_s=0.05)
    source = FakeMarketDataSource([*day_tape(D1, T1), *day_tape(D2, T2)], keep_open=True)
    h, ids = _harness(journal, sink, window=16, source=source)
    stop = asyncio.Event()

    async def stop_mid_flight() -> None:
        while sink.in_flight < 16:  # noqa: ASYNC110 - polling a fake's state
            await asyncio.sleep(0.001)
        stop.set()

    stopper = asyncio.create_task(stop_mid_flight())
    assert await h.run(stop=stop) == 0
    await stopper
    assert sorted(sink.delivered) == sorted(ids)
    assert len(sink.delivered) == 20  # each once
    assert sink.started.count(ids[0]) == 1  # acknowledged in the drain: not sent again
    assert all(r.published for r in journal.records())


class GroupJournal(BatchJournal):
    """BatchJournal with ``write_batch`` (decisions + snapshot in one transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.write_batches: list[tuple[int, bool]] = []

    async def write_batch(
        self, decisions: Sequence[Decision], snapshot: bytes | None
    ) -> list[bool]:
        self.write_batches.append((len(decisions), snapshot is not None))
        news = [await self.append(d) for d in decisions]
        if snapshot is not None:
            await self.save_snapshot(snapshot)
        return news


def _many_days(n: int) -> tuple[list[Quote | SessionClose], dict[date, list[Decision]]]:
    tape: list[Quote | SessionClose] = []
    on_close: dict[date, list[Decision]] = {}
    for i in range(n):
        day, ts = D1 + timedelta(days=i), T1 + timedelta(days=i)
        tape += day_tape(day, ts)
        on_close[day] = [alert(f"g{i}", key="same-key")]  # one alert per close, one key
    return tape, on_close


async def test_replay_group_commits_what_the_engine_ran_ahead_with_its_snapshot() -> None:
    """Replay: the engine does not wait for each close's fsync; the journal commits what
    it produced meanwhile in one transaction with the latest snapshot, in order."""
    tape, on_close = _many_days(30)
    engine = StubEngine(on_close=on_close)
    journal, sink = GroupJournal(), SlowSink(delay_s=0.001)
    h = Harness(engine, FakeMarketDataSource(tape), journal=journal, publish_window=16)
    h.pipeline._alert_sink = sink
    assert await h.run() == 0
    ids = [f"g{i}" for i in range(30)]
    assert sum(n for n, _ in journal.write_batches) == 30
    assert len(journal.write_batches) < 30  # closes shared a transaction
    assert journal.all_ids() == ids  # production order
    assert sink.delivered == ids  # each once, in journal order
    assert all(r.published for r in journal.records())
    # the stored snapshot is the state after the last close, written with the decisions
    assert json.loads(await journal.load_snapshot() or b"")["closes"][-1] == on_close_last(tape)


def on_close_last(tape: Sequence[Quote | SessionClose]) -> str:
    closes = [e for e in tape if isinstance(e, SessionClose)]
    return closes[-1].session_date.isoformat()


async def test_replay_waits_for_room_instead_of_dropping_alerts_from_a_full_outbox() -> None:
    """A fast replay into a tiny outbox and a slow broker: nothing is coalesced away."""
    tape, on_close = _many_days(12)
    engine = StubEngine(on_close=on_close)
    journal, sink = GroupJournal(), SlowSink(delay_s=0.01)
    h = Harness(
        engine, FakeMarketDataSource(tape), journal=journal, publish_window=1, outbox_size=3
    )
    h.pipeline._alert_sink = sink
    assert await h.run() == 0
    assert h.pipeline.stats.coalesced == 0
    assert sink.delivered == [f"g{i}" for i in range(12)]


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="publish_window"):
        Harness(StubEngine(), FakeMarketDataSource(), publish_window=0)


async def test_sqlite_batch_calls_are_one_transaction_and_dedup(tmp_path: Path) -> None:
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    try:
        burst = _burst("z", 6)
        assert await journal.append_many(burst) == [True] * 6
        # a restart re-deriving the burst, plus a repeat inside the burst itself
        again = [*burst[:2], alert("new", key="k"), alert("new", key="k")]
        assert await journal.append_many(again) == [False, False, True, False]
        assert [r.decision.decision_id for r in await journal.unpublished()] == [
            *(d.decision_id for d in burst),
            "new",
        ]
        await journal.mark_published_many([d.decision_id for d in burst[:4]])
        assert [r.decision.decision_id for r in await journal.unpublished()] == [
            burst[4].decision_id,
            burst[5].decision_id,
            "new",
        ]
    finally:
        await journal.aclose()


def test_wire_json_is_reused_only_for_the_same_decision_object() -> None:
    """The journal and the publisher share one serialisation of a decision; a different
    decision with the same id (never the same object) is serialised afresh."""
    from adapters.mqtt.payloads import AlertPayload, decision_to_json  # noqa: PLC0415

    first = alert("same-id", key="k1")
    other = alert("same-id", key="k2")
    assert decision_to_json(first) is decision_to_json(first)
    assert decision_to_json(other) == AlertPayload.of(other).model_dump_json()
    assert decision_to_json(first) == AlertPayload.of(first).model_dump_json()
    assert '"k2"' in decision_to_json(other)
