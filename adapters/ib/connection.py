"""The IB API session: connect, reconnect with capped jittered backoff, classify error codes.

One ``ib_async.IB`` object lives for the whole process; :meth:`IbConnection.run` is the
component's task (``name="ib.connection"``): it connects, runs the on-connect hooks
(qualify + resubscribe market data, reconcile orders) and waits for the socket to drop,
forever. A nightly reset or a Gateway restart is just another turn of the loop.

eventkit callbacks (``errorEvent``, ``disconnectedEvent``) are synchronous here: they copy
state, set ``asyncio.Event``s and queue alerts; they never await and never raise.

Outage episodes: the link is "out" from the first failed connect at start (or the loss
of a ready link) until it is ready again. Each episode raises exactly one critical
``broker`` alert (key ``broker:outage``) when it starts, however many reconnect attempts
fail, and one info ``broker`` alert (key ``broker:restored``) saying how long it lasted
when the link is ready again. :attr:`IbConnection.is_out` feeds the ``ib_unreachable``
health reason of the MQTT status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from ib_async import IB
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

from adapters.ib import codes
from adapters.ib.alerting import AlertBuffer
from adapters.ib.config import IbConfig
from daemon.core.model import AlertKind, Severity
from daemon.errors import BrokerUnavailable, ConfigError, TransientError
from daemon.ports import Clock

log = structlog.get_logger(__name__)

OnConnected = Callable[[], Awaitable[None]]
_CONNECT_ERRORS = (BrokerUnavailable, ConnectionError, OSError, TimeoutError)
"""Exceptions of a connect attempt that mean "broker unavailable, try again"."""
OUTAGE_KEY = "broker:outage"
"""Alert key of an IB outage episode (one critical alert per episode)."""
RESTORED_KEY = "broker:restored"
"""Alert key of the end of an outage episode."""


def raise_if_cancel_swallowed() -> None:
    """Raise ``CancelledError`` if this task was cancelled and a library swallowed it.

    Python 3.11's ``asyncio.wait_for``, which ib_async uses for its handshake, start-up
    sync and requests, drops a cancellation that arrives in the loop turn in which the
    awaited result completes (CPython gh-86296; fixed in 3.12 by gh-98518, which rebuilt
    ``wait_for`` on ``asyncio.timeout``). The task then runs on as if never cancelled: a
    reconnect cancelled by a shutdown went on to ``ready`` and waited for the next drop
    forever, so the shutdown hung. ``Task.cancelling()`` still counts the request (only
    ``uncancel()`` lowers it, and ``asyncio.timeout``/``TaskGroup`` call it for their own
    cancellations), so a non-zero count after a library call means "stop now".

    Raises:
        asyncio.CancelledError: the current task has an unhonoured cancellation request.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class LinkState(StrEnum):
    """State of the API link as the operator sees it."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    """Socket up but TWS lost its link to IB (1100/2110): data and orders may be stale."""


class UtcClock:
    """Fallback ``Clock``: the system clock in UTC."""

    def now(self) -> datetime:
        """Tz-aware UTC now."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Monotonic seconds of the running loop."""
        return asyncio.get_running_loop().time()


class IbConnection:
    """Owns the ib_async ``IB`` object, its connect/reconnect loop and the error table.

    Args:
        config: connection settings.
        clock: time source (alerts' ``ts``); system UTC clock by default.
        ib: an ``IB`` instance (a new one by default).
    """

    def __init__(self, config: IbConfig, *, clock: Clock | None = None, ib: IB | None = None):
        self.config = config
        self.clock: Clock = clock or UtcClock()
        self.ib = ib or IB()
        self.alerts = AlertBuffer()
        self.state = LinkState.DISCONNECTED
        self.client_id = config.client_id
        self.account = ""
        self.connects = 0
        """Successful connects so far (1 after the first)."""
        self.connect_failures = 0
        """Failed connect attempts so far (each followed by a backoff sleep)."""
        self.resubscribe = asyncio.Event()
        """Set when market data must be requested again (1101/1102, 2104 after 2103)."""
        self._ready = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._connect_failed = asyncio.Event()
        self._connect_failure = ""
        self._farm_broken = False
        self._closing = False
        self._hooks: list[OnConnected] = []
        self._outage_since: float | None = None
        """``clock.monotonic()`` when the current outage episode began (None: no outage)."""
        self.errors_seen: list[tuple[int, int, str]] = []
        """(reqId, code, message) of every IB error/status message, for diagnostics."""
        self._handlers: dict[codes.ErrorAction, Callable[[int, str, str], None]] = {
            codes.ErrorAction.CLIENT_ID_IN_USE: self._client_id_in_use,
            codes.ErrorAction.DEGRADED: self._degraded,
            codes.ErrorAction.RESTORED: self._restored,
            codes.ErrorAction.FARM_BROKEN: self._farm_broke,
            codes.ErrorAction.FARM_OK: self._farm_ok,
            codes.ErrorAction.NOT_SUBSCRIBED: self._not_subscribed,
        }
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.client.apiError += self._on_api_error

    # ------------------------------------------------------------------ public
    def add_on_connected(self, hook: OnConnected) -> None:
        """Run ``hook`` after every (re)connect, before the link is reported ready."""
        self._hooks.append(hook)

    @property
    def is_out(self) -> bool:
        """Whether an outage episode is under way (alerted, not yet restored)."""
        return self._outage_since is not None

    @property
    def is_ready(self) -> bool:
        """Connected, synced and every on-connect hook done."""
        return self._ready.is_set()

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until the link is ready.

        Raises:
            BrokerUnavailable: not ready within ``timeout_s``.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError as exc:
            raise BrokerUnavailable(f"IB not ready after {timeout_s} s") from exc

    async def run(self) -> None:
        """Keep the link up: (re)connect, run hooks, wait for a drop; forever (cancel to stop).

        If :meth:`establish` already brought the link up (start-up warm-up), this only
        waits for the next drop.

        Raises:
            BrokerUnavailable: down longer than ``give_up_after_s`` (when set).
            ConfigError: a required contract does not qualify, or the account is unknown.
        """
        while True:
            if not self._ready.is_set():
                await self.establish()
            raise_if_cancel_swallowed()
            await self._disconnected.wait()

    async def establish(self) -> None:
        """Connect (with backoff) and run the on-connect hooks until the link is ready.

        Call it once before the supervisor starts when warm-up needs the broker; ``run``
        then continues from the ready link.

        Raises:
            BrokerUnavailable: down longer than ``give_up_after_s`` (when set).
            ConfigError: a required contract does not qualify, or the account is unknown.
        """
        while True:
            await self._connect_with_retry()
            raise_if_cancel_swallowed()
            try:
                for hook in self._hooks:
                    await hook()
                    raise_if_cancel_swallowed()
            except (TransientError, ConnectionError, TimeoutError) as exc:
                log.warning("ib_on_connect_failed", error=repr(exc))
                self._begin_outage(f"IB start-up request failed after connecting: {exc!r}")
                self._drop()
                await asyncio.sleep(self.config.backoff_initial_s)
                continue
            if not self.ib.isConnected():
                continue
            self._ready.set()
            self._end_outage()
            log.info("ib_ready", client_id=self.client_id, account=self.account)
            return

    def reconnect(self, why: str) -> None:
        """A start-up step after the connect failed transiently: drop the link, alert once.

        The next :meth:`establish` connects again (with backoff); ``why`` goes into the
        outage alert if this starts an episode.
        """
        log.warning("ib_reconnecting", reason=why)
        self._begin_outage(why)
        self._drop()

    def _begin_outage(self, why: str) -> None:
        """Start an outage episode (idempotent): one critical ``broker`` alert."""
        if self._outage_since is not None or self._closing:
            return
        self._outage_since = self.clock.monotonic()
        cfg = self.config
        self.alerts.clear(OUTAGE_KEY)
        self.alerts.emit(
            key=OUTAGE_KEY,
            ts=self._now(),
            kind=AlertKind.BROKER,
            severity=Severity.CRITICAL,
            message=f"IB API at {cfg.host}:{cfg.port} unavailable: {why}; reconnecting "
            f"every <= {cfg.backoff_max_s:g} s. MQTT and the journal keep running; no order "
            "can be placed until it is back",
        )

    def _end_outage(self) -> None:
        """End the outage episode, if any: one info ``broker`` *restored* alert."""
        if self._outage_since is None:
            return
        down_s = self.clock.monotonic() - self._outage_since
        self._outage_since = None
        self.alerts.clear(OUTAGE_KEY)
        self.alerts.emit(
            key=RESTORED_KEY,
            ts=self._now(),
            kind=AlertKind.BROKER,
            severity=Severity.INFO,
            message=f"IB API link restored after {down_s:.0f} s (client id {self.client_id}, "
            f"account {self.account or '?'})",
        )
        self.alerts.clear(RESTORED_KEY)
        log.info("ib_restored", down_s=round(down_s, 1))

    async def connect_once(self) -> None:
        """One connect attempt: socket, handshake, start-up sync, account check.

        Raises:
            BrokerUnavailable: refused, timed out, dropped, or client id in use (the next
                attempt then uses the next id).
            ConfigError: the configured account is not managed by this login.
        """
        cfg = self.config
        self.state = LinkState.CONNECTING
        self._disconnected.clear()
        self._connect_failed.clear()
        self._connect_failure = ""
        self._farm_broken = False
        try:
            async with asyncio.TaskGroup() as tg:
                connect = tg.create_task(
                    self.ib.connectAsync(
                        cfg.host,
                        cfg.port,
                        clientId=self.client_id,
                        timeout=cfg.connect_timeout_s,
                        readonly=cfg.read_only,
                        account=cfg.account,
                    ),
                    name="ib.connect",
                )
                watch = tg.create_task(self._watch_connect_failure(), name="ib.connect_watch")
                await connect
                watch.cancel()
        except* _CONNECT_ERRORS as group:
            self.state = LinkState.DISCONNECTED
            self._drop()
            first = group.exceptions[0]
            if isinstance(first, BrokerUnavailable):
                raise first from None
            raise BrokerUnavailable(
                f"IB connect to {cfg.host}:{cfg.port} failed: {first!r}"
            ) from first
        managed = list(self.ib.managedAccounts())
        if cfg.account and cfg.account not in managed:
            self._drop()
            raise ConfigError(
                f"IB account {cfg.account!r} is not managed by this login ({managed})",
                key="ib.account",
            )
        self.account = cfg.account or (managed[0] if managed else "")
        self.state = LinkState.CONNECTED
        self.connects += 1
        log.info("ib_connected", host=cfg.host, port=cfg.port, client_id=self.client_id)

    async def close(self) -> None:
        """Disconnect (idempotent); the run loop must be cancelled first."""
        self._closing = True
        self._ready.clear()
        self.ib.disconnect()
        self.state = LinkState.DISCONNECTED
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ internals
    async def _watch_connect_failure(self) -> None:
        await self._connect_failed.wait()
        raise BrokerUnavailable(self._connect_failure or "IB closed the connection")

    async def _connect_with_retry(self) -> None:
        cfg = self.config

        def before_sleep(state: RetryCallState) -> None:
            self.connect_failures += 1
            exc = state.outcome.exception() if state.outcome else None
            sleep_s = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "ib_connect_failed",
                attempt=state.attempt_number,
                retry_in_s=round(sleep_s, 2),
                error=str(exc),
            )
            self._begin_outage(str(exc))

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential_jitter(
                multiplier=cfg.backoff_initial_s,
                max=cfg.backoff_max_s,
                jitter=cfg.backoff_initial_s,
            ),
            stop=stop_after_delay(cfg.give_up_after_s) if cfg.give_up_after_s else stop_never,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self.connect_once()

    def _drop(self) -> None:
        self._ready.clear()
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.ib.disconnect()

    def _now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------ eventkit callbacks (sync)
    def _on_api_error(self, msg: str) -> None:
        if self.state == LinkState.CONNECTING:
            self._connect_failure = self._connect_failure or str(msg)
            self._connect_failed.set()

    def _on_disconnected(self) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        self.state = LinkState.DISCONNECTED
        self._disconnected.set()
        if was_ready and not self._closing:
            log.warning("ib_disconnected")
            self._begin_outage("the API connection was lost")

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        self.errors_seen.append((req_id, code, message))
        action = codes.classify(code)
        what = str(getattr(contract, "localSymbol", "") or getattr(contract, "symbol", ""))
        handler = self._handlers.get(action)
        if handler is not None:
            handler(code, message, what)
        elif action is codes.ErrorAction.INFO:
            log.debug("ib_info", code=code, message=message)
        elif action is codes.ErrorAction.REQUEST:
            log.warning("ib_request_error", req_id=req_id, code=code, message=message)
        else:
            log.warning("ib_error", req_id=req_id, code=code, message=message)

    def _client_id_in_use(self, code: int, _message: str, _what: str) -> None:
        old = self.client_id
        if self.client_id - self.config.client_id < self.config.client_id_max_bumps:
            self.client_id += 1
        log.warning("ib_client_id_in_use", client_id=old, next_client_id=self.client_id)
        self._connect_failure = f"IB {code}: client id {old} in use"
        self._connect_failed.set()

    def _degraded(self, code: int, message: str, _what: str) -> None:
        self.state = LinkState.DEGRADED
        log.warning("ib_link_degraded", code=code, message=message)
        self.alerts.emit(
            key="broker:degraded",
            ts=self._now(),
            kind=AlertKind.BROKER,
            severity=Severity.WARNING,
            message=f"IB {code}: {message}",
        )

    def _restored(self, code: int, _message: str, _what: str) -> None:
        if self.state == LinkState.DEGRADED:
            self.state = LinkState.CONNECTED
        self.alerts.clear("broker:degraded")
        log.info("ib_link_restored", code=code)
        self.resubscribe.set()

    def _farm_broke(self, code: int, message: str, _what: str) -> None:
        self._farm_broken = True
        log.warning("ib_farm_broken", code=code, message=message)

    def _farm_ok(self, code: int, message: str, _what: str) -> None:
        if self._farm_broken and code == codes.MARKET_DATA_FARM_OK:
            self._farm_broken = False
            self.resubscribe.set()
            log.info("ib_farm_restored", code=code)
        else:
            log.debug("ib_info", code=code, message=message)

    def _not_subscribed(self, code: int, message: str, what: str) -> None:
        log.warning("ib_market_data_not_subscribed", code=code, contract=what)
        self.alerts.emit(
            key=f"broker:{code}:{what}",
            ts=self._now(),
            kind=AlertKind.BROKER,
            severity=Severity.WARNING,
            message=f"IB {code} for {what or 'a contract'}: {message}",
        )
