"""Pipelined publishing (issue 9): a burst journaled at once, sent concurrently, each once.

The pipeline over fakes (a scripted engine, an in-memory journal that records its batch
calls, sinks that hold every send until released), and the SQLite journal's batch calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from adapters.sqlite.journal import SqliteJournal
from daemon.core.model import Alert, Decision, ProposedOrder
from daemon.errors import PublishFailed
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
    """Alert and order sink: each send takes ``delay_s`` (a PUBACK round trip); counts how
    many are in flight at once; fails the first send of the ids in ``fail_once``."""

    def __init__(self, delay_s: float = 0.01, fail_once: frozenset[str] = frozenset()) -> None:
        self.delay_s = delay_s
        self.fail_once = set(fail_once)
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


def _harness(journal: InMemoryJournal, sink: SlowSink, *, window: int) -> tuple[Harness, list[str]]:
    d1, d2 = _burst("x", 10), _burst("y", 10)
    engine = StubEngine(on_close={D1: d1, D2: d2})
    source = FakeMarketDataSource([*day_tape(D1, T1), *day_tape(D2, T2)])
    h = Harness(engine, source, journal=journal, publish_window=window)
    h.pipeline._alert_sink = sink
    h.pipeline._order_sink = sink
    return h, [d.decision_id for d in (*d1, *d2)]


async def test_a_burst_is_journaled_at_once_and_sent_concurrently_in_order() -> None:
    journal, sink = BatchJournal(), SlowSink(delay_s=0.02)
    h, ids = _harness(journal, sink, window=16)
    assert await h.run() == 0
    assert journal.append_batches == [10, 10]  # one transaction per burst
    # both bursts were queued before the first PUBACK: the window (16) bounds what is in flight
    assert sink.max_in_flight == 16
    assert sink.started == ids  # sent in journal order
    assert sink.delivered == ids  # each once
    assert all(r.published for r in journal.records())
    assert journal.publish_batches == [16, 4]  # marked published per window
    # write-ahead: every decision of a burst journaled before its first send
    for decision_id in ids:
        assert journal.events.index(("append", decision_id)) < journal.events.index(
            ("publish", decision_id)
        )
    assert h.pipeline.stats.published == 20


async def test_window_one_is_the_sequential_path() -> None:
    journal, sink = BatchJournal(), SlowSink(delay_s=0.001)
    h, ids = _harness(journal, sink, window=1)
    assert await h.run() == 0
    assert sink.max_in_flight == 1
    assert sink.delivered == ids


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
