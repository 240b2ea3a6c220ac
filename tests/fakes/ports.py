"""Real in-memory implementations of the ports, for tests (STYLE.md §2.9: fakes, not mocks).

``tests/fakes`` is a package (it also holds the fake TWS server), so these live in
``tests.fakes.ports``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from daemon.core.model import Alert, Bar, Decision, MarketEvent, ProposedOrder, Symbol
from daemon.errors import PublishFailed
from daemon.ports import JournalRecord


class FakeMarketDataSource:
    """Streams a tape of events; ends after the tape unless ``keep_open``.

    With ``keep_open`` more events can be ``push``ed and ``end()`` finishes the stream
    (a live feed).
    """

    def __init__(
        self,
        events: Iterable[MarketEvent] = (),
        *,
        history: Mapping[Symbol, Sequence[Bar]] | None = None,
        keep_open: bool = False,
    ) -> None:
        self._queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue()
        for event in events:
            self._queue.put_nowait(event)
        if not keep_open:
            self._queue.put_nowait(None)
        self._history = dict(history or {})
        self.streamed: list[MarketEvent] = []

    def push(self, event: MarketEvent) -> None:
        """Append an event to the stream."""
        self._queue.put_nowait(event)

    def end(self) -> None:
        """Finish the stream after the queued events."""
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[MarketEvent]:
        while (event := await self._queue.get()) is not None:
            self.streamed.append(event)
            yield event

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        return list(self._history.get(symbol, ()))[-days:]

    def rejected_count(self) -> int:
        return 0


class _FlakySink:
    """Fails the first ``fail_times`` calls with ``PublishFailed`` (a broker blip)."""

    def __init__(self, *, fail_times: int = 0, always_fail: bool = False) -> None:
        self.fail_times = fail_times
        self.always_fail = always_fail
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.always_fail or self.calls <= self.fail_times:
            raise PublishFailed(f"fake broker down (call {self.calls})")


class RecordingAlertSink(_FlakySink):
    """AlertSink that records what it was sent (after the injected failures)."""

    def __init__(self, *, fail_times: int = 0, always_fail: bool = False) -> None:
        super().__init__(fail_times=fail_times, always_fail=always_fail)
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self._maybe_fail()
        self.alerts.append(alert)


class RecordingOrderSink(_FlakySink):
    """OrderSink that records what it was sent (after the injected failures)."""

    def __init__(self, *, fail_times: int = 0, always_fail: bool = False) -> None:
        super().__init__(fail_times=fail_times, always_fail=always_fail)
        self.orders: list[ProposedOrder] = []

    async def submit(self, order: ProposedOrder) -> None:
        self._maybe_fail()
        self.orders.append(order)


class InMemoryJournal:
    """Journal in a dict: append dedups on ``decision_id``; survives a pipeline "restart".

    ``events`` logs ``("append"|"publish", decision_id)`` in call order, so tests can
    check that a decision is journaled before it is published.
    """

    def __init__(self) -> None:
        self._rows: dict[str, JournalRecord] = {}
        self._snapshot: bytes | None = None
        self.events: list[tuple[str, str]] = []
        self.snapshots_saved = 0

    async def append(self, decision: Decision) -> bool:
        if decision.decision_id in self._rows:
            return False
        self._rows[decision.decision_id] = JournalRecord(
            seq=len(self._rows) + 1, decision=decision, published=False
        )
        self.events.append(("append", decision.decision_id))
        return True

    async def mark_published(self, decision_id: str) -> None:
        row = self._rows[decision_id]
        self._rows[decision_id] = JournalRecord(seq=row.seq, decision=row.decision, published=True)
        self.events.append(("publish", decision_id))

    async def unpublished(self) -> Sequence[JournalRecord]:
        return sorted((r for r in self._rows.values() if not r.published), key=lambda r: r.seq)

    async def load_snapshot(self) -> bytes | None:
        return self._snapshot

    async def save_snapshot(self, snapshot: bytes) -> None:
        self._snapshot = snapshot
        self.snapshots_saved += 1

    def records(self) -> list[JournalRecord]:
        return sorted(self._rows.values(), key=lambda r: r.seq)

    def all_ids(self) -> list[str]:
        return [r.decision.decision_id for r in self.records()]


class FakeClock:
    """A clock that only moves when told: ``advance(seconds)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2020, 3, 2, 14, 30, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
