"""Shell loops: market events → engine → journal → outbox → sinks (STYLE.md §2.3).

Pure asyncio over the ports and the Engine API of CONTRACTS.md; no adapter imports.

Tasks (started by the supervisor, names as in ``Pipeline.task_specs``):

- ``pipeline.engine``: consumes ``source.events()``. A ``Quote`` goes to
  ``engine.on_quote`` (a ``Rejected`` is counted) and marks an evaluation as due; a
  ``SessionClose`` runs ``engine.on_session_close`` and saves ``engine.snapshot()`` when
  it matters (see "Snapshots" below).
- ``pipeline.evaluate`` (live only): debounced ``engine.evaluate(clock.now())`` after a
  burst of quotes (at most one per ``debounce_s``), and every ``interval_s`` when quiet.
  In replay/sim the debounce runs in *event time* inside ``pipeline.engine`` (a burst
  of quotes within ``debounce_s`` of its first quote gives one ``evaluate(now=last
  quote ts)``; a session close supersedes a pending evaluation not yet due), so replays
  are deterministic and not slowed down by real sleeps.
- ``pipeline.heartbeat``: every ``heartbeat_s`` calls ``on_watchdog`` (sd_notify
  ``WATCHDOG=1``) and, live only, ``engine.on_heartbeat``.
- ``pipeline.publish``: first re-sends what the journal holds unpublished (restart
  safety), then drains the outbox in order to the sinks, pipelined (see "Pipelined
  publishing" below), with tenacity (only
  ``TransientError`` is retried, forever by default: exponential backoff with jitter
  capped at ``retry_max_s``, so a broker outage of any length delays delivery but never
  stops the daemon; decisions are delivered in journal order, each once), then
  ``journal.mark_published``.

Start gate: with ``start_gate`` (the live IBKR source), ``pipeline.engine``,
``pipeline.evaluate`` and the heartbeat's engine calls wait until the gate is set (the
broker connected and the engine warmed up); publishing runs from the start, so alerts
about the broker itself reach MQTT while the gate is still closed.

Journal faults: a ``JournalError`` escaping any pipeline task (disk full, read-only)
sends one critical ``journal`` alert straight to the alert sink (it cannot be
journaled), bounded by ``alert_timeout_s``, logs it, and re-raises: the supervisor
exits 74 (EX_IOERR).

Pipelined publishing (issue 9): the decisions of one engine call (a session close's
burst) are journaled in one transaction (``append_many`` when the journal has it: one
fsync), then queued. With ``publish_window`` > 1 (MQTT-only runs) each queued decision is
sent at once, in its own task, while fewer than ``publish_window`` are unacknowledged (a
sliding window: QoS 1 publishes leave on the one MQTT connection in journal order); the
acknowledged head of the in-flight decisions is marked published in one transaction
(``mark_published_many``) as the PUBACKs arrive, so a late acknowledgement never holds
back the next burst, and nothing is marked published before an earlier decision is. A
failed send stops new sends until every send in flight has settled in journal order: an
acknowledged one is marked published (never sent twice), a failed one is retried alone by
the retry-forever path, so after a broker outage the undelivered go out again in journal
order. Ordering caveat (window > 1): when an earlier send fails while a later one in the
window is acknowledged, the later one is marked published and is not sent again (exactly
once by ``decision_id`` wins), so a subscriber can hear it before the retried earlier one.
On the one MQTT connection the broker forwards QoS 1 publishes in the order it received
them, so this needs the earlier publish to have failed on our side only (a PUBACK timeout,
or an error paho reported for that message alone); a dropped connection fails
every unacknowledged send of the window and they go out again in journal order.
A subscriber that needs the order sorts by the payload's ``ts``; with IB orders placed
(``publish_window`` = 1) arrival order is journal order. The shutdown drain waits for the
sends in flight and marks the acknowledged ones without sending them again.
``publish_window`` = 1 (the default; with IB orders placed, one at a time) is the
strictly sequential path.

Every decision is journaled *before* it is queued (write-ahead); ``append`` returning
False (a restart re-deriving a day) means it was already handled and is skipped. The
outbox is bounded: when it is full a new alert replaces a queued alert with the same
``key`` (the superseded one is marked published), anything else waits for room
(back-pressure on the engine task); proposals are never dropped.

When a replay/sim source ends, ``pipeline.engine`` closes the outbox and
``pipeline.publish`` returns once everything is delivered and ``on_finished`` ran. With
``task_specs(is_essential=True)`` (``--exit-at-end``) only ``pipeline.engine`` is
essential: after the source ends it waits for that delivery at most
``drain_deadline_s`` and returns, so the run stops even when the broker is down (the
undelivered stay unpublished in the journal).

Snapshots (issue 9): the engine snapshot (≈ 15 KB of JSON, as costly as the engine's own
close) is saved after a session close that journaled a decision since the last save, after
any close once ``snapshot_every_s`` passed since the last save (so a live daemon, with one
close a day, saves at every close), and after the last event of a finite source. With a
journal that commits in groups (``write_batch``: SQLite, replay/sim) the engine task only
asks, at most every ``_COMMIT_SNAPSHOT_EVERY_S`` (0.25 s) after a save, and at the end
of the source: the journal writer encodes ``engine.snapshot()`` once per
commit, stored in the same transaction as the decisions, and only while the engine is
still at the state asked for (all its decisions are then in that commit or an earlier
one); when the engine has moved on, nothing is stored and a later close asks again; after
``_EAGER_SNAPSHOT_CLOSES`` closes without one the engine task encodes it itself
(``tests/unit/test_commit_time_snapshot.py``). A restart
restores the last snapshot and the source re-feeds the sessions after it: the engine is
deterministic, so those re-derive the same decisions with the same ids, which the journal
already holds (``append`` → False, skipped): exactly once, and the state after them is the
one an uninterrupted run reaches (``tests/unit/test_snapshot_policy.py``).

``LogSink`` is the sink used when MQTT is disabled (demo without a broker): it writes
each alert/proposal/layer state as a structured log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, assert_never

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

from daemon.core.model import (
    Alert,
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
    decision_kind,
)
from daemon.errors import (
    BrokerRejected,
    InvariantViolation,
    JournalError,
    PublishFailed,
    TransientError,
)
from daemon.metrics import LatencyHistogram
from daemon.supervisor import TaskSpec

if TYPE_CHECKING:
    from datetime import date

    from daemon.ports import AlertSink, Clock, Journal, MarketDataSource, OrderSink

log = structlog.get_logger(__name__)

PUBLISH_WINDOW = 16
"""Decisions in flight at once on a pipelined sink (below paho's 20 in-flight QoS 1)."""

MarketCallback = Callable[[dict[Symbol, Quote], tuple[Layer, ...], datetime], Awaitable[None]]
"""Receives the latest valid quote per symbol, the active layers and the time (live)."""

LayersCallback = Callable[[tuple[Layer, ...], LayerChange | None], Awaitable[None]]
"""Publishes the ladder state: (active layers after the change, the change; None for the
state at start, e.g. restored from a snapshot)."""


class EngineApi(Protocol):
    """The part of ``daemon.core.engine.Engine`` the pipeline drives (CONTRACTS.md)."""

    def on_quote(self, quote: Quote) -> Rejected | None:
        """Validate and store a quote; no decisions."""
        ...

    def evaluate(self, now: datetime) -> Sequence[Decision]:
        """Intraday provisional evaluation."""
        ...

    def on_session_close(self, session_date: date, now: datetime) -> Sequence[Decision]:
        """Commit the session's closes and evaluate the ladder."""
        ...

    def on_heartbeat(self, now: datetime) -> Sequence[Decision]:
        """Live-only periodic checks (staleness, calendar)."""
        ...

    def snapshot(self) -> bytes:
        """Versioned JSON snapshot of the engine state."""
        ...

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        """Layers active now."""
        ...


# --------------------------------------------------------------------------- outbox


class Outbox:
    """Bounded FIFO of decisions waiting for the sinks.

    ``put`` never drops a proposal or a layer change: when full it waits for room. A new
    alert arriving when full replaces a queued alert with the same ``key`` (not the one
    being delivered) instead of waiting. The head stays queued until ``done()`` so a
    delivery interrupted by shutdown is retried by ``Pipeline.drain``.

    Args:
        maxsize: capacity (> 0).

    Raises:
        ValueError: ``maxsize`` < 1.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"outbox maxsize must be >= 1, got {maxsize}")
        self._maxsize = maxsize
        self._items: deque[Decision] = deque()
        self._cond = asyncio.Condition()
        self._in_flight = 0
        """Head decisions handed to the sender (not replaced by a coalescing alert)."""
        self._closed = False
        self.on_change: Callable[[], object] | None = None
        """Called (sync) whenever decisions are queued or the outbox is closed."""

    def __len__(self) -> int:
        return len(self._items)

    @property
    def maxsize(self) -> int:
        """Capacity."""
        return self._maxsize

    @property
    def is_closed(self) -> bool:
        """True once ``close()`` was called (no more puts expected)."""
        return self._closed

    def items(self) -> tuple[Decision, ...]:
        """The queued decisions, head first (for tests and diagnostics)."""
        return tuple(self._items)

    def _coalesce(self, alert: Alert) -> str | None:
        for i in range(self._in_flight, len(self._items)):
            queued = self._items[i]
            if isinstance(queued, Alert) and queued.key == alert.key:
                self._items[i] = alert
                return queued.decision_id
        return None

    async def put(self, decision: Decision) -> str | None:
        """Queue ``decision``; wait for room unless it coalesces.

        Returns:
            The ``decision_id`` of the queued alert it replaced, if it coalesced.
        """
        async with self._cond:
            if len(self._items) >= self._maxsize and isinstance(decision, Alert):
                superseded = self._coalesce(decision)
                if superseded is not None:
                    return superseded
            await self._cond.wait_for(lambda: len(self._items) < self._maxsize)
            self._items.append(decision)
            self._cond.notify_all()
            self._changed()
            return None

    async def put_unbounded(self, decisions: Iterable[Decision], *, front: bool = False) -> None:
        """Queue ``decisions`` ignoring the capacity (restart re-sends, broker refusals)."""
        async with self._cond:
            if front:
                self._items.extendleft(reversed(list(decisions)))
            else:
                self._items.extend(decisions)
            self._cond.notify_all()
            self._changed()

    async def peek(self) -> Decision | None:
        """Wait for the head and mark it in flight; None once closed and empty."""
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._items) or self._closed)
            if not self._items:
                return None
            self._in_flight = max(self._in_flight, 1)
            return self._items[0]

    @property
    def room(self) -> int:
        """Decisions that fit before the outbox is full."""
        return max(self._maxsize - len(self._items), 0)

    async def wait_room(self, count: int) -> None:
        """Wait until ``count`` more decisions fit (all of the capacity when more)."""
        need = min(count, self._maxsize)
        async with self._cond:
            await self._cond.wait_for(lambda: len(self._items) + need <= self._maxsize)

    def take_nowait(self, limit: int) -> tuple[Decision, ...]:
        """Hand out up to ``limit`` queued decisions not yet in flight (pipelined sender).

        They stay queued (and are never coalesced away) until ``done()`` removes them, so
        a shutdown drain still finds them.

        Returns:
            The decisions newly in flight, oldest first (empty: nothing new).
        """
        start = self._in_flight
        end = min(len(self._items), start + max(limit, 0))
        self._in_flight = end
        return tuple(self._items[i] for i in range(start, end))

    @property
    def is_drained(self) -> bool:
        """Closed and empty: nothing more will be queued or is left to deliver."""
        return self._closed and not self._items

    def head(self) -> Decision | None:
        """The head without waiting (shutdown drain)."""
        if not self._items:
            return None
        self._in_flight = max(self._in_flight, 1)
        return self._items[0]

    async def done(self, count: int = 1) -> None:
        """Remove the ``count`` delivered head decisions and wake a waiting ``put``."""
        async with self._cond:
            for _ in range(count):
                self._items.popleft()
            self._in_flight = max(self._in_flight - count, 0)
            self._cond.notify_all()

    async def close(self) -> None:
        """No more decisions will come; ``peek`` returns None once empty."""
        async with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


# --------------------------------------------------------------------------- pipeline


_SEND_TURNS = 3
"""Loop turns ``_let_sends_leave`` yields (see there)."""


async def _let_sends_leave() -> None:
    """Yield the event loop for the few turns a just-started MQTT send needs to go out.

    A send's first step hands the packet to paho; the MQTT adapter writes what paho
    queued at the end of that turn (``adapters.mqtt.publisher._write_in_loop_turn``), or,
    when the socket's buffer is full, once the loop has polled it writable. Three turns
    (``asyncio.sleep(0)`` each) cover those steps, so a burst's packets are on the wire
    before the engine task goes on with its bookkeeping (log lines, the display, the
    engine snapshot). Costs nothing when no send is waiting.
    """
    for _ in range(_SEND_TURNS):
        await asyncio.sleep(0)


def _checked_window(size: int) -> int:
    """``publish_window`` validated.

    Raises:
        ValueError: ``size`` < 1.
    """
    if size < 1:
        raise ValueError(f"publish_window must be >= 1, got {size}")
    return size


_WRITES_QUEUED = 64
"""Engine calls (and snapshots) the replay's engine task may run ahead of the journal."""

_EAGER_SNAPSHOT_CLOSES = 250
"""Closes (about a trading year) after which the engine task encodes a due snapshot itself
when the journal writer never found the engine still at a requested state (a fast replay
keeps it busy): bounds what a restart re-derives."""


_COMMIT_SNAPSHOT_EVERY_S = 0.25
"""Replay/sim: least ``clock.monotonic()`` seconds between a save and the next due snapshot
asked at commit time (issue 9: with MQTT the writer found the engine idle at ~500 commits
of the full history, ~0.7 ms of encoding each). Until the first save the engine asks at
every due close; a restart re-derives at most about this much work, with the same ids."""


@dataclass(frozen=True, slots=True)
class _Write:
    """What one engine call produced for the journal: its decisions, or a snapshot."""

    decisions: tuple[Decision, ...]
    snapshot: bytes | None
    snapshot_at: int | None = None
    """A snapshot is due here, taken at commit time: the engine's move count when asked
    (the writer encodes ``engine.snapshot()`` only if the engine has not moved since)."""


@dataclass(slots=True)
class _SnapshotPolicy:
    """When the engine snapshot is worth writing (module docstring, "Snapshots").

    Attributes:
        every_s: a close saves once this many seconds passed since the last save.
        last_mono: ``clock.monotonic()`` of the last save (-inf: never saved).
        unsaved_closes: session closes since the last save.
        decisions_at_save: the pipeline's decision count at the last save.
        count: snapshots saved.
    """

    every_s: float
    last_mono: float = -math.inf
    unsaved_closes: int = 0
    decisions_at_save: int = 0
    count: int = 0

    def is_due(self, decisions: int, mono: float, *, force: bool) -> bool:
        """Whether to save now, given the decision count and ``clock.monotonic()``."""
        if self.unsaved_closes == 0:
            return False
        return force or decisions != self.decisions_at_save or mono - self.last_mono >= self.every_s

    def saved(self, decisions: int, mono: float) -> None:
        """Record a save made at ``mono`` with ``decisions`` journaled so far."""
        self.last_mono = mono
        self.unsaved_closes = 0
        self.decisions_at_save = decisions
        self.count += 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineStats:
    """Counters of one pipeline run.

    Attributes:
        quotes: quotes received.
        rejected: quotes the engine refused.
        evaluations: ``engine.evaluate`` calls.
        session_closes: ``engine.on_session_close`` calls.
        decisions: new decisions journaled.
        duplicates: decisions the journal already held (skipped).
        resent: unpublished decisions re-sent at start.
        published: decisions delivered and marked published.
        coalesced: alerts replaced in a full outbox.
        outbox: decisions still queued.
    """

    quotes: int
    rejected: int
    evaluations: int
    session_closes: int
    decisions: int
    duplicates: int
    resent: int
    published: int
    coalesced: int
    outbox: int


class Pipeline:
    """The daemon's shell loops around one engine (see the module docstring).

    Args:
        engine: the engine (``daemon.core.engine.Engine`` or any ``EngineApi``).
        source: market events.
        journal: write-ahead journal.
        order_sink: receives proposed orders.
        alert_sink: receives alerts.
        clock: wall/monotonic time (live ``now``; rate limits).
        debounce_s: a burst of quotes within this many seconds gives one evaluation.
        interval_s: live: evaluate at least this often when no quote arrives.
        is_live: live feed (wall-clock ``now``, heartbeat to the engine) vs replay/sim.
        outbox_size: outbox capacity.
        on_decision: called with every new (journaled) decision, e.g. a terminal view.
        on_layers: publishes the ladder state after each ``LayerChange``.
        on_watchdog: called every heartbeat (sd_notify ``WATCHDOG=1``).
        on_finished: awaited once after a finite source's last decision was delivered
            (e.g. a status update ``source_done``).
        heartbeat_s: heartbeat period, seconds.
        on_market: live: called with the latest valid quote per symbol and the active
            layers at most every ``market_every_s`` (the ``market`` topic and a log line);
            a ``PublishFailed`` from it is logged, never fatal (it is informational).
        market_every_s: period of ``on_market``, seconds.
        is_market_open: live: ``engine.on_heartbeat`` (staleness, calendar) runs only while
            this returns True for ``clock.now()`` (the XNYS regular session), so nights and
            weekends raise no ``data_stale``; None: always.
        publish_retry_s: how long one delivery is retried before the task fails
            (None: forever, the daemon's setting).
        retry_initial_s: first retry delay (exponential with jitter).
        retry_max_s: longest retry delay.
        start_gate: engine work waits until this is set (None: starts at once).
        on_evaluated: called (sync, must not block) after each evaluation and session
            close, e.g. to offer the latest signal readings for publication.
        alert_timeout_s: bound of the direct journal-failure alert, seconds.
        snapshot_every_s: a session close saves the engine snapshot when this many seconds
            (``clock.monotonic()``) passed since the last save, even without a decision.
        publish_window: decisions sent concurrently (1: one at a time; see "Pipelined
            publishing" in the module docstring).

    Raises:
        ValueError: ``publish_window`` < 1.
    """

    def __init__(  # noqa: PLR0917, PLR0915 - positional order fixed by the shell contract
        self,
        engine: EngineApi,
        source: MarketDataSource,
        journal: Journal,
        order_sink: OrderSink,
        alert_sink: AlertSink,
        clock: Clock,
        *,
        debounce_s: float,
        interval_s: float,
        is_live: bool,
        outbox_size: int,
        on_decision: Callable[[Decision], None] | None = None,
        on_layers: LayersCallback | None = None,
        on_watchdog: Callable[[], object] | None = None,
        on_finished: Callable[[], Awaitable[None]] | None = None,
        heartbeat_s: float = 1.0,
        is_market_open: Callable[[datetime], bool] | None = None,
        on_market: MarketCallback | None = None,
        market_every_s: float = 10.0,
        publish_retry_s: float | None = None,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 1.0,
        start_gate: asyncio.Event | None = None,
        on_evaluated: Callable[[datetime], None] | None = None,
        alert_timeout_s: float = 5.0,
        snapshot_every_s: float = 60.0,
        publish_window: int = 1,
    ) -> None:
        self._engine = engine
        self._source = source
        self._journal = journal
        self._order_sink = order_sink
        self._alert_sink = alert_sink
        self._clock = clock
        self._debounce = timedelta(seconds=debounce_s)
        self._debounce_s = debounce_s
        self._interval_s = interval_s
        self._is_live = is_live
        self._on_decision = on_decision
        self._on_layers = on_layers
        self._on_watchdog = on_watchdog
        self._on_finished = on_finished
        self._heartbeat_s = heartbeat_s
        self._is_market_open = is_market_open
        self._on_market = on_market
        self._market_every_s = market_every_s
        self._market_due = 0.0
        self._latest: dict[Symbol, Quote] = {}
        self._publish_retry_s = publish_retry_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._start_gate = start_gate
        self._on_evaluated = on_evaluated
        self._alert_timeout_s = alert_timeout_s
        self._journal_failure: JournalError | None = None
        self._snapshots = _SnapshotPolicy(snapshot_every_s)
        self._publish_window = _checked_window(publish_window)
        # pipelined sends not yet settled, in journal order (the shutdown drain awaits them)
        self._inflight: deque[tuple[Decision, asyncio.Task[None]]] = deque()
        self._wake = asyncio.Event()
        self._dispatching = False
        # replay/sim group commit (see _write_journal); _produced drives the snapshot policy
        self._writes: asyncio.Queue[_Write] = asyncio.Queue(_WRITES_QUEUED)
        self._writer: asyncio.Task[None] | None = None
        self._engine_task: asyncio.Task[Any] | None = None
        self._produced = 0
        # engine calls so far (quotes, evaluations, closes): a commit-time snapshot is taken
        # only while the engine is still at the state it was asked for
        self._engine_moves = 0
        self._wrote_since_yield = False
        self._snapshot_at_commit = getattr(journal, "write_batch", None) is not None

        self._outbox = Outbox(outbox_size)
        self._ready = asyncio.Event()
        self._finished = asyncio.Event()
        self._engine_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._pending_due: datetime | None = None
        self._pending_ts: datetime | None = None
        self._layers: set[Layer] | None = None
        self._last_reject_warning: float | None = None
        self._last_quarantine_info = -math.inf
        self._n: dict[str, int] = dict.fromkeys(
            (
                "quotes",
                "rejected",
                "evaluations",
                "session_closes",
                "decisions",
                "duplicates",
                "resent",
                "published",
                "coalesced",
            ),
            0,
        )
        # Labelled counters read by daemon.metrics.DaemonCollector at each scrape.
        self.quotes_by_symbol: Counter[str] = Counter()
        self.rejected_by: Counter[tuple[str, str]] = Counter()
        """(symbol or "", reason) → quotes refused."""
        self.last_quote_mono: dict[str, float] = {}
        """symbol → ``clock.monotonic()`` of its last valid quote."""
        self.decisions_by_kind: Counter[str] = Counter()
        self.publish_latency = LatencyHistogram()
        """Seconds from the journal write to the sink's acknowledgement (MQTT PUBACK)."""
        self._journaled_mono: dict[str, float] = {}

    # ------------------------------------------------------------------ inspection

    @property
    def outbox(self) -> Outbox:
        """The outbox (read-only use: length, items)."""
        return self._outbox

    @property
    def stats(self) -> PipelineStats:
        """Counters so far."""
        return PipelineStats(**self._n, outbox=len(self._outbox))

    @property
    def rejected_count(self) -> int:
        """Quotes the engine refused so far."""
        return self._n["rejected"]

    @property
    def journal_failure(self) -> JournalError | None:
        """The journal fault that stopped the pipeline, if any."""
        return self._journal_failure

    @property
    def is_started(self) -> bool:
        """Whether the start gate is open (always True without one)."""
        return self._start_gate is None or self._start_gate.is_set()

    async def wait_finished(self) -> None:
        """Return once a finite source was fully processed and delivered."""
        await self._finished.wait()

    def task_specs(
        self, *, is_essential: bool = True, drain_deadline_s: float | None = None
    ) -> list[TaskSpec]:
        """The supervisor tasks of this pipeline.

        Args:
            is_essential: mark the engine task essential, so the run stops cleanly once a
                finite source is processed and delivered (replay exit 0); False keeps the
                daemon up after the replay until it is signalled.
            drain_deadline_s: with ``is_essential``: after the source ended, wait at most
                this long for the delivery of everything (None: no limit).
        """

        async def engine_then_delivery() -> None:
            await self.run_engine()
            if not is_essential:
                return
            try:
                async with asyncio.timeout(drain_deadline_s):
                    await self._finished.wait()
            except TimeoutError:
                log.warning(
                    "drain_deadline_passed",
                    deadline_s=drain_deadline_s,
                    undelivered=len(self._outbox),
                    detail="stopping; the undelivered stay in the journal for the next start",
                )

        specs = [
            TaskSpec(
                name="pipeline.engine",
                run=self.guard(engine_then_delivery),
                is_essential=is_essential,
            ),
            TaskSpec(name="pipeline.publish", run=self.guard(self.run_publisher)),
            TaskSpec(name="pipeline.heartbeat", run=self.guard(self.run_heartbeat)),
        ]
        if self._is_live:
            specs.append(TaskSpec(name="pipeline.evaluate", run=self.guard(self.run_evaluator)))
        return specs

    def guard(self, body: Callable[[], Awaitable[None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """``body`` with the journal-fault boundary.

        A ``JournalError`` escaping it sends the critical ``journal`` alert (once per
        run), then is re-raised (the supervisor exits 74).
        """

        async def run() -> None:
            try:
                await body()
            except JournalError as exc:
                await self._report_journal_failure(exc)
                raise

        return run

    async def _report_journal_failure(self, exc: JournalError) -> None:
        """Send one critical ``journal`` alert directly (the journal cannot take it)."""
        if self._journal_failure is not None:
            return
        self._journal_failure = exc
        now = self._clock.now()
        log.critical("journal_failed", path=exc.path, cause=exc.cause, exit_code=74)
        alert = Alert(
            decision_id=f"journal-failed-{now.strftime('%Y%m%dT%H%M%S%f')}",
            ts=now,
            kind=AlertKind.JOURNAL,
            severity=Severity.CRITICAL,
            key="journal_failed",
            message=(
                f"journal {exc.path} cannot be written ({exc.cause}): alvhd stops with exit "
                "code 74; free space or fix permissions, then restart (nothing is lost: "
                "every decision journaled so far is intact)"
            ),
        )
        try:
            async with asyncio.timeout(self._alert_timeout_s):
                await self._alert_sink.send(alert)
        except (TransientError, TimeoutError) as send_exc:
            log.error("journal_alert_not_sent", error=str(send_exc))  # noqa: TRY400 - expected

    # ------------------------------------------------------------------ engine side

    async def run_engine(self) -> None:
        """Task ``pipeline.engine``: feed market events to the engine until the source ends.

        Raises:
            InvariantViolation: a live source ended (it must only end on shutdown).
        """
        await self._ready.wait()
        await self._wait_started()
        if not self._is_live:
            self._engine_task = asyncio.current_task()
            self._writer = asyncio.create_task(self._write_journal(), name="pipeline.journal")
        try:
            await self._feed_engine()
            await self._until_written(self._writes.join())
        finally:
            await self._stop_writer()
        log.info("source_finished", **self._n)
        await self._outbox.close()

    async def _feed_engine(self) -> None:
        """Every event of the source to the engine; a finite source's end settled."""
        events = self._source.events()
        try:
            async for event in events:
                await self._on_event(event)
        finally:
            aclose: Callable[[], Awaitable[None]] | None = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        if self._is_live:
            raise InvariantViolation("the live market data stream ended")
        if self._pending_ts is not None:
            await self._evaluate(self._pending_ts)
        await self._save_snapshot(force=True)

    # ------------------------------------------------------------------ journal (group commit)

    def _defers(self) -> bool:
        """Whether this call journals through the writer (replay/sim, the engine task)."""
        return self._writer is not None and asyncio.current_task() is self._engine_task

    async def _defer(self, write: _Write) -> None:
        """Hand ``write`` to the journal writer (waits for room: back-pressure).

        Raises:
            JournalError: the writer failed (disk full, read-only).
        """
        self._raise_writer_failure()
        if self._writes.full():
            await self._until_written(self._writes.put(write))
        else:
            self._writes.put_nowait(write)

    def _raise_writer_failure(self) -> None:
        writer = self._writer
        if writer is not None and writer.done() and not writer.cancelled():
            exc = writer.exception()
            if exc is not None:
                raise exc

    async def _until_written(self, waiting: Awaitable[object]) -> None:
        """Await ``waiting`` (room in, or the end of, the writes) unless the writer fails.

        Raises:
            JournalError: the writer failed first.
        """
        writer = self._writer
        if writer is None:
            await waiting
            return
        waiter = asyncio.ensure_future(waiting)
        try:
            await asyncio.wait((waiter, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiter.done():
                waiter.cancel()
        if not waiter.done() or waiter.cancelled():
            self._raise_writer_failure()
            raise InvariantViolation("the journal writer stopped")

    async def _stop_writer(self) -> None:
        """Cancel the journal writer (after the flush, or when the engine task fails)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait((writer,))
        self._writer = writer
        try:
            self._raise_writer_failure()
        finally:
            self._writer = None

    async def _write_journal(self) -> None:
        """Task ``pipeline.journal`` (replay/sim): commit what the engine produced, in order.

        Waits until the outbox has room for the next write's decisions, takes it and the
        writes queued after it as far as their decisions fit too, stores them in one
        transaction (``write_batch`` when the journal has it: the decisions in production
        order, then the latest snapshot) and queues the new decisions for publishing. So
        a fast replay never fills the outbox by itself (a full outbox would coalesce
        queued alerts away: only an engine call with more decisions than the outbox holds
        can still do that, as on the live path); the engine stops once
        ``_WRITES_QUEUED`` writes wait.

        Raises:
            JournalError: the journal could not be written.
        """
        writes = self._writes
        carried: _Write | None = None
        while True:
            batch = [carried if carried is not None else await writes.get()]
            carried = None
            await self._outbox.wait_room(len(batch[0].decisions))
            room = self._outbox.room - len(batch[0].decisions)
            while not writes.empty():
                write = writes.get_nowait()
                if len(write.decisions) > room:
                    carried = write  # the next batch's first
                    break
                batch.append(write)
                room -= len(write.decisions)
            await self._commit(batch)
            for _ in batch:
                writes.task_done()

    async def _commit(self, batch: Sequence[_Write]) -> None:
        """Store ``batch`` (one transaction when the journal can), then queue the new."""
        write_batch: Callable[[Sequence[Decision], bytes | None], Awaitable[list[bool]]] | None
        write_batch = getattr(self._journal, "write_batch", None)
        if write_batch is not None:
            decisions = [d for write in batch for d in write.decisions]
            snapshot = self._commit_time_snapshot(batch)
            if snapshot is None:
                snapshot = next((w.snapshot for w in reversed(batch) if w.snapshot), None)
            await self._queue_new(decisions, await write_batch(decisions, snapshot))
            return
        for write in batch:  # a journal without batches: each write as it came
            if write.decisions:
                await self._admit_now(write.decisions)
            if write.snapshot is not None:
                await self._journal.save_snapshot(write.snapshot)

    async def _wait_started(self) -> None:
        if self._start_gate is not None:
            await self._start_gate.wait()

    async def _on_event(self, event: Quote | SessionClose) -> None:
        match event:
            case Quote():
                due = self._pending_due  # replay/sim only (checked inline: 42,093 quotes)
                if due is not None and not self._is_live and event.ts >= due:
                    await self._run_due_evaluation(event.ts)
                self._n["quotes"] += 1
                symbol = event.symbol.value
                self.quotes_by_symbol[symbol] += 1
                self._engine_moves += 1
                rejected = self._engine.on_quote(event)
                if rejected is not None:
                    self._count_rejected(rejected)
                    if self._is_live:
                        # a quarantined print queues a data_suspect alert in the engine: the
                        # debounced evaluation hands it over now, not at the next close
                        self._dirty.set()
                    return
                self.last_quote_mono[symbol] = self._clock.monotonic()
                self._latest[event.symbol] = event
                if self._is_live:
                    self._dirty.set()
                else:
                    if self._pending_due is None:
                        self._pending_due = event.ts + self._debounce
                    self._pending_ts = event.ts
            case SessionClose():
                if not self._is_live:
                    await self._run_due_evaluation(event.ts)
                    self._pending_due = self._pending_ts = None  # superseded by the close
                now = self._clock.now() if self._is_live else event.ts
                self._n["session_closes"] += 1
                day = event.session_date
                await self._call(lambda: self._engine.on_session_close(day, now))
                self._snapshots.unsaved_closes += 1
                await self._save_snapshot(force=False)
                await self._let_writer_run()
                if self._on_evaluated is not None:
                    self._on_evaluated(now)
            case _:
                assert_never(event)

    async def _save_snapshot(self, *, force: bool) -> None:
        """Save ``engine.snapshot()`` when it matters (module docstring, "Snapshots").

        Args:
            force: save if any close is unsaved (end of a finite source); otherwise save
                only after a decision since the last save or once ``snapshot_every_s``
                passed.
        """
        policy = self._snapshots
        mono = self._clock.monotonic()
        if not policy.is_due(self._produced, mono, force=force):
            return
        if (
            self._snapshot_at_commit
            and self._defers()
            and policy.unsaved_closes < _EAGER_SNAPSHOT_CLOSES
        ):
            if not force and mono - policy.last_mono < _COMMIT_SNAPSHOT_EVERY_S:
                # replay/sim: not yet (a restart re-derives a moment's work at most); the
                # writer still gets its turn, as after an ask (it keeps pace with the engine)
                self._wrote_since_yield = True
                return
            # the writer encodes it when it commits, if the engine is still here then
            await self._defer(_Write((), None, snapshot_at=self._engine_moves))
            self._wrote_since_yield = True
            return
        async with self._engine_lock:
            snapshot = self._engine.snapshot()
            produced = self._produced
            if self._defers():
                await self._defer(_Write((), snapshot))
            else:
                await self._journal.save_snapshot(snapshot)
        policy.saved(produced, mono)

    async def _let_writer_run(self) -> None:
        """Yield once after an engine call handed writes to the journal writer (replay/sim).

        The writer then starts its commit (the fsync runs in its thread) with the engine
        still at the state just written, so a snapshot due there is encoded at commit time
        (``_commit``), while this task goes on with the next events.
        """
        if self._wrote_since_yield:
            self._wrote_since_yield = False
            await asyncio.sleep(0)

    def _commit_time_snapshot(self, batch: Sequence[_Write]) -> bytes | None:
        """The snapshot to store with ``batch``: the engine's state now, if one is due.

        Only the latest state is encoded, once per commit, and only while the engine has
        not moved since the last request in ``batch`` (then every decision it produced is
        in ``batch`` or committed before, and the state is that right after a close or an
        evaluation: a restore re-derives exactly what follows). Otherwise nothing is
        stored now and the policy stays due, so a later close asks again.
        """
        asked = next((w.snapshot_at for w in reversed(batch) if w.snapshot_at is not None), None)
        # every engine call bumps ``_engine_moves`` before it runs (``_call``): equal means
        # no call ran or is half-way (awaiting its journal write) since the request
        if asked is None or asked != self._engine_moves:
            return None
        snapshot = self._engine.snapshot()
        self._snapshots.saved(self._produced, self._clock.monotonic())
        return snapshot

    @property
    def snapshots_saved(self) -> int:
        """Engine snapshots written to the journal by this pipeline."""
        return self._snapshots.count

    async def _market_update(self, now: datetime) -> None:
        """Live: hand the latest quotes and layers to ``on_market`` when it is due."""
        mono = self._clock.monotonic()
        if self._on_market is None or not self._latest or mono < self._market_due:
            return
        self._market_due = mono + self._market_every_s
        try:
            await self._on_market(dict(self._latest), self._engine.active_layers, now)
        except PublishFailed as exc:
            log.warning("market_publish_failed", error=str(exc))

    async def call_engine(self, produce: Callable[[], Sequence[Decision]]) -> None:
        """Run an engine call from another task (e.g. a broker fill) and admit its decisions.

        Serialised with the pipeline's own engine calls (one lock), so the engine never
        sees two calls at once.
        """
        await self._call(produce)

    async def admit_external(self, decision: Decision) -> None:
        """Journal and publish a decision made outside the engine (an adapter's alert).

        Same path as the engine's decisions: write-ahead journal (a duplicate id is
        dropped), then the outbox.
        """
        async with self._engine_lock:
            await self._admit([decision])

    async def _run_due_evaluation(self, ts: datetime) -> None:
        """Replay/sim: run the pending evaluation if its debounce window ended by ``ts``."""
        if (
            self._pending_due is not None
            and self._pending_ts is not None
            and ts >= self._pending_due
        ):
            at = self._pending_ts
            self._pending_due = self._pending_ts = None
            await self._evaluate(at)

    def _count_rejected(self, rejected: Rejected) -> None:
        self._n["rejected"] += 1
        symbol = rejected.symbol.value if rejected.symbol is not None else ""
        self.rejected_by[(symbol, rejected.reason)] += 1
        log.debug("quote_rejected", reason=rejected.reason, symbol=rejected.symbol)
        now_s = self._clock.monotonic()
        if rejected.reason == "implausible" and now_s - self._last_quarantine_info >= 10.0:
            self._last_quarantine_info = now_s  # quarantined prints: at info, ≤ 1 line / 10 s
            log.info("quote_quarantined", total=self._n["rejected"], detail=rejected.detail)
        if self._last_reject_warning is None or now_s - self._last_reject_warning >= 60.0:
            self._last_reject_warning = now_s
            log.warning(
                "quotes_rejected",
                total=self._n["rejected"],
                reason=rejected.reason,
                symbol=rejected.symbol,
                detail=rejected.detail,
            )

    async def _evaluate(self, now: datetime) -> None:
        self._n["evaluations"] += 1
        await self._call(lambda: self._engine.evaluate(now))
        await self._let_writer_run()
        if self._on_evaluated is not None:
            self._on_evaluated(now)

    async def _call(self, produce: Callable[[], Sequence[Decision]]) -> None:
        """Run one engine call and admit its decisions, atomically w.r.t. other calls."""
        async with self._engine_lock:
            self._engine_moves += 1
            await self._admit(produce())

    async def _admit(self, decisions: Sequence[Decision]) -> None:
        """Journal a burst (write-ahead), then queue the new decisions for publishing.

        Replay/sim, from the engine task: handed to the journal writer (group commit; the
        engine goes on meanwhile). Otherwise (live, or another task) journaled now, after
        whatever the writer still holds (journal order = production order).

        Raises:
            JournalError: the journal could not be written.
        """
        if not decisions:
            return
        self._produced += len(decisions)
        if self._defers():
            await self._defer(_Write(tuple(decisions), None))
            self._wrote_since_yield = True  # the caller yields once its call is done
            return
        if self._writer is not None:
            await self._until_written(self._writes.join())
        await self._admit_now(decisions)

    async def _admit_now(self, decisions: Sequence[Decision]) -> None:
        """Journal a burst now (one transaction when the journal can), then queue the new."""
        append_many: Callable[[Sequence[Decision]], Awaitable[list[bool]]] | None = getattr(
            self._journal, "append_many", None
        )
        if append_many is not None and len(decisions) > 1:
            news = await append_many(decisions)
        else:
            news = [await self._journal.append(d) for d in decisions]
        await self._queue_new(decisions, news)

    async def _queue_new(self, decisions: Sequence[Decision], news: Sequence[bool]) -> None:
        """Queue the journaled decisions that are new (``news``); count the duplicates.

        The new decisions are queued first (a pipelined publisher starts their sends at
        once), the loop is yielded so those sends reach the socket, and only then come the
        log lines and ``on_decision``: the bookkeeping is not on the path to the broker.
        """
        queued: list[tuple[Decision, str | None]] = []
        for decision, is_new in zip(decisions, news, strict=True):
            if not is_new:
                self._n["duplicates"] += 1
                log.info("decision_duplicate", decision_id=decision.decision_id)
                continue
            self._n["decisions"] += 1
            self.decisions_by_kind[decision_kind(decision)] += 1
            self._journaled_mono[decision.decision_id] = self._clock.monotonic()
            queued.append((decision, await self._outbox.put(decision)))
        if queued:
            await _let_sends_leave()
        if queued and not self._is_live:
            # replay/sim: one debug line per commit (thousands of decisions, each in the
            # journal and on MQTT; ~0.25 ms a line through structlog's JSON at info), the
            # totals at info in ``source_finished`` and ``pipeline_finished``
            log.debug(
                "decisions_journaled",
                count=len(queued),
                first_id=queued[0][0].decision_id,
                last_id=queued[-1][0].decision_id,
            )
        for decision, superseded in queued:
            if self._is_live:
                log.info(
                    "decision_journaled",
                    decision_id=decision.decision_id,
                    kind=type(decision).__name__,
                )
            if self._on_decision is not None:
                self._on_decision(decision)
            if superseded is not None:
                self._n["coalesced"] += 1
                await self._journal.mark_published(superseded)
                log.warning(
                    "alert_coalesced",
                    superseded=superseded,
                    decision_id=decision.decision_id,
                    outbox=len(self._outbox),
                )

    async def run_evaluator(self) -> None:
        """Task ``pipeline.evaluate`` (live): debounced and interval evaluations."""
        await self._ready.wait()
        await self._wait_started()
        while True:
            try:
                async with asyncio.timeout(self._interval_s):
                    await self._dirty.wait()
            except TimeoutError:
                pass  # quiet market: the interval evaluation
            else:
                await asyncio.sleep(self._debounce_s)  # let the burst settle
            self._dirty.clear()
            await self._evaluate(self._clock.now())

    async def run_heartbeat(self) -> None:
        """Task ``pipeline.heartbeat``: watchdog ping; live: ``engine.on_heartbeat``."""
        await self._ready.wait()
        while True:
            if self._on_watchdog is not None:
                self._on_watchdog()
            if self._is_live and self.is_started:
                now = self._clock.now()
                if self._is_market_open is None or self._is_market_open(now):
                    await self._call(functools.partial(self._engine.on_heartbeat, now))
                await self._market_update(now)
            await asyncio.sleep(self._heartbeat_s)

    # ------------------------------------------------------------------ publish side

    async def run_publisher(self) -> None:
        """Task ``pipeline.publish``: re-send the unpublished, then drain the outbox.

        Raises:
            TransientError: a delivery still failed after ``publish_retry_s``.
        """
        records = await self._journal.unpublished()
        if records:
            self._n["resent"] = len(records)
            log.info("unpublished_resending", count=len(records))
            await self._outbox.put_unbounded((r.decision for r in records), front=True)
        if self._layers is None:
            self._layers = set(self._engine.active_layers)
        await self._announce_layers()
        self._ready.set()
        if self._publish_window == 1:
            while (decision := await self._outbox.peek()) is not None:
                await self._deliver(decision)
                await self._outbox.done()
        else:
            await self._run_pipelined()
        if self._on_finished is not None:
            await self._on_finished()
        self._finished.set()
        log.info("pipeline_finished", **self._n)

    async def _announce_layers(self) -> None:
        """Publish the ladder state at start.

        A restart shows the restored layers at once (and replaces a stale retained state),
        not only after the next change. A transient failure is logged, not fatal.
        """
        if self._on_layers is None or self._layers is None:
            return
        try:
            await self._on_layers(tuple(sorted(self._layers)), None)
        except TransientError as exc:
            log.warning("layers_announce_failed", error=str(exc))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "publish_retrying",
            attempt=state.attempt_number,
            error=str(exc),
            retry_in_s=round(state.upcoming_sleep, 3),
        )

    async def _run_pipelined(self) -> None:
        """Send queued decisions with up to ``publish_window`` in flight (sliding window).

        A decision is sent as soon as it is queued (``_dispatch``, called by the outbox on
        every ``put``), each send its own task, while fewer than ``publish_window`` are
        unacknowledged; the acknowledged prefix of the in-flight decisions is marked
        published in one transaction and leaves the outbox, so a slow acknowledgement never
        holds back the next burst's sends. A failed send stops new sends: ``_recover``
        settles everything in flight in journal order. Returns once the outbox is closed
        and everything was delivered.

        Raises:
            TransientError: a retried delivery still failed after ``publish_retry_s``.
        """
        inflight = self._inflight
        self._outbox.on_change = self._dispatch
        self._dispatching = True
        try:
            while True:
                self._wake.clear()
                self._start_sends()
                if inflight and inflight[0][1].done():
                    await self._settle(inflight)
                    continue
                if not inflight and self._outbox.is_drained:
                    return
                await self._wake.wait()
        finally:
            self._dispatching = False
            self._outbox.on_change = None

    def _dispatch(self) -> None:
        """The outbox changed: start the sends that fit and wake the publisher (sync)."""
        self._start_sends()
        self._wake.set()

    def _start_sends(self) -> None:
        """Start the sends of queued decisions while the window has room (sync)."""
        if not self._dispatching:
            return
        room = self._publish_window - len(self._inflight)
        for decision in self._outbox.take_nowait(room):
            task = asyncio.create_task(self._send(decision))
            task.add_done_callback(self._woken)
            self._inflight.append((decision, task))

    def _woken(self, _: object) -> None:
        self._wake.set()

    async def _settle(self, inflight: deque[tuple[Decision, asyncio.Task[None]]]) -> None:
        """Mark the acknowledged head of ``inflight`` published; recover from a failed send.

        Raises:
            TransientError: a retried delivery still failed after ``publish_retry_s``.
        """
        acked: list[Decision] = []
        while inflight and inflight[0][1].done() and inflight[0][1].exception() is None:
            acked.append(inflight.popleft()[0])
        if acked:
            await self._published(acked)
            await self._outbox.done(len(acked))
            # sends acknowledged meanwhile are settled by the next call (one transaction),
            # not taken for a failure
            return
        if inflight and inflight[0][1].done():
            self._dispatching = False  # a failed send: no new one until all are settled
            await self._recover(inflight)
            self._dispatching = True

    async def _recover(self, inflight: deque[tuple[Decision, asyncio.Task[None]]]) -> None:
        """A send of the window failed: settle every decision in flight in journal order.

        No new send starts meanwhile. Each acknowledged one is marked published (never
        sent twice); a failed one is retried alone by ``_deliver`` (forever by default),
        so after a broker outage the undelivered go out again in journal order. An
        acknowledged send *after* a failed one is not re-sent after the retry: the
        subscriber may hear it first (the ordering caveat of the module docstring).

        Raises:
            TransientError: a retried delivery still failed after ``publish_retry_s``.
            Exception: a send failed with anything but ``TransientError``/``BrokerRejected``.
        """
        await asyncio.wait([task for _, task in inflight])
        while inflight:
            decision, task = inflight[0]
            result = task.exception()
            if result is None:
                await self._published([decision])
            elif isinstance(result, BrokerRejected):
                if not isinstance(decision, ProposedOrder):
                    raise InvariantViolation("only an order sink may raise BrokerRejected")
                await self._order_refused(decision, result)
                await self._published([decision])
            elif isinstance(result, TransientError):
                log.warning(
                    "publish_retrying",
                    attempt=1,
                    error=str(result),
                    decision_id=decision.decision_id,
                )
                await self._deliver(decision)  # alone, in journal order, retried
            else:
                raise result
            inflight.popleft()
            await self._outbox.done()

    async def _published(self, decisions: Sequence[Decision]) -> None:
        """Mark delivered decisions published (one transaction when the journal can)."""
        if not decisions:
            return
        many: Callable[[Sequence[str]], Awaitable[None]] | None = getattr(
            self._journal, "mark_published_many", None
        )
        ids = [d.decision_id for d in decisions]
        if many is not None and len(ids) > 1:
            await many(ids)
        else:
            for decision_id in ids:
                await self._journal.mark_published(decision_id)
        now = self._clock.monotonic()
        for decision_id in ids:
            self._n["published"] += 1
            journaled = self._journaled_mono.pop(decision_id, None)
            if journaled is not None:
                self.publish_latency.observe(now - journaled)

    async def _deliver(self, decision: Decision) -> None:
        """Send ``decision`` to its sink (with retries), then mark it published."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential_jitter(
                multiplier=self._retry_initial_s,
                max=self._retry_max_s,
                jitter=self._retry_initial_s,
            ),
            stop=stop_never
            if self._publish_retry_s is None
            else stop_after_delay(self._publish_retry_s),
            reraise=True,
            before_sleep=self._log_retry,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._send(decision)
        except BrokerRejected as exc:
            if not isinstance(decision, ProposedOrder):
                raise InvariantViolation("only an order sink may raise BrokerRejected") from exc
            await self._order_refused(decision, exc)
        await self._published([decision])

    async def _send(self, decision: Decision) -> None:
        match decision:
            case ProposedOrder():
                await self._order_sink.submit(decision)
            case Alert():
                await self._alert_sink.send(decision)
            case LayerChange():
                layers = self._layers if self._layers is not None else set()
                if decision.is_active:
                    layers.add(decision.layer)
                else:
                    layers.discard(decision.layer)
                self._layers = layers
                if self._on_layers is not None:
                    await self._on_layers(tuple(sorted(layers)), decision)
            case _:
                assert_never(decision)

    async def refuse_order(self, order: ProposedOrder, exc: BrokerRejected) -> None:
        """A broker refused ``order`` (placed from another task): alert, serialised."""
        async with self._engine_lock:
            await self._order_refused(order, exc)

    async def _order_refused(self, order: ProposedOrder, exc: BrokerRejected) -> None:
        """A broker refused ``order``: journal and queue an alert (never retried)."""
        log.error("order_refused", order_ref=order.order_ref, code=exc.code, error=str(exc))
        alert = Alert(
            decision_id=f"{order.decision_id}-refused",
            ts=self._clock.now() if self._is_live else order.ts,
            kind=AlertKind.BROKER,
            severity=Severity.CRITICAL,
            key=f"order_refused:{order.order_ref}",
            message=f"broker refused {order.order_ref} (code {exc.code}): {exc}",
            layer=order.layer,
            reasons=order.reasons,
        )
        if await self._journal.append(alert):
            self._n["decisions"] += 1
            await self._outbox.put_unbounded([alert])

    async def drain(self, timeout_s: float = 5.0) -> int:
        """Shutdown: deliver what is left in the outbox within ``timeout_s``.

        Runs after the tasks were cancelled; what cannot be delivered stays unpublished
        in the journal and is re-sent by the next start. Pipelined sends still in flight
        are awaited first: an acknowledged one is marked published without being sent
        again. Never raises for a broker that is down or a journal that failed (it only
        logs how much is left).

        Returns:
            How many decisions are still queued.
        """
        inflight = {decision.decision_id: task for decision, task in self._inflight}
        try:
            async with asyncio.timeout(timeout_s):
                if inflight:
                    await asyncio.wait(inflight.values())
                while (decision := self._outbox.head()) is not None:
                    task = inflight.pop(decision.decision_id, None)
                    if task is None or task.cancelled() or task.exception() is not None:
                        await self._send(decision)
                    await self._journal.mark_published(decision.decision_id)
                    self._n["published"] += 1
                    await self._outbox.done()
        except TimeoutError:
            log.warning("outbox_drain_timed_out", remaining=len(self._outbox))
        except (TransientError, JournalError) as exc:
            log.warning("outbox_drain_failed", remaining=len(self._outbox), error=str(exc))
        finally:
            for task in inflight.values():
                if not task.done():
                    task.cancel()
                elif not task.cancelled():
                    task.exception()  # retrieved: the journal keeps it unpublished
            self._inflight.clear()
        return len(self._outbox)


# --------------------------------------------------------------------------- log sink


class LogSink:
    """Alert/order sink writing structured log lines (MQTT disabled, e.g. a demo).

    Implements ``AlertSink`` and ``OrderSink``; ``publish_layers`` fits ``on_layers``.
    """

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, alert: Alert) -> None:
        """Log ``alert``."""
        self.sent += 1
        log.info(
            "alert",
            decision_id=alert.decision_id,
            kind=alert.kind.value,
            severity=alert.severity.value,
            layer=alert.layer,
            message=alert.message,
            exit_rule=alert.exit_rule or None,
        )

    async def submit(self, order: ProposedOrder) -> None:
        """Log ``order``."""
        self.sent += 1
        log.info(
            "order_proposed",
            decision_id=order.decision_id,
            order_ref=order.order_ref,
            note=order.note,
            contracts=order.contracts,
            limit_price=order.limit_price,
            cost_usd=order.cost_usd,
        )

    async def publish_layers(
        self, active_layers: Sequence[Layer], last_change: LayerChange | None
    ) -> None:
        """Log the ladder state."""
        log.info(
            "layers",
            active_layers=[layer.value for layer in active_layers],
            last_change=None if last_change is None else last_change.decision_id,
        )
