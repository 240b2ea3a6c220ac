"""Composition root (cosmicpython's bootstrap): build adapters, wire ports, run the supervisor.

The only module of ``daemon`` that imports ``adapters`` (import-linter enforces it). Every
adapter is built inside the running event loop. ``run_daemon`` is what ``alvhd run`` and
``alvhd demo`` execute; ``replay_fast`` is the in-process batch replay of ``alvhd replay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import math
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from adapters.clock import ShiftedClock, SystemClock
from adapters.ib.books import BookRow, layer_books, side_by_side
from adapters.ib.connection import IbConnection
from adapters.ib.executions import ExecutionRecord
from adapters.ib.positions import AccountPositions, held_from_ib
from adapters.ib.wiring import IbAdapter, build_ib_adapter, ib_config
from adapters.mqtt.embedded import Broker, find_or_start_broker
from adapters.mqtt.payloads import OrderStatusPayload
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.retained import read_retained_json
from adapters.mqtt.tls import tls_context
from adapters.mqtt.topics import Topics
from adapters.notify.deadman import run_deadman
from adapters.replay import ReplaySource
from adapters.sqlite.journal import SqliteJournal
from adapters.systemd import notify
from daemon import paths
from daemon.core.engine import Engine
from daemon.core.listing import ListedStrikes
from daemon.core.model import (
    Bar,
    DaySummary,
    Decision,
    HedgePosition,
    Layer,
    MarketEvent,
    ProposedOrder,
    Quote,
    SessionClose,
    Symbol,
)
from daemon.core.params import EngineParams
from daemon.errors import ConfigError, TransientError
from daemon.metrics import DaemonCollector, serve_metrics
from daemon.pipeline import LogSink, MarketCallback, Pipeline
from daemon.ports import MarketDataSource, OrderSink
from daemon.sessions import is_regular_session, xnys_sessions
from daemon.settings import Settings
from daemon.supervisor import Cleanup, TaskSpec, run

log = structlog.get_logger(__name__)

SESSIONS_FIRST = date(1990, 1, 2)
"""First day of the trading calendar handed to the engine (the first VIX date)."""
SESSIONS_LAST = date(2035, 12, 31)
"""Last day of the trading calendar handed to the engine."""


class SourceKind(StrEnum):
    """Where market data comes from (``alvhd run --source``)."""

    SIM = "sim"
    REPLAY = "replay"
    IBKR = "ibkr"


def app_version() -> str:
    """The installed alvhd version (``"0+unknown"`` when not installed)."""
    try:
        return version("alvhd")
    except ValueError:  # pragma: no cover - metadata always exists once installed
        return "0+unknown"


async def read_retained_status(settings: Settings, *, timeout_s: float) -> dict[str, object]:
    """The daemon's retained ``{prefix}/{instance}/status`` payload (``alvhd status``).

    Raises:
        BrokerUnavailable: no broker or no retained status within ``timeout_s`` seconds.
        DataError: the retained payload is not a JSON object.
    """
    password = settings.mqtt_password
    return await read_retained_json(
        settings.mqtt.host,
        settings.mqtt.port,
        Topics(prefix=settings.mqtt.topic_prefix, instance=settings.mqtt.instance).status,
        timeout_s=timeout_s,
        username=settings.mqtt.username or None,
        password=password.get_secret_value() if password is not None else None,
    )


def trading_sessions() -> tuple[date, ...]:
    """XNYS sessions from 1990 through 2035, from exchange_calendars."""
    return xnys_sessions(SESSIONS_FIRST, SESSIONS_LAST)


class ObservedSource:
    """A ``MarketDataSource`` that shows every event to ``observer`` before passing it on.

    Args:
        inner: the real source.
        observer: synchronous callback; must not raise (it only updates a display).
    """

    def __init__(self, inner: MarketDataSource, observer: Callable[[MarketEvent], None]) -> None:
        self._inner = inner
        self._observer = observer

    async def events(self) -> AsyncIterator[MarketEvent]:
        """The inner source's events, each shown to the observer first."""
        async for event in self._inner.events():
            self._observer(event)
            yield event

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        """The inner source's warm-up bars."""
        return await self._inner.history(symbol, days)

    def rejected_count(self) -> int:
        """The inner source's rejection count."""
        return self._inner.rejected_count()


def build_source(settings: Settings, kind: SourceKind, *, pace_s: float = 0.0) -> MarketDataSource:
    """Build the market-data source for ``kind``.

    Raises:
        DataError: replay input unusable (missing required file, empty window).
        ConfigError: a source that cannot run with this configuration.
    """
    if kind is SourceKind.REPLAY:
        return ReplaySource(
            settings.replay_data_dir,
            start=settings.replay.start,
            end=settings.replay.end,
            pace_s=pace_s,
            warmup_days=settings.replay.warmup_days,
        )
    if kind is SourceKind.SIM:
        from adapters.sim import SimSource  # noqa: PLC0415 - keeps numpy RNG off replay start-up

        return SimSource(
            seed=settings.sim.seed,
            start=settings.sim.start,
            sessions=settings.sim.sessions,
            ticks_per_session=settings.sim.ticks_per_session,
            session_seconds=settings.sim.session_seconds,
        )
    raise ConfigError(f"source {kind.value} is built by run_daemon (needs a connection)")


def calendar_warning(params: EngineParams, today: date) -> str | None:
    """A start-up warning when the macro calendar ends within ``calendar_warn_days`` of today.

    The live engine repeats this check daily from its heartbeat (``calendar_expiring``
    alert); replay and sim runs get it once at start, against the wall-clock date.

    Args:
        params: engine parameters (macro events, sorted; warn horizon in days).
        today: the wall-clock date.

    Returns:
        One human line, or None when the calendar reaches far enough.
    """
    events = params.macro_events
    if not events:
        return "no macro calendar is configured: event_window never holds"
    last = events[-1].day
    days_left = (last - today).days
    if days_left > params.calendar_warn_days:
        return None
    return (
        f"the macro calendar (FOMC/CPI/PPI) ends on {last.isoformat()}, {days_left} days from "
        f"today (warn at {params.calendar_warn_days}): extend config/macro_events.csv"
    )


async def warm_up(engine: Engine, source: MarketDataSource, days: int) -> dict[Symbol, int]:
    """Seed the engine's indicators with ``days`` daily bars per symbol (SPEC §2 warm-up).

    Returns:
        Bars loaded per symbol (a symbol the source lacks has 0).
    """
    bars: dict[Symbol, Sequence[Bar]] = {}
    for symbol in Symbol:
        bars[symbol] = await source.history(symbol, days)
    engine.warm_up(bars)
    return {s: len(b) for s, b in bars.items()}


class PublishThenPlace:
    """``OrderSink`` of the live daemon: publish the proposal, then place it on the broker.

    The operator always sees the proposal first (MQTT or log); the broker sink applies
    its own guards (paper ``DU`` accounts only unless live trading is allow-listed,
    what-if first, idempotent on ``orderRef``), so a retry after a failed publish never
    places an order twice.
    """

    def __init__(self, publish: OrderSink, broker: OrderSink) -> None:
        self._publish = publish
        self._broker = broker

    async def submit(self, order: ProposedOrder) -> None:
        """Publish ``order``, then submit it to the broker.

        Raises:
            PublishFailed: publishing failed (retried by the pipeline; nothing placed yet).
            BrokerRejected: the broker refused the order (alerted, not retried).
        """
        await self._publish.submit(order)
        await self._broker.submit(order)


async def connect_broker(
    ib: IbAdapter, clock: SystemClock, journal: SqliteJournal | None = None
) -> AccountPositions:
    """Connect to IB (qualify contracts, subscribe, reconcile orders) and read positions.

    With a journal, the hedges are the layers' books from its executions (by orderRef and
    execId), reconciled against the broker (a difference is a critical alert, never a
    re-buy).

    Raises:
        ConfigError: a required contract does not qualify (the contract is named).
        BrokerUnavailable: no connection within the retry budget.
    """
    records: list[ExecutionRecord] = []
    if journal is not None:
        records = [ExecutionRecord.from_json(x) for x in await journal.executions()]
        ib.orders.seed_executions(records)
    await ib.connection.establish()
    held = await ib.positions(opened_on=clock.now().date(), executions=records)
    condor = held.condor
    log.info(
        "broker_positions",
        account=ib.connection.account,
        condor=None
        if condor is None
        else f"{condor.contracts}x {condor.long_put_strike:g}/{condor.short_put_strike:g}/"
        f"{condor.short_call_strike:g}/{condor.long_call_strike:g} {condor.expiry}",
        hedges=len(held.hedges),
        satellite_usd=None if held.satellite is None else round(held.satellite.notional_usd),
    )
    if condor is None:
        log.warning(
            "no_condor_in_account",
            detail="no short SPX iron condor found in the account: scenario losses come from "
            "the satellite only until one is opened",
        )
    return held


@dataclass(slots=True)
class DaemonOptions:
    """How ``run_daemon`` runs beyond the settings (CLI flags)."""

    source: SourceKind
    pace_s: float = 0.0
    """Replay: wall seconds between sessions."""
    exit_at_end: bool = False
    """Stop (exit 0) once a finite source is fully processed and published."""
    use_embedded_broker: bool = False
    """Demo: start/find a broker instead of the configured one."""
    fresh_journal: bool = False
    """Demo: journal in a temporary directory (each demo starts from scratch)."""
    on_decision: Callable[[Decision], None] | None = None
    """Called with every new decision (terminal view)."""
    stop: asyncio.Event | None = None
    """Set to request a clean stop (tests)."""
    notes: list[str] = field(default_factory=list)
    """Human notes collected during start-up (which broker was used, ...)."""
    on_started: Callable[[Sequence[str]], None] | None = None
    """Called once with the start-up notes, just before the supervisor starts (terminal)."""
    on_event: Callable[[MarketEvent], None] | None = None
    """Called with every market event before the engine sees it (terminal status line)."""
    clock_start: datetime | None = None
    """Rehearsal: the daemon's clock starts at this instant (paper mode only)."""


@contextlib.asynccontextmanager
async def _broker_for(
    settings: Settings, opts: DaemonOptions, workdir: Path
) -> AsyncIterator[tuple[str, int] | None]:
    """The (host, port) to publish to, or None to publish to the log only."""
    if not settings.mqtt.enabled:
        opts.notes.append("MQTT disabled by config: alerts go to the log only")
        yield None
        return
    if not opts.use_embedded_broker:
        yield (settings.mqtt.host, settings.mqtt.port)
        return
    broker: Broker | None = await asyncio.to_thread(find_or_start_broker, workdir)
    if broker is None:
        opts.notes.append("no MQTT broker found (install mosquitto): terminal only")
        yield None
        return
    opts.notes.append(
        f"MQTT: {broker.kind} broker on {broker.host}:{broker.port} — follow it with: "
        f"mosquitto_sub -h {broker.host} -p {broker.port} -t '{settings.mqtt.topic_prefix}/#' -v"
    )
    try:
        yield (broker.host, broker.port)
    finally:
        await asyncio.to_thread(broker.stop)


async def run_daemon(settings: Settings, opts: DaemonOptions) -> int:
    """Run the daemon until a signal (or the end of a finite source with ``exit_at_end``).

    Order: params (ConfigError → 78) → source → journal → engine (snapshot or warm-up) →
    publisher → pipeline, all supervised by one TaskGroup; shutdown drains the outbox,
    publishes the retained ``offline`` status and closes the journal.

    Returns:
        The process exit code (0 clean, 1 crash, 78 config).

    Raises:
        ConfigError: invalid configuration (before anything starts).
        DataError: unusable replay input.
    """
    params: EngineParams = settings.to_params()
    clock = SystemClock()
    if opts.clock_start is not None:
        if not settings.mode.paper:
            raise ConfigError(
                "--clock-start is a rehearsal tool: it is refused unless mode.paper = true",
                key="mode.paper",
            )
        clock = ShiftedClock(opts.clock_start)
        log.warning("clock_shifted", now=clock.now().isoformat(), detail="rehearsal clock")
        opts.notes.append(f"REHEARSAL: the daemon's clock starts at {clock.now().isoformat()}")
    warning = calendar_warning(params, clock.now().date())
    if warning is not None:
        log.warning("macro_calendar_expiring", detail=warning)
        opts.notes.append(f"WARNING: {warning}")
    ib: IbAdapter | None = None
    source: MarketDataSource
    if opts.source is SourceKind.IBKR:
        ib = build_ib_adapter(
            ib_config(
                settings.ib,
                settings.mode,
                stale_after_s=settings.service.stale_after_s,
                limit_offset_frac=settings.orders.limit_offset_frac,
                max_spread_frac=settings.orders.max_spread_frac,
            ),
            clock=clock,
            sessions=trading_sessions(),
        )
        source = ib.market_data
        # The adapter owns feed staleness (it also resubscribes); the engine's own check
        # would alert a second time for the same silence.
        params = dataclasses.replace(params, stale_after_s=math.inf)
    else:
        source = build_source(settings, opts.source, pace_s=opts.pace_s)
    if opts.on_event is not None:
        source = ObservedSource(source, opts.on_event)
    # One stack owns the long-lived resources, on every path out (start-up failure, crash,
    # clean stop), each closed once: the journal, then the IB connection last (STYLE §2.7).
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alvhd-")))
        if ib is not None:
            stack.push_async_callback(ib.close)
        journal_path = (
            workdir / "journal.sqlite"
            if opts.fresh_journal
            else settings.journal_path_for(opts.source.value)
        )
        _warn_legacy_journal(settings, opts, journal_path)
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        journal = await SqliteJournal.open(journal_path)
        stack.push_async_callback(journal.aclose)
        await journal.claim_identity(source=opts.source.value, instance=settings.mqtt.instance)
        held = await connect_broker(ib, clock, journal) if ib is not None else None
        chain = ib.market_data.book.vix_chain if ib is not None else None
        engine = Engine(
            params,
            sessions=trading_sessions(),
            assume_fills=held is None,
            # strikes from the broker's listed chain (replay/sim: Cboe's convention)
            listing=ListedStrikes(chain.strikes) if chain is not None and chain.strikes else None,
            # proposals priced from the listed options' quotes (model only as a fallback)
            option_market=ib.market_data.option_market if ib is not None else None,
        )
        snapshot = await journal.load_snapshot()
        if snapshot is not None:
            engine.restore(snapshot)
            restored = await restored_summary(journal, snapshot)
            log.info("engine_restored", journal=str(journal_path), **restored)
            opts.notes.append(
                f"restored from {journal_path}: snapshot of {restored['snapshot_date']}, "
                f"{restored['decisions']} decisions journalled"
            )
        else:
            loaded = await warm_up(engine, source, settings.replay.warmup_days)
            log.info("engine_warmed_up", bars={s.value: n for s, n in loaded.items()})
        if held is not None:
            # The broker's positions are the truth, over any snapshot.
            engine.set_positions(condor=held.condor, hedges=held.hedges, satellite=held.satellite)
        async with _broker_for(settings, opts, workdir) as endpoint:
            return await _supervise(
                settings=settings,
                opts=opts,
                engine=engine,
                source=source,
                journal=journal,
                clock=clock,
                endpoint=endpoint,
                ib=ib,
            )


def _mqtt_tls(settings: Settings) -> ssl.SSLContext | None:
    """TLS context of the daemon's MQTT session (``mqtt.tls_*``), None for plain TCP."""
    mq = settings.mqtt

    def path(p: Path | None) -> Path | None:
        return None if p is None else settings.resolve(p)

    return tls_context(path(mq.tls_ca_file), path(mq.tls_cert_file), path(mq.tls_key_file))


def _warn_legacy_journal(settings: Settings, opts: DaemonOptions, journal_path: Path) -> None:
    """Warn when the pre-per-source default journal (``alvhd.sqlite``) would be left behind.

    Until issue 6 every source shared ``var/alvhd.sqlite`` (``/var/lib/alvhd/alvhd.sqlite``
    under the old unit). Starting a new per-source file beside it loses the dedup history
    of what was already proposed, so say so, with the command that keeps it.
    """
    legacy = paths.state_dir() / "alvhd.sqlite"
    if (
        settings.journal.path is None
        and not opts.fresh_journal
        and legacy.is_file()
        and not journal_path.exists()
    ):
        detail = (
            f"{legacy} (the old shared default journal) is not used any more; this run "
            f"starts {journal_path}. To keep its history for this source: "
            f"mv {legacy} {journal_path} (or set journal.path)"
        )
        log.warning("journal_legacy_found", detail=detail)
        opts.notes.append(f"WARNING: {detail}")


async def restored_summary(journal: SqliteJournal, snapshot: bytes) -> dict[str, object]:
    """What a restart restored, for its log line (issue 6 §6: a restored run says so).

    Returns:
        ``snapshot_date`` (the last session date in the snapshot, ISO), ``saved_at`` (ISO
        UTC) and ``decisions`` (journalled decisions).
    """
    try:
        days = json.loads(snapshot).get("price_day", {}).values()
        snapshot_date = max(days) if days else None
    except (ValueError, AttributeError):
        snapshot_date = None
    return {
        "snapshot_date": snapshot_date,
        "saved_at": await journal.snapshot_saved_at(),
        "decisions": await journal.count(),
    }


async def _supervise(
    *,
    settings: Settings,
    opts: DaemonOptions,
    engine: Engine,
    source: MarketDataSource,
    journal: SqliteJournal,
    clock: SystemClock,
    endpoint: tuple[str, int] | None,
    ib: IbAdapter | None,
) -> int:
    publisher: MqttPublisher | None = None
    sink: MqttPublisher | LogSink
    if endpoint is None:
        sink = LogSink()
    else:
        if settings.mqtt_password is None:
            log.info(
                "mqtt_anonymous",
                detail="no MQTT password (secrets file mqtt_password empty or missing)",
                username=settings.mqtt.username or None,
            )
        publisher = MqttPublisher(
            hostname=endpoint[0],
            port=endpoint[1],
            topics=Topics(prefix=settings.mqtt.topic_prefix, instance=settings.mqtt.instance),
            clock=clock,
            mode="paper" if settings.mode.paper else "live",
            source=opts.source.value,
            version=app_version(),
            identifier=settings.mqtt.effective_client_id,
            username=settings.mqtt.username or None,
            password=(
                settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            ),
            keepalive_s=settings.mqtt.keepalive_s,
            tls_context=_mqtt_tls(settings),
        )
        sink = publisher
    order_sink: OrderSink = sink if ib is None else PublishThenPlace(sink, ib.orders)
    is_live = opts.source is SourceKind.IBKR
    pipeline = Pipeline(
        engine,
        source,
        journal,
        order_sink,
        sink,
        clock,
        debounce_s=settings.service.eval_debounce_ms / 1000,
        interval_s=settings.service.eval_interval_s,
        is_live=is_live,
        outbox_size=settings.service.outbox_size,
        on_decision=opts.on_decision,
        on_layers=sink.publish_layers,
        on_watchdog=lambda: notify("WATCHDOG=1"),
        on_finished=publisher.mark_source_done if publisher is not None else None,
        heartbeat_s=settings.service.heartbeat_s,
        is_market_open=is_regular_session if is_live else None,
        on_market=_market_reporter(publisher) if is_live else None,
        market_every_s=settings.service.market_every_s,
    )
    tasks = pipeline.task_specs(is_essential=opts.exit_at_end)
    # Journal and IB connection are closed by run_daemon's exit stack, after these.
    cleanups: list[Cleanup] = []
    cleanups += _ops(
        settings, pipeline=pipeline, engine=engine, publisher=publisher, ib=ib, tasks=tasks
    )
    if ib is not None:
        tasks += _broker_tasks(ib, engine, pipeline)
        tasks += _order_record_tasks(ib, journal, publisher)
    if publisher is not None:
        tasks.append(TaskSpec(name="mqtt.publisher", run=publisher.run))
        cleanups.append(Cleanup(name="mqtt.offline", close=publisher.aclose))
    cleanups.append(Cleanup(name="pipeline.drain", close=pipeline.drain))
    for note in opts.notes:
        log.info("startup_note", note=note)
    if opts.on_started is not None:
        opts.on_started(opts.notes)
    code = await run(
        tasks,
        cleanups=cleanups,
        notify=notify,
        stop=opts.stop,
        status=f"source={opts.source.value} mode={'paper' if settings.mode.paper else 'live'}",
    )
    log.info("pipeline_stats", **_stats_dict(pipeline))
    return code


def _ops(
    settings: Settings,
    *,
    pipeline: Pipeline,
    engine: Engine,
    publisher: MqttPublisher | None,
    ib: IbAdapter | None,
    tasks: list[TaskSpec],
) -> list[Cleanup]:
    """Optional operations extras: the Prometheus endpoint and the dead-man's switch ping."""
    cleanups: list[Cleanup] = []
    if settings.metrics.port:
        collector = DaemonCollector(
            pipeline,
            engine,
            is_mqtt_connected=(lambda: publisher.is_connected) if publisher is not None else None,
            is_ib_connected=ib.connection.ib.isConnected if ib is not None else None,
        )
        server = serve_metrics(collector, host=settings.metrics.host, port=settings.metrics.port)
        log.info("metrics_serving", host=settings.metrics.host, port=settings.metrics.port)

        async def stop_metrics() -> None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()

        cleanups.append(Cleanup(name="metrics.http", close=stop_metrics))
    if settings.ops.deadman_url:
        url, every_s = settings.ops.deadman_url, settings.ops.deadman_every_s
        tasks.append(TaskSpec(name="ops.deadman", run=lambda: run_deadman(url, every_s)))
    return cleanups


def _market_reporter(publisher: MqttPublisher | None) -> MarketCallback:
    """Live ``on_market``: one ``market`` log line and, with MQTT, the retained topic."""

    async def report(quotes: dict[Symbol, Quote], layers: tuple[Layer, ...], now: datetime) -> None:
        log.info(
            "market",
            quotes={s.value: q.price for s, q in sorted(quotes.items())},
            active_layers=[layer.value for layer in layers],
        )
        if publisher is not None:
            await publisher.publish_market(quotes, layers, ts=now)

    return report


def _broker_tasks(ib: IbAdapter, engine: Engine, pipeline: Pipeline) -> list[TaskSpec]:
    """The adapter's own tasks plus two bridges: fills → engine, adapter alerts → outbox."""

    async def book_fills() -> None:
        async for fill in ib.orders.fills():
            log.info("fill", order_ref=fill.order_ref, contracts=fill.contracts, price=fill.price)
            await pipeline.call_engine(functools.partial(engine.on_fill, fill))

    async def forward_alerts() -> None:
        async for alert in ib.connection.alerts.stream():
            await pipeline.admit_external(alert)

    specs = [TaskSpec(name=name, run=run) for name, run in ib.tasks()]
    specs.append(TaskSpec(name="ib.fills", run=book_fills))
    specs.append(TaskSpec(name="ib.alerts", run=forward_alerts))
    return specs


def _order_record_tasks(
    ib: IbAdapter, journal: SqliteJournal, publisher: MqttPublisher | None
) -> list[TaskSpec]:
    """Journal every execution (by execId) and order state change; publish the latter.

    ``orders/status`` is QoS 1: a failed publish is retried (tenacity, transient errors
    only, up to 60 s) and then logged as an error; the journal keeps every change either way.
    """

    async def journal_executions() -> None:
        async for record in ib.orders.new_executions():
            await journal.append_execution(
                record.exec_id, record.order_ref, record.ts.isoformat(), record.to_json()
            )

    async def report_statuses() -> None:
        async for report in ib.orders.status_reports():
            payload = OrderStatusPayload.of(report)
            await journal.append_order_event(
                report.order_ref,
                report.status.value,
                report.ts.isoformat(),
                payload.model_dump_json(),
            )
            if publisher is None:
                continue
            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(TransientError),
                    wait=wait_exponential_jitter(initial=0.5, max=5.0),
                    stop=stop_after_delay(60.0),
                    reraise=True,
                ):
                    with attempt:
                        await publisher.publish_order_status(report)
            except TransientError:
                log.exception("order_status_not_published", order_ref=report.order_ref)

    return [
        TaskSpec(name="ib.executions", run=journal_executions),
        TaskSpec(name="ib.order_status", run=report_statuses),
    ]


@dataclass(frozen=True, slots=True)
class PositionsReport:
    """``alvhd positions``: the journal's per-layer books and the broker, side by side."""

    account: str
    hedges: tuple[HedgePosition, ...]
    """Each layer's book from the journal's executions (orderRef + execId)."""
    rows: tuple[BookRow, ...]
    """Per VIX option contract: journal quantity per layer vs the broker's position."""


async def positions_report(settings: Settings) -> PositionsReport:
    """Read the journal's executions and the IB account's positions (read-only session).

    Uses ``ib.client_id + 50`` (bumped if taken) so a running daemon keeps its session.

    Raises:
        BrokerUnavailable: IB did not answer within the connect timeout.
    """
    async with await SqliteJournal.open(settings.journal_path) as journal:
        records = [ExecutionRecord.from_json(x) for x in await journal.executions()]
    base = ib_config(settings.ib, settings.mode)
    config = dataclasses.replace(
        base,
        read_only=True,
        client_id=settings.ib.client_id + 50,
        give_up_after_s=base.connect_timeout_s,
    )
    conn = IbConnection(config)
    try:
        await conn.establish()
        rows = [p for p in conn.ib.positions() if p.account == conn.account]
    finally:
        await conn.close()
    held = [h for h in (held_from_ib(p) for p in rows) if h is not None]
    return PositionsReport(
        account=conn.account, hedges=layer_books(records), rows=side_by_side(records, held)
    )


def _stats_dict(pipeline: Pipeline) -> dict[str, int]:
    stats = pipeline.stats
    return {name: getattr(stats, name) for name in stats.__dataclass_fields__}


# --------------------------------------------------------------------------- batch replay


@dataclass(slots=True)
class ReplayRun:
    """Result of ``replay_fast``: the engine, every day summary and every decision."""

    engine: Engine
    decisions: list[Decision]
    sessions: int
    quotes: int
    rejected_quotes: int
    rejected_rows: int
    days: list[DaySummary] = field(default_factory=list)
    """Every close's summary, in order (``engine.days`` holds them too: a batch replay
    sizes its window to the run; the daemon's engine keeps a bounded window)."""


async def replay_fast(
    settings: Settings,
    data_dir: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    on_session: Callable[[date, int, int], None] | None = None,
) -> ReplayRun:
    """Run the whole replay in-process, as fast as possible (no journal, no MQTT).

    Args:
        settings: configuration (engine parameters, warm-up days).
        data_dir: directory of the daily CSVs.
        start: first session (None: ``replay.start`` of the settings; when that is empty
            too, the first session after the warm-up sessions).
        end: last session (None: ``replay.end``; empty: the end of the data).
        on_session: progress callback ``(session_date, done, total)`` after each close.

    Raises:
        ConfigError: invalid configuration.
        DataError: unusable input files.
    """
    params = settings.to_params()
    source = ReplaySource(
        data_dir,
        start=settings.replay.start if start is None else start,
        end=settings.replay.end if end is None else end,
        warmup_days=settings.replay.warmup_days,
    )
    # A batch replay is finite: its engine keeps every day summary (the daemon's is bounded).
    params = dataclasses.replace(params, days_window=max(params.days_window, len(source.sessions)))
    engine = Engine(params, sessions=trading_sessions(), track_baseline=True)
    await warm_up(engine, source, settings.replay.warmup_days)
    decisions: list[Decision] = []
    days: list[DaySummary] = []
    total = len(source.sessions)
    done = quotes = rejected = 0
    async for event in source.events():
        if isinstance(event, Quote):
            quotes += 1
            if engine.on_quote(event) is not None:
                rejected += 1
        elif isinstance(event, SessionClose):
            decisions.extend(engine.on_session_close(event.session_date, event.ts))
            if engine.last_day is not None and engine.last_day.session_date == event.session_date:
                days.append(engine.last_day)
            done += 1
            if on_session is not None:
                on_session(event.session_date, done, total)
    return ReplayRun(
        engine=engine,
        decisions=decisions,
        sessions=done,
        quotes=quotes,
        rejected_quotes=rejected,
        rejected_rows=source.rejected_count(),
        days=days,
    )
