"""The shell loops (daemon.pipeline) with real fakes and a scripted stub engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from daemon.core.model import (
    AlertKind,
    Decision,
    Layer,
    LayerChange,
    ProposedOrder,
    Quote,
    Rejected,
    SessionClose,
    Severity,
    Symbol,
)
from daemon.errors import EXIT_IOERR, JournalError
from daemon.pipeline import Outbox, Pipeline
from daemon.supervisor import Cleanup, run
from tests.fakes.decisions import alert, change, order
from tests.fakes.ports import (
    FakeClock,
    FakeMarketDataSource,
    InMemoryJournal,
    RecordingAlertSink,
    RecordingOrderSink,
)

D1, D2 = date(2020, 2, 24), date(2020, 2, 25)
T1 = datetime(2020, 2, 24, 21, 0, tzinfo=UTC)
T2 = datetime(2020, 2, 25, 21, 0, tzinfo=UTC)


class StubEngine:
    """A scripted engine: fixed decisions per session close / per evaluate call.

    Records every call; ``evaluated_prices`` holds the latest SPX price each
    ``evaluate`` saw (to check that a debounced evaluation runs at the right moment).
    """

    def __init__(
        self,
        *,
        on_close: dict[date, list[Decision]] | None = None,
        on_evaluate: list[list[Decision]] | None = None,
        on_heartbeat: list[Decision] | None = None,
        active: tuple[Layer, ...] = (),
    ) -> None:
        self._on_close = on_close or {}
        self._on_evaluate = list(on_evaluate or [])
        self._on_heartbeat = list(on_heartbeat or [])
        self._active = active
        self.prices: dict[Symbol, float] = {}
        self.evaluations: list[datetime] = []
        self.evaluated_prices: list[float | None] = []
        self.closes: list[tuple[date, datetime]] = []
        self.heartbeats = 0

    def on_quote(self, quote: Quote) -> Rejected | None:
        if quote.price <= 0:
            return Rejected(reason="non_positive", symbol=quote.symbol)
        self.prices[quote.symbol] = quote.price
        return None

    def evaluate(self, now: datetime) -> Sequence[Decision]:
        self.evaluations.append(now)
        self.evaluated_prices.append(self.prices.get(Symbol.SPX))
        return self._on_evaluate.pop(0) if self._on_evaluate else []

    def on_session_close(self, session_date: date, now: datetime) -> Sequence[Decision]:
        self.closes.append((session_date, now))
        return list(self._on_close.get(session_date, []))

    def on_heartbeat(self, now: datetime) -> Sequence[Decision]:
        self.heartbeats += 1
        out, self._on_heartbeat = self._on_heartbeat, []
        return out

    def snapshot(self) -> bytes:
        return json.dumps({"closes": [d.isoformat() for d, _ in self.closes]}).encode()

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        return self._active


def quote(ts: datetime, price: float = 3200.0, symbol: Symbol = Symbol.SPX) -> Quote:
    return Quote(symbol=symbol, price=price, ts=ts, session_date=ts.date())


def day_tape(day: date, ts: datetime) -> list[Quote | SessionClose]:
    return [
        quote(ts, 3200.0, Symbol.SPX),
        quote(ts, 150.0, Symbol.IWM),
        quote(ts, 25.0, Symbol.VIX),
        SessionClose(session_date=day, ts=ts),
    ]


class Harness:
    """A pipeline over fakes, plus recorders."""

    def __init__(
        self,
        engine: StubEngine,
        source: FakeMarketDataSource,
        *,
        journal: InMemoryJournal | None = None,
        alerts: RecordingAlertSink | None = None,
        orders: RecordingOrderSink | None = None,
        is_live: bool = False,
        **kw: object,
    ) -> None:
        self.engine = engine
        self.source = source
        self.journal = journal or InMemoryJournal()
        self.alerts = alerts or RecordingAlertSink()
        self.orders = orders or RecordingOrderSink()
        self.layer_states: list[tuple[tuple[Layer, ...], str]] = []
        self.shown: list[str] = []
        self.finished = 0
        self.watchdog = 0
        options: dict[str, object] = {
            "debounce_s": 0.25,
            "interval_s": 60.0,
            "outbox_size": 100,
            "retry_initial_s": 0.01,
            "retry_max_s": 0.05,
            "heartbeat_s": 0.02,
        }
        options.update(kw)
        self.pipeline = Pipeline(
            engine,
            source,
            self.journal,
            self.orders,
            self.alerts,
            FakeClock(),
            is_live=is_live,
            on_decision=lambda d: self.shown.append(d.decision_id),
            on_layers=self._on_layers,
            on_watchdog=self._ping,
            on_finished=self._on_finished,
            **options,  # type: ignore[arg-type]
        )

    async def _on_layers(self, active: tuple[Layer, ...], last: LayerChange | None) -> None:
        self.layer_states.append((active, "start" if last is None else last.decision_id))

    async def _on_finished(self) -> None:
        self.finished += 1

    def _ping(self) -> None:
        self.watchdog += 1

    async def run(self, *, stop: asyncio.Event | None = None, timeout_s: float = 5.0) -> int:
        async with asyncio.timeout(timeout_s):
            return await run(
                self.pipeline.task_specs(),
                cleanups=[Cleanup(name="drain", close=self.pipeline.drain, timeout_s=2.0)],
                stop=stop,
                signals=(),
            )


async def test_replay_journals_before_publishing_and_exits_when_done() -> None:
    engine = StubEngine(
        on_close={D1: [change("c1"), alert("a1"), order("o1")], D2: [order("o2", ts=T2)]}
    )
    h = Harness(engine, FakeMarketDataSource([*day_tape(D1, T1), *day_tape(D2, T2)]))

    assert await h.run() == 0

    assert [o.decision_id for o in h.orders.orders] == ["o1", "o2"]
    assert [a.decision_id for a in h.alerts.alerts] == ["a1"]
    # The state at start (none active) is announced first, then each change.
    assert h.layer_states == [((), "start"), ((Layer.L1,), "c1")]
    assert h.shown == ["c1", "a1", "o1", "o2"]
    # Write-ahead: every decision is journaled before it is marked published.
    for decision_id in ("c1", "a1", "o1", "o2"):
        assert h.journal.events.index(("append", decision_id)) < h.journal.events.index(
            ("publish", decision_id)
        )
    assert all(r.published for r in h.journal.records())
    # Replay time: the engine's "now" is the event's timestamp, not the wall clock.
    assert engine.closes == [(D1, T1), (D2, T2)]
    assert h.journal.snapshots_saved == 2
    assert json.loads(await h.journal.load_snapshot() or b"") == {
        "closes": ["2020-02-24", "2020-02-25"]
    }
    assert h.finished == 1
    assert h.pipeline.stats.published == 4


async def test_restart_resends_unpublished_first_and_skips_duplicates() -> None:
    journal = InMemoryJournal()
    # Previous run: o1 journaled but the process died before publishing; a1 published.
    await journal.append(order("o1"))
    await journal.append(alert("a1"))
    await journal.mark_published("a1")
    # The restarted engine re-derives the same day (same deterministic ids) plus a new alert.
    engine = StubEngine(on_close={D1: [alert("a1"), order("o1"), alert("a2", key="other")]})
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), journal=journal)

    assert await h.run() == 0

    assert [o.decision_id for o in h.orders.orders] == ["o1"]  # once, not twice
    assert [a.decision_id for a in h.alerts.alerts] == ["a2"]
    stats = h.pipeline.stats
    assert (stats.resent, stats.duplicates, stats.decisions) == (1, 2, 1)
    assert h.shown == ["a2"]
    assert all(r.published for r in journal.records())


async def test_replay_debounce_coalesces_a_burst_into_one_evaluate() -> None:
    t0 = T1 - timedelta(hours=6)
    burst = [quote(t0 + timedelta(seconds=0.05 * i), 3200.0 + i) for i in range(10)]
    later = quote(t0 + timedelta(seconds=30), 3300.0)  # a new burst after the window
    engine = StubEngine()
    h = Harness(
        engine,
        FakeMarketDataSource([*burst, later, SessionClose(session_date=D1, ts=later.ts)]),
        debounce_s=1.0,
    )

    assert await h.run() == 0

    # One evaluation for the ten quotes, at the last quote's time with its price; the
    # second burst is superseded by the close at the same instant.
    assert engine.evaluations == [burst[-1].ts]
    assert engine.evaluated_prices == [3209.0]
    assert engine.closes == [(D1, later.ts)]
    assert h.pipeline.stats.quotes == 11


async def test_live_debounce_and_heartbeat() -> None:
    engine = StubEngine()
    source = FakeMarketDataSource(keep_open=True)
    h = Harness(engine, source, is_live=True, debounce_s=0.05, interval_s=30.0)
    stop = asyncio.Event()

    async def drive() -> None:
        for i in range(20):
            source.push(quote(T1, 3200.0 + i))
        await asyncio.sleep(0.3)
        assert len(engine.evaluations) == 1
        assert engine.evaluated_prices == [3219.0]
        source.push(quote(T1, 3300.0))
        await asyncio.sleep(0.3)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(drive())
        code = tg.create_task(h.run(stop=stop))
    assert code.result() == 0
    assert engine.evaluated_prices == [3219.0, 3300.0]
    # Live: the engine hears the heartbeat and systemd hears the watchdog.
    assert engine.heartbeats >= 3
    assert h.watchdog >= 3


async def test_rejected_quotes_are_counted_and_trigger_nothing() -> None:
    engine = StubEngine()
    h = Harness(engine, FakeMarketDataSource([quote(T1, -1.0), quote(T1, 0.0)]))
    assert await h.run() == 0
    assert h.pipeline.rejected_count == 2
    assert engine.evaluations == []


class GatedOrderSink(RecordingOrderSink):
    """Blocks every submit until ``gate`` is set (a slow broker)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def submit(self, order: ProposedOrder) -> None:
        await self.gate.wait()
        await super().submit(order)


async def test_full_outbox_never_drops_proposals_and_coalesces_alerts() -> None:
    stale = [alert(f"s{i}", key="data_stale:VIX") for i in range(3)]
    decisions: list[Decision] = [order("o1"), stale[0], stale[1], order("o2"), stale[2]]
    decisions += [order("o3"), order("o4")]
    engine = StubEngine(on_close={D1: decisions})
    orders = GatedOrderSink()
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), orders=orders, outbox_size=2)

    async def open_gate_when_full() -> None:
        while len(h.pipeline.outbox) < 2:  # noqa: ASYNC110 - polling the pipeline's state
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # the engine task is now blocked on the full outbox
        orders.gate.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(open_gate_when_full())
        code = tg.create_task(h.run())
    assert code.result() == 0

    assert [o.decision_id for o in orders.orders] == ["o1", "o2", "o3", "o4"]
    # s0 was replaced in the full outbox by s1 (same key); s2 came when there was room.
    assert [a.decision_id for a in h.alerts.alerts] == ["s1", "s2"]
    assert h.pipeline.stats.coalesced == 1
    assert all(r.published for r in h.journal.records())  # s0: superseded, not re-sent


async def test_outbox_never_coalesces_into_the_alert_being_delivered() -> None:
    box = Outbox(1)
    await box.put(alert("a1", key="k"))
    assert await box.peek() == alert("a1", key="k")  # in flight
    put = asyncio.create_task(box.put(alert("a2", key="k")))
    await asyncio.sleep(0.01)
    assert not put.done()  # waits instead of replacing the head being sent
    await box.done()
    assert await put is None
    assert box.items() == (alert("a2", key="k"),)


async def test_transient_failures_are_retried_then_published() -> None:
    alerts = RecordingAlertSink(fail_times=2)  # a broker blip
    engine = StubEngine(on_close={D1: [alert("a1")]})
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), alerts=alerts)
    assert await h.run() == 0
    assert alerts.calls == 3
    assert [a.decision_id for a in alerts.alerts] == ["a1"]


async def test_publish_gives_up_after_the_budget_and_the_run_fails() -> None:
    alerts = RecordingAlertSink(always_fail=True)
    engine = StubEngine(on_close={D1: [alert("a1")]})
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), alerts=alerts, publish_retry_s=0.1)
    assert await h.run() == 1  # exit 1 → systemd restarts; the journal keeps it
    assert [r.decision.decision_id for r in await h.journal.unpublished()] == ["a1"]


async def test_shutdown_drain_delivers_what_the_cancelled_publisher_left() -> None:
    # The broker refuses once; the publisher then sleeps in its retry backoff (5 s) when
    # the stop arrives, so the item is still queued and the shutdown drain delivers it.
    alerts = RecordingAlertSink(fail_times=1)
    source = FakeMarketDataSource(day_tape(D1, T1), keep_open=True)
    engine = StubEngine(on_close={D1: [alert("a1")]})
    h = Harness(engine, source, alerts=alerts, is_live=True, retry_initial_s=5.0, retry_max_s=5.0)
    stop = asyncio.Event()

    async def stop_when_stuck() -> None:
        while alerts.calls < 1:  # noqa: ASYNC110 - polling the fake broker
            await asyncio.sleep(0.005)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(stop_when_stuck())
        code = tg.create_task(h.run(stop=stop))
    assert code.result() == 0
    assert [a.decision_id for a in alerts.alerts] == ["a1"]
    assert all(r.published for r in h.journal.records())
    assert len(h.pipeline.outbox) == 0


async def test_a_live_source_that_ends_is_a_crash() -> None:
    h = Harness(StubEngine(), FakeMarketDataSource([quote(T1)]), is_live=True)
    assert await h.run() == 1


@pytest.mark.parametrize("size", [0, -1])
def test_outbox_needs_room(size: int) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Outbox(size)


# --------------------------------------------------------------------------- never down


class FullDiskJournal(InMemoryJournal):
    """A journal whose disk fills up after ``room`` appends (SQLite: disk is full)."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    async def append(self, decision: Decision) -> bool:
        if self.room <= 0:
            raise JournalError(
                "journal /var/lib/alvhd/alvhd.sqlite cannot be written: database or disk is full",
                path="/var/lib/alvhd/alvhd.sqlite",
                cause="database or disk is full",
            )
        self.room -= 1
        return await super().append(decision)


async def test_a_full_journal_sends_one_critical_alert_directly_and_exits_74() -> None:
    journal = FullDiskJournal(room=1)
    engine = StubEngine(on_close={D1: [alert("a1")], D2: [alert("a2", ts=T2), order("o2")]})
    h = Harness(
        engine, FakeMarketDataSource([*day_tape(D1, T1), *day_tape(D2, T2)]), journal=journal
    )
    assert await h.run() == EXIT_IOERR
    journal_alerts = [a for a in h.alerts.alerts if a.kind is AlertKind.JOURNAL]
    assert len(journal_alerts) == 1
    (sent,) = journal_alerts
    assert sent.severity is Severity.CRITICAL
    assert "/var/lib/alvhd/alvhd.sqlite" in sent.message
    assert "database or disk is full" in sent.message
    assert "74" in sent.message
    assert h.pipeline.journal_failure is not None
    # what was journaled before the disk filled is intact; nothing unjournaled went out
    assert [r.decision.decision_id for r in journal.records()] == ["a1"]
    assert h.orders.orders == []


async def test_delivery_is_retried_forever_and_a_stop_still_exits_0() -> None:
    alerts = RecordingAlertSink(always_fail=True)  # a broker that never comes back
    engine = StubEngine(on_close={D1: [alert("a1")]})
    source = FakeMarketDataSource(day_tape(D1, T1), keep_open=True)
    h = Harness(engine, source, alerts=alerts, is_live=True)  # publish_retry_s: None
    stop = asyncio.Event()

    async def stop_later() -> None:
        while alerts.calls < 5:  # noqa: ASYNC110 - polling the fake broker
            await asyncio.sleep(0.01)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(stop_later())
        code = tg.create_task(h.run(stop=stop))
    assert code.result() == 0
    assert alerts.calls >= 5
    assert [r.decision.decision_id for r in await h.journal.unpublished()] == ["a1"]


async def test_exit_at_end_stops_after_the_drain_deadline_when_nothing_can_be_delivered() -> None:
    alerts = RecordingAlertSink(always_fail=True)
    engine = StubEngine(on_close={D1: [alert("a1")]})
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), alerts=alerts)
    async with asyncio.timeout(5):
        code = await run(
            h.pipeline.task_specs(is_essential=True, drain_deadline_s=0.3),
            cleanups=[Cleanup(name="drain", close=lambda: h.pipeline.drain(0.2), timeout_s=0.5)],
            signals=(),
        )
    assert code == 0
    assert [r.decision.decision_id for r in await h.journal.unpublished()] == ["a1"]


async def test_the_start_gate_holds_engine_work_but_not_publishing() -> None:
    gate = asyncio.Event()
    engine = StubEngine(on_close={D1: [alert("a1")]})
    journal = InMemoryJournal()
    await journal.append(alert("old"))  # unpublished from a previous run
    h = Harness(engine, FakeMarketDataSource(day_tape(D1, T1)), journal=journal, start_gate=gate)

    async def open_gate_later() -> None:
        while not h.alerts.alerts:  # noqa: ASYNC110 - polling the fake sink
            await asyncio.sleep(0.01)
        assert engine.closes == []  # publishing ran, the engine did not
        gate.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(open_gate_later())
        code = tg.create_task(h.run())
    assert code.result() == 0
    assert [a.decision_id for a in h.alerts.alerts] == ["old", "a1"]
