"""Composition root (cosmicpython's bootstrap): build adapters, wire ports, run the supervisor.

The only module of ``daemon`` that imports ``adapters`` (import-linter enforces it). Every
adapter is built inside the running event loop. ``run_daemon`` is what ``alvhd run`` and
``alvhd demo`` execute; ``replay_fast`` is the in-process batch replay of ``alvhd replay``.

Start order (never blind, never down): journal → engine (snapshot, or warm-up for
replay/sim) → MQTT publisher → ``READY=1`` → sources. With ``--source ibkr`` the IB link
is one supervised task (``ib.startup``): connect (forever, capped jittered backoff),
read positions, warm up (optional series may fail: alert, go on), fetch the option chain
(optional, off the path), then keep the link up. Until the link is ready the retained
``status`` says ``online`` + ``degraded`` + ``ib_unreachable`` and one critical
``broker`` alert is out. Orders are *published* at once; placing them on IB runs in its
own task (``ib.place``) from a queue, after the proposal is on MQTT, so a slow or absent
gateway never delays a proposal or an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import json
import math
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from adapters.clock import ShiftedClock, SystemClock
from adapters.replay import ReplaySource
from adapters.systemd import notify
from daemon import paths
from daemon.core.engine import Engine
from daemon.core.model import (
    REQUIRED_SYMBOLS,
    Alert,
    AlertKind,
    Bar,
    Decision,
    HedgePosition,
    Layer,
    MarketEvent,
    ProposedOrder,
    Quote,
    SessionClose,
    Severity,
    Symbol,
)
from daemon.core.params import EngineParams
from daemon.core.pnl import DaySummary
from daemon.errors import (
    BrokerRejected,
    BrokerUnavailable,
    ConfigError,
    TransientError,
)
from daemon.ports import MarketDataSource, OrderSink, ResumableSource
from daemon.sessions import is_regular_session, xnys_sessions
from daemon.settings import Settings
from daemon.supervisor import Cleanup, TaskSpec, run

if TYPE_CHECKING:
    # Start-up (issue 9): the IB, MQTT, journal and metrics adapters (ib_async, aiomqtt,
    # pydantic payload models, prometheus_client: ~0.3 s) are imported inside the functions
    # that build them, so `alvhd replay` (and `status`/`positions`) load only what they use.
    from adapters.ib.books import BookRow
    from adapters.ib.positions import AccountPositions
    from adapters.ib.wiring import IbAdapter
    from adapters.mqtt.embedded import Broker
    from adapters.mqtt.publisher import MqttPublisher
    from adapters.sqlite.journal import SqliteJournal
    from daemon.pipeline import MarketCallback, Pipeline

log = structlog.get_logger(__name__)

SESSIONS_FIRST = date(1990, 1, 2)
"""First day of the trading calendar handed to the engine (the first VIX date)."""
SESSIONS_LAST = date(2035, 12, 31)
"""Last day of the trading calendar handed to the engine."""
IB_BACKOFF_MAX_S = 10.0
"""Cap of the IB reconnect delay, seconds: a gateway back after a restart is used within
about this long (exponential from ``backoff_initial_s``, with jitter)."""
DRAIN_SHARE = 0.5
"""Share of ``service.shutdown_timeout_s`` for delivering the outbox at shutdown."""
OFFLINE_SHARE = 0.2
"""Share of ``service.shutdown_timeout_s`` for publishing the retained ``offline``."""
CLOSE_SHARE = 0.1
"""Share of ``service.shutdown_timeout_s`` for closing the journal, and for closing IB."""


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
    from adapters.mqtt.retained import read_retained_json  # noqa: PLC0415
    from adapters.mqtt.topics import Topics  # noqa: PLC0415

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

    def resume_after(self, day: date) -> int:
        """The inner source's :meth:`ResumableSource.resume_after` (0 if it cannot resume)."""
        return self._inner.resume_after(day) if isinstance(self._inner, ResumableSource) else 0


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


async def warm_up(
    engine: Engine,
    source: MarketDataSource,
    days: int,
    *,
    on_missing: Callable[[Symbol, str], Awaitable[None]] | None = None,
) -> dict[Symbol, int]:
    """Seed the engine's indicators with ``days`` daily bars per symbol (SPEC §2 warm-up).

    Args:
        engine: the engine to seed.
        source: where the bars come from.
        days: trading days of history per symbol.
        on_missing: called when an *optional* series (RVX, VIX3M, VX) could not be
            loaded (transient broker error, timeout): warm-up goes on without it.

    Returns:
        Bars loaded per symbol (a symbol the source lacks has 0).

    Raises:
        TransientError: a required series (SPX, IWM, VIX) could not be loaded.
        DataError: a required series has no usable bars.
    """
    bars: dict[Symbol, Sequence[Bar]] = {}
    for symbol in Symbol:
        try:
            bars[symbol] = await source.history(symbol, days)
        except TransientError as exc:
            if symbol in REQUIRED_SYMBOLS:
                raise
            log.warning("warm_up_series_missing", symbol=symbol.value, error=str(exc))
            bars[symbol] = ()
            if on_missing is not None:
                await on_missing(symbol, str(exc))
    engine.warm_up(bars)
    return {s: len(b) for s, b in bars.items()}


class PublishThenQueue:
    """``OrderSink`` of the live daemon: publish the proposal, then queue its placement.

    Publishing never waits on the broker: the proposal is on MQTT (or in the log) when
    ``submit`` returns; ``run_placement`` (task ``ib.place``) places it on IB later, once
    the link is ready. The IB sink applies its own guards (paper ``DU`` accounts only
    unless live trading is allow-listed, what-if first, idempotent on ``orderRef``), so
    an order queued twice (a re-publish after a lost PUBACK) is placed once.

    Args:
        publish: the MQTT (or log) order sink.
        broker: the IB order sink.
        on_refused: called when IB refuses an order (journals and publishes an alert).
    """

    def __init__(
        self,
        publish: OrderSink,
        broker: OrderSink,
        on_refused: Callable[[ProposedOrder, BrokerRejected], Awaitable[None]],
    ) -> None:
        self._publish = publish
        self._broker = broker
        self._on_refused = on_refused
        self._queue: asyncio.Queue[ProposedOrder] = asyncio.Queue()

    @property
    def pending(self) -> int:
        """Orders published and not yet placed."""
        return self._queue.qsize()

    async def submit(self, order: ProposedOrder) -> None:
        """Publish ``order`` and queue its placement (never waits on IB).

        Raises:
            PublishFailed: publishing failed (retried by the pipeline; nothing queued).
        """
        await self._publish.submit(order)
        if not order.is_placeable:
            # an empty or wide market: published (and alerted) so the operator sees what
            # the rules want, never placed (issue 7)
            log.warning("order_not_placeable", order_ref=order.order_ref, note=order.note)
            return
        self._queue.put_nowait(order)

    async def run_placement(self, wait_ready: Callable[[], Awaitable[None]]) -> None:
        """Task ``ib.place``: place queued orders in order, each once; never ends.

        Args:
            wait_ready: returns once the IB link is ready (no timeout).
        """
        while True:
            order = await self._queue.get()
            while True:
                await wait_ready()
                try:
                    await self._broker.submit(order)
                except BrokerUnavailable as exc:
                    log.warning("ib_place_waiting", order_ref=order.order_ref, error=str(exc))
                    continue
                except BrokerRejected as exc:
                    await self._on_refused(order, exc)
                break


def _log_positions(ib: IbAdapter, held: AccountPositions) -> None:
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
    from adapters.mqtt.embedded import find_or_start_broker  # noqa: PLC0415

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

    Order: params (ConfigError → 78) → source → journal → engine (snapshot, or warm-up for
    replay/sim) → publisher → ``READY=1`` → pipeline and, for IBKR, the ``ib.startup``
    task (connect, positions, warm-up), all supervised by one TaskGroup; shutdown drains
    the outbox, publishes the retained ``offline`` status and closes the journal and the
    IB link, all within ``service.shutdown_timeout_s``.

    Returns:
        The process exit code (0 clean, 1 crash, 74 journal unwritable, 78 config).

    Raises:
        ConfigError: invalid configuration (before anything starts).
        DataError: unusable replay input.
    """
    from adapters.ib.wiring import build_ib_adapter, ib_config  # noqa: PLC0415
    from adapters.sqlite.journal import SqliteJournal  # noqa: PLC0415

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
                backoff_max_s=IB_BACKOFF_MAX_S,
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
    close_s = CLOSE_SHARE * settings.service.shutdown_timeout_s
    # One stack owns the long-lived resources, on every path out (start-up failure, crash,
    # clean stop), each closed once and in bounded time: the journal, then IB last.
    async with contextlib.AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alvhd-")))
        if ib is not None:
            stack.push_async_callback(_bounded, "ib.close", ib.close, close_s)
        journal_path = (
            workdir / "journal.sqlite"
            if opts.fresh_journal
            else settings.journal_path_for(opts.source.value)
        )
        _warn_legacy_journal(settings, opts, journal_path)
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        journal = await SqliteJournal.open(journal_path)
        stack.push_async_callback(_bounded, "journal.close", journal.aclose, close_s)
        await journal.claim_identity(source=opts.source.value, instance=settings.mqtt.instance)
        engine = Engine(
            params,
            sessions=trading_sessions(),
            assume_fills=ib is None,
            # proposals priced from the listed options' quotes (model only as a fallback);
            # the listed strikes arrive with the option chain, after start-up (ib.startup)
            option_market=ib.market_data.option_market if ib is not None else None,
        )
        if ib is not None:
            # every chain that arrives (ib.startup's or a later ib.option_quotes retry)
            # replaces Cboe's strike convention with the broker's listed strikes
            ib.follow_listing(engine.set_listing)
        is_restored = await _restore(engine, journal, journal_path, source, opts)
        if not is_restored and ib is None:
            loaded = await warm_up(engine, source, settings.replay.warmup_days)
            log.info("engine_warmed_up", bars={s.value: n for s, n in loaded.items()})
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
                is_restored=is_restored,
            )


def _mqtt_tls(settings: Settings) -> ssl.SSLContext | None:
    """TLS context of the daemon's MQTT session (``mqtt.tls_*``), None for plain TCP."""
    from adapters.mqtt.tls import tls_context  # noqa: PLC0415

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


async def _restore(
    engine: Engine,
    journal: SqliteJournal,
    journal_path: Path,
    source: MarketDataSource,
    opts: DaemonOptions,
) -> bool:
    """Restore the engine from the journal's snapshot, if there is one (issue 6 §6).

    A replay or simulation then resumes after the snapshot's last session: the sessions
    the engine already holds are not fed again (each would be a ``close_repeated`` alert
    with a new id, published and sent on to phones).

    Returns:
        Whether a snapshot was restored.
    """
    snapshot = await journal.load_snapshot()
    if snapshot is None:
        return False
    engine.restore(snapshot)
    restored = await restored_summary(journal, snapshot)
    log.info("engine_restored", journal=str(journal_path), **restored)
    opts.notes.append(
        f"restored from {journal_path}: snapshot of {restored['snapshot_date']}, "
        f"{restored['decisions']} decisions journalled"
    )
    if restored["snapshot_date"] and isinstance(source, ResumableSource):
        resume_day = date.fromisoformat(str(restored["snapshot_date"]))
        skipped = source.resume_after(resume_day)
        log.info("source_resumed", after=resume_day.isoformat(), skipped_sessions=skipped)
    return True


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


async def _bounded(name: str, close: Callable[[], Awaitable[None]], timeout_s: float) -> None:
    """Run one closing step within ``timeout_s`` (a hang is logged, never blocks exit)."""
    try:
        async with asyncio.timeout(timeout_s):
            await close()
    except TimeoutError:
        log.error("close_timed_out", step=name, timeout_s=timeout_s)  # noqa: TRY400


def _publisher(
    settings: Settings,
    opts: DaemonOptions,
    endpoint: tuple[str, int],
    clock: SystemClock,
    *,
    health: Callable[[], Sequence[str]],
    quote_counts: Callable[[], Mapping[str, Mapping[str, int]]],
) -> MqttPublisher:
    from adapters.mqtt.publisher import MqttPublisher  # noqa: PLC0415
    from adapters.mqtt.topics import Topics  # noqa: PLC0415

    service = settings.service
    return MqttPublisher(
        hostname=endpoint[0],
        port=endpoint[1],
        topics=Topics(prefix=settings.mqtt.topic_prefix, instance=settings.mqtt.instance),
        clock=clock,
        mode="paper" if settings.mode.paper else "live",
        source=opts.source.value,
        version=app_version(),
        identifier=settings.mqtt.effective_client_id,
        username=settings.mqtt.username or None,
        password=(settings.mqtt_password.get_secret_value() if settings.mqtt_password else None),
        keepalive_s=settings.mqtt.keepalive_s,
        health=health,
        quote_counts=quote_counts,
        status_every_s=service.status_every_s,
        signals_every_s=service.signals_every_s,
        tls_context=_mqtt_tls(settings),
    )


def _rejected_counts(parts: Mapping[str, Pipeline]) -> dict[str, dict[str, int]]:
    """Quotes refused at the edge since start, per symbol and reason (``status``'s counters).

    Args:
        parts: holds the pipeline under ``"pipeline"`` once it is built.

    Returns:
        ``{symbol: {reason: count}}``; empty before the pipeline exists.
    """
    out: dict[str, dict[str, int]] = {}
    pipeline = parts.get("pipeline")
    if pipeline is not None:
        for (symbol, reason), n in sorted(pipeline.rejected_by.items()):
            out.setdefault(symbol or "?", {})[reason] = n
    return out


async def _supervise(  # noqa: PLR0915 - one more: the lazy pipeline import (issue 9)
    *,
    settings: Settings,
    opts: DaemonOptions,
    engine: Engine,
    source: MarketDataSource,
    journal: SqliteJournal,
    clock: SystemClock,
    endpoint: tuple[str, int] | None,
    ib: IbAdapter | None,
    is_restored: bool,
) -> int:
    # The daemon's shell loops (and prometheus_client through daemon.metrics) only here:
    # `alvhd replay` never builds a pipeline (issue 9 start-up).
    from daemon.pipeline import PUBLISH_WINDOW, LogSink, Pipeline  # noqa: PLC0415

    # What start-up loaded (modules, settings, the replay's data, the engine) lives as long
    # as the daemon: full collections need not re-scan it (issue 9: gen-2 collections of a
    # full-history `run --source replay` 0.14 -> 0.06-0.09 s; a full collection 0.07 ->
    # 0.01 s, at exit too).
    gc.freeze()
    service = settings.service
    parts: dict[str, Pipeline] = {}  # the pipeline, once built (the health closure reads it)

    def health() -> list[str]:
        reasons: list[str] = []
        if ib is not None and not ib.connection.is_ready:
            reasons.append("ib_unreachable")
        if ib is not None and any(
            k.startswith(("data_stale", "session_close_waiting"))
            for k in ib.connection.alerts.active_keys()
        ):
            reasons.append("data_stale")
        pipeline = parts.get("pipeline")
        if pipeline is not None:
            if len(pipeline.outbox) >= service.mqtt_backlog_after:
                reasons.append("mqtt_backlog")
            if pipeline.journal_failure is not None:
                reasons.append("journal_failed")
        return reasons

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
        publisher = _publisher(
            settings,
            opts,
            endpoint,
            clock,
            health=health,
            quote_counts=functools.partial(_rejected_counts, parts),
        )
        sink = publisher

    async def refused(order: ProposedOrder, exc: BrokerRejected) -> None:
        await parts["pipeline"].refuse_order(order, exc)

    placement = PublishThenQueue(sink, ib.orders, refused) if ib is not None else None
    order_sink: OrderSink = sink if placement is None else placement
    is_live = opts.source is SourceKind.IBKR
    gate = asyncio.Event() if ib is not None else None
    pipeline = Pipeline(
        engine,
        source,
        journal,
        order_sink,
        sink,
        clock,
        debounce_s=service.eval_debounce_ms / 1000,
        interval_s=service.eval_interval_s,
        is_live=is_live,
        outbox_size=service.outbox_size,
        on_decision=opts.on_decision,
        on_layers=sink.publish_layers,
        on_watchdog=lambda: notify("WATCHDOG=1"),
        on_finished=publisher.mark_source_done if publisher is not None else None,
        heartbeat_s=service.heartbeat_s,
        is_market_open=is_regular_session if is_live else None,
        on_market=_market_reporter(publisher) if is_live else None,
        market_every_s=service.market_every_s,
        start_gate=gate,
        on_evaluated=_signals_reporter(engine, publisher),
        alert_timeout_s=OFFLINE_SHARE * service.shutdown_timeout_s,
        # issue 9: MQTT-only sinks take a window of concurrent QoS 1 publishes; with IB the
        # orders are placed one at a time, in journal order.
        publish_window=PUBLISH_WINDOW if ib is None else 1,
    )
    parts["pipeline"] = pipeline
    tasks = pipeline.task_specs(
        is_essential=opts.exit_at_end, drain_deadline_s=service.shutdown_timeout_s
    )
    # Journal and IB connection are closed by run_daemon's exit stack, after these.
    cleanups: list[Cleanup] = []
    cleanups += _ops(
        settings, pipeline=pipeline, engine=engine, publisher=publisher, ib=ib, tasks=tasks
    )
    if ib is not None and gate is not None and placement is not None:
        tasks += _broker_tasks(
            ib,
            engine,
            pipeline,
            placement,
            startup=_ib_startup(
                ib, engine, pipeline, source, clock, gate, settings, is_restored, journal
            ),
        )
        tasks += _order_record_tasks(ib, journal, publisher)
    if publisher is not None:
        tasks.append(TaskSpec(name="mqtt.publisher", run=publisher.run))
        tasks.append(TaskSpec(name="mqtt.status", run=publisher.run_status))
        tasks.append(TaskSpec(name="mqtt.signals", run=publisher.run_signals))
        offline_s = OFFLINE_SHARE * service.shutdown_timeout_s
        cleanups.append(
            Cleanup(
                name="mqtt.offline",
                close=functools.partial(publisher.aclose, offline_s),
                timeout_s=offline_s,
            )
        )
    drain_s = DRAIN_SHARE * service.shutdown_timeout_s
    cleanups.append(
        Cleanup(
            name="pipeline.drain",
            # the drain gives up (and says how much is left) just before its step's limit
            close=functools.partial(pipeline.drain, 0.9 * drain_s),
            timeout_s=drain_s,
        )
    )
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
        # drain + offline here, then the journal and IB closes (CLOSE_SHARE each): the
        # whole sequence fits in service.shutdown_timeout_s
        shutdown_timeout_s=(DRAIN_SHARE + OFFLINE_SHARE) * service.shutdown_timeout_s,
    )
    log.info("pipeline_stats", **_stats_dict(pipeline))
    return code


def _signals_reporter(
    engine: Engine, publisher: MqttPublisher | None
) -> Callable[[datetime], None] | None:
    """``on_evaluated``: offer the engine's latest readings to the ``signals`` topic."""
    if publisher is None:
        return None
    last: list[object] = [None]

    def offer(now: datetime) -> None:
        snapshot = engine.latest_snapshot()
        if snapshot is None or snapshot is last[0]:
            return
        last[0] = snapshot
        publisher.offer_signals(
            snapshot.readings,
            session_date=snapshot.session_date,
            is_provisional=snapshot.is_provisional,
            ts=now,
        )

    return offer


def _ib_startup(  # noqa: PLR0917 - one closure over the start-up parts
    ib: IbAdapter,
    engine: Engine,
    pipeline: Pipeline,
    source: MarketDataSource,
    clock: SystemClock,
    gate: asyncio.Event,
    settings: Settings,
    is_restored: bool,
    journal: SqliteJournal,
) -> Callable[[], Awaitable[None]]:
    """Task ``ib.startup``: connect, positions, warm-up, open the gate; keep the link up.

    Every step waits on the broker with a timeout; a transient failure (timeout, drop)
    goes back to connecting (the connection alerts once per outage episode). Optional
    steps (RVX/VIX3M/VX history, the option chain) alert and go on.
    """
    from adapters.ib.executions import ExecutionRecord  # noqa: PLC0415

    async def missing(symbol: Symbol, why: str) -> None:
        now = clock.now()
        await pipeline.admit_external(
            Alert(
                decision_id=f"warmup-{symbol.value}-{now.strftime('%Y%m%dT%H%M%S%f')}",
                ts=now,
                kind=AlertKind.BROKER,
                severity=Severity.WARNING,
                key=f"broker:history:{symbol.value}",
                message=f"IB history of optional series {symbol.value} not received ({why}); "
                "running without it (signals that need it do not hold)",
            )
        )

    async def startup() -> None:
        conn = ib.connection
        # The layers' books come from the journal's executions (by orderRef and execId),
        # reconciled against the broker: a difference is a critical alert, never a re-buy.
        records = [ExecutionRecord.from_json(x) for x in await journal.executions()]
        ib.orders.seed_executions(records)
        while True:
            await conn.establish()
            try:
                held = await ib.positions(opened_on=clock.now().date(), executions=records)
                if not is_restored:
                    loaded = await warm_up(
                        engine, source, settings.replay.warmup_days, on_missing=missing
                    )
                    log.info("engine_warmed_up", bars={s.value: n for s, n in loaded.items()})
            except TransientError as exc:
                conn.reconnect(f"IB start-up request failed: {exc}")
                await asyncio.sleep(conn.config.backoff_initial_s)
                continue
            break
        _log_positions(ib, held)
        # The broker's positions are the truth, over any snapshot.
        engine.set_positions(condor=held.condor, hedges=held.hedges, satellite=held.satellite)
        gate.set()
        log.info("ib_started", account=conn.account)
        # the chain goes to the engine through ib.follow_listing, whichever task gets it
        await ib.market_data.fetch_option_chain()
        await conn.run()

    return startup


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
    from adapters.notify.deadman import run_deadman  # noqa: PLC0415
    from daemon.metrics import DaemonCollector, serve_metrics  # noqa: PLC0415

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


def _broker_tasks(
    ib: IbAdapter,
    engine: Engine,
    pipeline: Pipeline,
    placement: PublishThenQueue,
    *,
    startup: Callable[[], Awaitable[None]],
) -> list[TaskSpec]:
    """IB tasks: start-up + link, market data, placement, fills → engine, alerts → outbox."""

    async def book_fills() -> None:
        async for fill in ib.orders.fills():
            log.info("fill", order_ref=fill.order_ref, contracts=fill.contracts, price=fill.price)
            await pipeline.call_engine(functools.partial(engine.on_fill, fill))

    async def forward_alerts() -> None:
        async for alert in ib.connection.alerts.stream():
            await pipeline.admit_external(alert)

    async def place() -> None:
        await placement.run_placement(ib.connection.wait_ready)

    return [
        TaskSpec(name="ib.startup", run=pipeline.guard(startup)),
        # the adapter's own tasks (market data, option quotes), but its connection loop,
        # which ib.startup runs after connecting
        *(TaskSpec(name=name, run=run) for name, run in ib.tasks() if name != "ib.connection"),
        TaskSpec(name="ib.place", run=pipeline.guard(place)),
        TaskSpec(name="ib.fills", run=pipeline.guard(book_fills)),
        TaskSpec(name="ib.alerts", run=pipeline.guard(forward_alerts)),
    ]


def _order_record_tasks(
    ib: IbAdapter, journal: SqliteJournal, publisher: MqttPublisher | None
) -> list[TaskSpec]:
    """Journal every execution (by execId) and order state change; publish the latter.

    ``orders/status`` is QoS 1: a failed publish is retried (tenacity, transient errors
    only, up to 60 s) and then logged as an error; the journal keeps every change either way.
    """
    from adapters.mqtt.payloads import OrderStatusPayload  # noqa: PLC0415

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
    from adapters.ib.books import layer_books, side_by_side  # noqa: PLC0415
    from adapters.ib.connection import IbConnection  # noqa: PLC0415
    from adapters.ib.executions import ExecutionRecord  # noqa: PLC0415
    from adapters.ib.positions import held_from_ib  # noqa: PLC0415
    from adapters.ib.wiring import ib_config  # noqa: PLC0415
    from adapters.sqlite.journal import SqliteJournal  # noqa: PLC0415

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
    """Result of ``replay_fast``: the engine, every day summary and every decision.

    The engine, the decisions and the days are left out of ``repr``: ``asyncio.run`` reprs
    the finished main task (its result) when it restores the SIGINT handler, and the full
    repr of a whole history cost ~0.4 s of a replay (issue 9).
    """

    engine: Engine = field(repr=False)
    decisions: list[Decision] = field(repr=False)
    sessions: int
    quotes: int
    rejected_quotes: int
    rejected_rows: int
    days: list[DaySummary] = field(default_factory=list, repr=False)
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
    # Nothing else runs in this loop: the source's events without a turn per session.
    for event in source.stream():
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
