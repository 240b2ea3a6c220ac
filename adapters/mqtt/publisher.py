"""MQTT publisher: the ``AlertSink`` and ``OrderSink`` of alvhd, plus retained state.

Connection model (aiomqtt 2.5):

- ``run()`` is a long-running task (started by the supervisor) that owns the reconnect
  loop: connect with a Last Will (retained ``offline`` on the status topic), publish the
  retained ``online`` status, wait until the connection drops, back off, reconnect.
- The live connection is kept on the publisher object, not in ``run()``'s frame: when
  the supervisor cancels ``run()`` at shutdown the session stays open so the pipeline
  can drain its outbox and ``aclose()`` can publish the retained ``offline`` and
  disconnect cleanly. (A plain ``async with Client`` inside ``run()`` would disconnect at
  cancellation, before the drain.) A connection lost *after* ``run()`` stopped is not
  re-established; undelivered decisions stay unpublished in the journal and are
  re-sent by the next start.
- Reconnects retry forever (tenacity, exponential backoff with jitter, capped at
  ``reconnect_max_s``, 2 s by default), so delivery resumes within a few seconds of the
  broker's return however long the outage was.
- ``run_status()`` (task ``mqtt.status``) keeps the retained ``status`` current: it is
  re-published at once when the health reasons change (``health(): Sequence[str]``,
  injected by the composition root) and every ``status_every_s`` as a heartbeat.
- Last Will: MQTT fixes a Will's payload when a client connects, so a Will set on the
  publishing session would carry the connect time forever. The Will lives instead on a
  small second session, the *will keeper* (client id ``<id>-will-0``/``-1``), which
  publishes nothing; it is re-armed with every heartbeat (a new keeper with a fresh
  ``ts`` connects, then the old one disconnects cleanly, which makes the broker discard
  its Will). When the process dies the broker publishes the current keeper's Will:
  ``offline``, ``clean_stop: false``, ``ts`` = last seen alive (at most
  ``status_every_s`` earlier), ``online_since`` = when the session began. ``aclose()``
  publishes ``offline`` with ``clean_stop: true`` and retires the keeper cleanly.
- ``run_signals()`` (task ``mqtt.signals``) publishes the latest signal readings
  (retained, QoS 0) handed over by ``offer_signals`` at most every ``signals_every_s``;
  it never blocks the caller and skips while the broker is away.
- ``send``/``submit``/``publish_*`` wait up to ``connect_wait_s`` for a connection, then
  publish at QoS 1. ``aiomqtt.MqttError`` (and a missing connection) are translated to
  ``daemon.errors.PublishFailed`` here, so the pipeline's retry policy applies.
- Sends are idempotent per ``decision_id`` within the process (a retry after a lost
  PUBACK may still deliver twice: MQTT QoS 1 is at-least-once; consumers dedup on
  ``decision_id``).

Credentials are passed in as plain strings by the composition root and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import aiomqtt
import paho.mqtt.client as mqtt
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)

from adapters.mqtt.payloads import (
    LayerChangePayload,
    LayerPayload,
    MarketPayload,
    OrderStatusPayload,
    QuotePayload,
    ReadingPayload,
    SignalsPayload,
    StatusPayload,
    decision_to_json,
)
from adapters.mqtt.topics import QOS_EVENT, QOS_SIGNALS, QOS_STATE, Topics
from daemon.core.model import (
    Alert,
    Layer,
    LayerChange,
    OrderStatusReport,
    ProposedOrder,
    Quote,
    SignalReading,
    Symbol,
)
from daemon.errors import PublishFailed
from daemon.ports import Clock

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = structlog.get_logger(__name__)

_SENT_MEMORY = 10_000
"""How many delivered decision ids are remembered for idempotence."""


_PENDING_CALLS_WARN = 40
"""Unacknowledged publish calls on one session above which aiomqtt logs a warning."""


def _cancelling() -> int:
    """Pending cancellation requests of the current task (0 outside a task)."""
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()


def _reraise_lost_cancel(since: int = 0) -> None:
    """Re-raise a cancellation that a library call swallowed.

    On Python 3.11, ``asyncio.wait_for`` (which aiomqtt uses for CONNACK, PUBACK and
    DISCONNECT) can swallow a ``cancel()`` that lands just as the awaited future
    completes. The supervisor cancels each task once at shutdown; a loop that lost that
    cancellation would run forever and the process would never stop (seen under load:
    SIGTERM during a will-keeper re-arm). ``Task.cancelling()`` still counts the request.

    Args:
        since: the count of :func:`_cancelling` before the library call; only a request
            made after it is re-raised. A shutdown step that runs in a task already being
            cancelled (the supervisor's cleanup after a crash) passes the count it started
            with, so its own publishes (the drain) are not mistaken for a lost cancel.

    Raises:
        asyncio.CancelledError: the current task was asked to stop.
    """
    if _cancelling() > since:
        raise asyncio.CancelledError


def _settle_disconnect(client: aiomqtt.Client) -> None:
    """Mark a closed client's "unexpected disconnection" error as seen.

    When the broker vanishes while nobody iterates ``client.messages`` (at shutdown the
    ``run`` task is already cancelled; a terminal's Ctrl-C kills the demo's mosquitto in
    the same breath), aiomqtt stores ``MqttCodeError('Unexpected disconnection')`` in a
    future that its ``__aexit__`` then skips, and asyncio prints "Future exception was
    never retrieved" at exit. The disconnection is already handled here (logged, and
    the undelivered stay in the journal), so the stored error is read and dropped.
    """
    disconnected: object = getattr(client, "_disconnected", None)  # aiomqtt 2.x internal
    if not isinstance(disconnected, asyncio.Future):
        return
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()


def _disable_nagle(client: aiomqtt.Client) -> None:
    """Send each MQTT packet at once (``TCP_NODELAY``) on ``client``'s socket.

    Issue 9: a burst of QoS 1 publishes in flight together is many small writes on one
    socket; with Nagle's algorithm a write may wait for the ACK of the previous segment,
    which a delayed ACK holds back up to ~40 ms (seen as 40 ms PUBACK round trips in a
    10-message burst when the broker too had Nagle on; the bundled broker sets
    ``set_tcp_nodelay``, see ``adapters.mqtt.embedded``). paho does not set the option and
    aiomqtt has no setting for it, so the socket-open callback that aiomqtt installs on
    its paho client (``_client``, an aiomqtt 2.x internal) is wrapped to set it first. A
    socket refusing the option (not TCP) is left as it is.
    """
    paho_client = client._client  # aiomqtt 2.x internal: no public hook
    opened = paho_client.on_socket_open

    def on_socket_open(paho: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        setsockopt = getattr(sock, "setsockopt", None)
        if setsockopt is not None:
            with contextlib.suppress(OSError):
                setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if opened is not None:
            opened(paho, userdata, sock)

    paho_client.on_socket_open = on_socket_open


_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)
"""Linux's ``TCP_CORK`` (None elsewhere: the packets then leave as paho writes them)."""


def _write_in_loop_turn(client: aiomqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
    """Write what paho queued at the end of the current loop turn, in one TCP segment.

    Issue 9 (the burst's path to the wire): aiomqtt asks for paho's writes through
    ``call_soon_threadsafe(add_writer)`` (a self-pipe wake-up, then a poll for
    writability on a later turn, ~0.3-0.5 ms for a burst) and paho then sends each packet
    with its own ``send``. A publish made on the event loop's thread (every publish of
    the daemon once connected) instead schedules one ``loop_write`` with ``call_soon``:
    it runs after the callbacks already ready, so the sends a burst started in the same
    turn are all queued by then, and ``TCP_CORK`` around it makes their packets one
    segment (one wake-up of the broker). What the socket does not take at once (a full
    send buffer), and anything paho asks from another thread (the connect runs in an
    executor), goes through aiomqtt's writer as before. An error of the write ends the
    session as aiomqtt's writer would (its ``_disconnected`` future, an aiomqtt 2.x
    internal like the hook itself: ``_client.on_socket_register_write``).
    """
    paho_client = client._client  # aiomqtt 2.x internal: no public hook
    register_via_aiomqtt = paho_client.on_socket_register_write
    if register_via_aiomqtt is None:
        return

    def flush(paho: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        if paho.socket() is None:  # the session ended before this turn's end
            return
        setsockopt = getattr(sock, "setsockopt", None)
        corked = False
        if setsockopt is not None and _TCP_CORK is not None:
            with contextlib.suppress(OSError):
                setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1)
                corked = True
        try:
            paho.loop_write()
        except Exception as exc:  # noqa: BLE001 - as aiomqtt's writer: the session ends
            disconnected: object = getattr(client, "_disconnected", None)
            if isinstance(disconnected, asyncio.Future) and not disconnected.done():
                disconnected.set_exception(exc)
            return
        finally:
            if corked and setsockopt is not None:
                with contextlib.suppress(OSError):
                    setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 0)
        if paho.want_write() and paho.socket() is not None:  # send buffer full: wait
            register_via_aiomqtt(paho, userdata, sock)

    def on_register_write(paho: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(flush, paho, userdata, sock)
        else:
            register_via_aiomqtt(paho, userdata, sock)

    paho_client.on_socket_register_write = on_register_write


async def _publish_acked(
    client: aiomqtt.Client, topic: str, payload: str, *, qos: int, retain: bool
) -> None:
    """``client.publish`` without its per-call task: publish and wait for the broker's ack.

    Issue 9 (the burst's sends): aiomqtt's ``publish`` waits for the PUBACK with
    ``asyncio.wait_for`` on an ``Event.wait()`` coroutine, which on Python 3.11 wraps it
    in a second task per message (plus a timer). This does what it does -- paho's
    ``publish``, the confirmation ``Event`` registered in aiomqtt's
    ``_pending_publishes`` under the message id (aiomqtt's ``on_publish`` sets it), the
    wait bounded by the client's ``timeout`` (``op_timeout_s``) -- with
    ``asyncio.timeout`` around the wait in the caller's own task. QoS 0 completes at
    once, as in aiomqtt. ``_pending_publishes`` is an aiomqtt 2.x internal, like the
    hooks above; without it (another aiomqtt) the library's ``publish`` is used.

    Raises:
        aiomqtt.MqttCodeError: paho refused the message (not connected, queue full).
        aiomqtt.MqttError: no acknowledgement within the client's timeout.
    """
    pending: object = getattr(client, "_pending_publishes", None)  # aiomqtt 2.x internal
    if not isinstance(pending, dict):
        await client.publish(topic, payload, qos=qos, retain=retain)
        return
    info = client._client.publish(topic, payload, qos, retain)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        disconnected: object = getattr(client, "_disconnected", None)
        if (
            isinstance(disconnected, asyncio.Future)
            and disconnected.done()
            and not disconnected.cancelled()
            and disconnected.exception() is not None
        ):
            raise aiomqtt.MqttCodeError(
                info.rc, "Could not publish message"
            ) from disconnected.exception()
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
    if info.is_published():
        return
    mid = info.mid
    if mid in pending:
        raise aiomqtt.MqttError(f'There already exists a pending call for message ID "{mid}"')
    confirmation = asyncio.Event()
    pending[mid] = confirmation
    timeout_s = client.timeout
    try:
        async with asyncio.timeout(None if timeout_s == math.inf else timeout_s):
            await confirmation.wait()
    except TimeoutError:
        raise aiomqtt.MqttError("Operation timed out") from None
    finally:
        if pending.get(mid) is confirmation:
            del pending[mid]


@dataclass(frozen=True, slots=True)
class _Signals:
    """One evaluation's readings waiting for ``run_signals``."""

    readings: tuple[SignalReading, ...]
    session_date: date
    is_provisional: bool
    ts: datetime


class MqttPublisher:
    """Publishes alerts, proposed orders and retained state to an MQTT broker.

    Implements the ``AlertSink`` and ``OrderSink`` ports.

    Args:
        hostname: broker host.
        port: broker TCP port.
        topics: topic builder of this instance.
        clock: time source for status/state timestamps.
        mode: ``paper`` or ``live`` (shown in the status payload).
        source: market data source name (``ibkr``, ``replay``, ``sim``), for the status.
        version: alvhd version, for the status.
        identifier: MQTT client id; must be unique per broker (default
            ``alvhd-<instance>``): a second client with the same id evicts the first.
        username: broker user, if the broker requires one.
        password: broker password (never logged).
        tls_context: TLS settings, if the broker uses TLS.
        keepalive_s: MQTT keepalive; the broker fires the Last Will after ~1.5× this
            without traffic from a dead client.
        reconnect_min_s: first reconnect delay; doubles up to ``reconnect_max_s``.
        reconnect_max_s: longest reconnect delay (plus up to ``reconnect_min_s`` jitter).
        connect_wait_s: how long a send waits for a (re)connection before failing.
        op_timeout_s: timeout of CONNACK and of each QoS 1 PUBACK.
        health: returns the current degradation reasons (empty: healthy); shown in
            ``status`` as ``health`` and ``reasons``. None: always healthy.
        status_every_s: heartbeat period of the retained ``status``, seconds.
        status_poll_s: how often ``run_status`` looks at ``health()``, seconds.
        signals_every_s: least time between two ``signals`` publications, seconds.
    """

    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        topics: Topics,
        clock: Clock,
        mode: Literal["paper", "live"],
        source: str,
        version: str,
        identifier: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        keepalive_s: int = 30,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 2.0,
        connect_wait_s: float = 5.0,
        op_timeout_s: float = 10.0,
        health: Callable[[], Sequence[str]] | None = None,
        quote_counts: Callable[[], Mapping[str, Mapping[str, int]]] | None = None,
        status_every_s: float = 30.0,
        status_poll_s: float = 1.0,
        signals_every_s: float = 1.0,
    ) -> None:
        self._hostname = hostname
        self._port = port
        self._topics = topics
        self._clock = clock
        self._mode: Literal["paper", "live"] = mode
        self._source = source
        self._version = version
        self._identifier = identifier or f"alvhd-{topics.instance.replace('/', '-')}"
        self._username = username
        self._password = password
        self._tls_context = tls_context
        self._keepalive_s = keepalive_s
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._connect_wait_s = connect_wait_s
        self._op_timeout_s = op_timeout_s
        self._health = health
        self._quote_counts = quote_counts
        self._status_every_s = status_every_s
        self._status_poll_s = status_poll_s
        self._signals_every_s = signals_every_s
        self._reasons: tuple[str, ...] = ()
        self._online_since: datetime | None = None
        self._signals: _Signals | None = None
        self._signals_sent: _Signals | None = None
        self._signals_ready = asyncio.Event()
        self._will_keeper: tuple[aiomqtt.Client, AsyncExitStack] | None = None
        self._will_seq = 0

        self._client: aiomqtt.Client | None = None
        self._stack: AsyncExitStack | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._retained_layers: str | None = None
        self._connections = 0
        self._source_done = False

    # ------------------------------------------------------------------ properties

    @property
    def topics(self) -> Topics:
        """The topic builder."""
        return self._topics

    @property
    def is_connected(self) -> bool:
        """Whether a broker session is up right now."""
        return self._client is not None

    @property
    def connections(self) -> int:
        """Successful connections so far (1 + reconnects)."""
        return self._connections

    # ------------------------------------------------------------------ connection

    @property
    def reasons(self) -> tuple[str, ...]:
        """The degradation reasons last shown in ``status`` (empty: healthy)."""
        return self._reasons

    def _current_reasons(self) -> tuple[str, ...]:
        return tuple(sorted(set(self._health()))) if self._health is not None else ()

    def _status_json(self, *, online: bool, clean_stop: bool | None = None) -> str:
        now = self._clock.now()
        if online:
            self._reasons = self._current_reasons()
        return StatusPayload(
            state="online" if online else "offline",
            ts=now,
            mode=self._mode,
            source=self._source,
            version=self._version,
            source_done=self._source_done,
            health="degraded" if self._reasons else "ok",
            reasons=self._reasons,
            clean_stop=None if online else clean_stop,
            online_since=self._online_since if online or clean_stop is False else None,
            quotes_rejected={} if self._quote_counts is None else self._quote_counts(),
        ).model_dump_json()

    async def _connect(self) -> aiomqtt.Client:
        """Open a session with the Last Will set and publish the retained ``online``.

        Raises:
            aiomqtt.MqttError: connection refused, CONNACK negative or timed out.
        """
        self._online_since = self._clock.now()
        client = self._new_client(self._identifier, will=None)
        stack = AsyncExitStack()
        await stack.enter_async_context(client)
        try:
            await self._arm_will()  # before ``online``: never online without a Will
            await client.publish(
                self._topics.status, self._status_json(online=True), qos=QOS_STATE, retain=True
            )
            if self._retained_layers is not None:
                # A broker restarted without persistence has lost the retained state.
                await client.publish(
                    self._topics.layers, self._retained_layers, qos=QOS_STATE, retain=True
                )
        except aiomqtt.MqttError:
            await self._close_stack(stack)
            _settle_disconnect(client)
            raise
        self._client = client
        self._stack = stack
        self._connections += 1
        self._connected.set()
        log.info(
            "mqtt_connected",
            host=self._hostname,
            port=self._port,
            client_id=self._identifier,
            connections=self._connections,
        )
        return client

    def _new_client(self, identifier: str, *, will: aiomqtt.Will | None) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self._hostname,
            self._port,
            identifier=identifier,
            username=self._username,
            password=self._password,
            will=will,
            keepalive=self._keepalive_s,
            timeout=self._op_timeout_s,
            tls_context=self._tls_context,
        )
        _disable_nagle(client)
        _write_in_loop_turn(client, asyncio.get_running_loop())
        # the pipeline keeps up to PUBLISH_WINDOW (16) decisions in flight, plus retained
        # state: aiomqtt's "pending publish calls" warning (default above 10) is for a
        # pile-up beyond that
        client.pending_calls_threshold = _PENDING_CALLS_WARN
        return client

    async def _arm_will(self) -> None:
        """Connect a will keeper whose Will says ``offline`` as of now; retire the old one.

        Raises:
            aiomqtt.MqttError: the keeper could not connect (the old one stays armed).
        """
        self._will_seq += 1
        will = aiomqtt.Will(
            topic=self._topics.status,
            payload=self._status_json(online=False, clean_stop=False),
            qos=QOS_STATE,
            retain=True,
        )
        keeper = self._new_client(f"{self._identifier}-will-{self._will_seq % 2}", will=will)
        stack = AsyncExitStack()
        await stack.enter_async_context(keeper)
        _reraise_lost_cancel()
        old, self._will_keeper = self._will_keeper, (keeper, stack)
        if old is not None:
            await self._close_stack(old[1])  # clean DISCONNECT: the broker drops its Will
            _settle_disconnect(old[0])

    async def _retire_will(self) -> None:
        """Disconnect the will keeper cleanly (its Will is discarded)."""
        old, self._will_keeper = self._will_keeper, None
        if old is not None:
            await self._close_stack(old[1])
            _settle_disconnect(old[0])

    @staticmethod
    async def _close_stack(stack: AsyncExitStack) -> None:
        """Leave the client context (graceful DISCONNECT if still connected)."""
        try:
            await stack.aclose()
        except aiomqtt.MqttError as exc:
            log.warning("mqtt_disconnect_failed", error=str(exc))

    async def _drop(self, client: aiomqtt.Client) -> None:
        """Forget ``client`` (if current) and close its context."""
        if self._client is not client:
            return
        stack = self._stack
        self._client = None
        self._stack = None
        self._connected.clear()
        if stack is not None:
            await self._close_stack(stack)
        _settle_disconnect(client)

    def _log_connect_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "mqtt_connect_failed",
            host=self._hostname,
            port=self._port,
            attempt=state.attempt_number,
            error=str(exc),
            retry_in_s=round(state.upcoming_sleep, 2),
        )

    async def _connect_forever(self) -> aiomqtt.Client:
        """Connect, retrying forever with capped exponential backoff and jitter."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(aiomqtt.MqttError),
            wait=wait_exponential_jitter(
                multiplier=self._reconnect_min_s,
                max=self._reconnect_max_s,
                jitter=self._reconnect_min_s,
            ),
            stop=stop_never,
            before_sleep=self._log_connect_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._connect()
        raise AssertionError("unreachable: stop_never")  # pragma: no cover

    async def run(self) -> None:
        """Keep a broker session up until ``aclose()``; reconnect with backoff, forever.

        Never raises for broker trouble (logged, retried). Cancelling it leaves the
        current session open for the shutdown drain; ``aclose()`` ends it.
        """
        while not self._closing:
            _reraise_lost_cancel()
            client = await self._connect_forever()
            try:
                # No subscriptions: the iterator only ends by raising on disconnect.
                async for _ in client.messages:
                    pass
            except aiomqtt.MqttError as exc:
                if not self._closing:
                    log.warning("mqtt_disconnected", error=str(exc))
            await self._drop(client)
            if not self._closing:
                await asyncio.sleep(self._reconnect_min_s)

    async def run_status(self) -> None:
        """Task ``mqtt.status``: keep the retained ``status`` current; never ends.

        Re-publishes at once when the health reasons change, and every
        ``status_every_s`` as a heartbeat. Skips (never waits) while disconnected: the
        next connection publishes the current status first.
        """
        loop = asyncio.get_running_loop()
        due = loop.time() + self._status_every_s
        while not self._closing:
            _reraise_lost_cancel()
            await asyncio.sleep(self._status_poll_s)
            reasons = self._current_reasons()
            if self._client is None or (reasons == self._reasons and loop.time() < due):
                continue
            if reasons != self._reasons:
                log.warning(
                    "health_changed", health="degraded" if reasons else "ok", reasons=list(reasons)
                )
            try:
                await self.publish_status(online=True)
                await self._arm_will()
            except (PublishFailed, aiomqtt.MqttError) as exc:
                log.info("status_publish_failed", error=str(exc))
                continue
            due = loop.time() + self._status_every_s

    def offer_signals(
        self,
        readings: Sequence[SignalReading],
        *,
        session_date: date,
        is_provisional: bool,
        ts: datetime,
    ) -> None:
        """Hand over the latest signal readings (never blocks; ``run_signals`` sends).

        Args:
            readings: the SPEC §3 readings of one evaluation.
            session_date: the session evaluated.
            is_provisional: intraday prices taken as the close.
            ts: when the evaluation ran (event time in replay/sim).
        """
        self._signals = _Signals(tuple(readings), session_date, is_provisional, ts)
        self._signals_ready.set()

    async def run_signals(self) -> None:
        """Task ``mqtt.signals``: publish the latest offered readings, rate-limited.

        At most one publication per ``signals_every_s``; readings offered while the
        broker is away are published after the reconnection (only the latest).
        """
        while not self._closing:
            _reraise_lost_cancel()
            await self._signals_ready.wait()
            self._signals_ready.clear()
            snapshot = self._signals
            if snapshot is None or snapshot is self._signals_sent:
                continue
            try:
                await self.publish_signals(
                    snapshot.readings,
                    session_date=snapshot.session_date,
                    is_provisional=snapshot.is_provisional,
                    ts=snapshot.ts,
                )
            except PublishFailed as exc:
                log.info("signals_publish_failed", error=str(exc))
                self._signals_ready.set()  # retry with the latest once connected
                await asyncio.sleep(self._signals_every_s)
                await self._connected.wait()
                continue
            self._signals_sent = snapshot
            await asyncio.sleep(self._signals_every_s)

    async def _session(self) -> aiomqtt.Client:
        """The current session, waiting up to ``connect_wait_s`` for one.

        Raises:
            PublishFailed: closed, or no session within ``connect_wait_s``.
        """
        if self._client is not None:
            return self._client
        if self._closing:
            raise PublishFailed("mqtt publisher is closed")
        try:
            async with asyncio.timeout(self._connect_wait_s):
                await self._connected.wait()
        except TimeoutError:
            raise PublishFailed(
                f"mqtt broker {self._hostname}:{self._port} not connected"
                f" after {self._connect_wait_s:g} s"
            ) from None
        return self._current()

    def _current(self) -> aiomqtt.Client:
        """The current session (after a wait: it may have dropped meanwhile).

        Raises:
            PublishFailed: no session.
        """
        if self._client is None:
            raise PublishFailed("mqtt session dropped or publisher closed")
        return self._client

    async def _publish(self, topic: str, payload: str, *, qos: int, retain: bool) -> None:
        """Publish once on the current session.

        Raises:
            PublishFailed: no session, or aiomqtt reported an error (incl. PUBACK timeout).
        """
        client = await self._session()
        before = _cancelling()
        try:
            await _publish_acked(client, topic, payload, qos=qos, retain=retain)
            _reraise_lost_cancel(before)
        except aiomqtt.MqttError as exc:
            raise PublishFailed(f"mqtt publish to {topic} failed: {exc}") from exc

    def _remember(self, decision_id: str) -> None:
        self._sent[decision_id] = None
        if len(self._sent) > _SENT_MEMORY:
            self._sent.popitem(last=False)

    # ------------------------------------------------------------------ ports

    async def send(self, alert: Alert) -> None:
        """Publish ``alert`` on ``alerts/<kind>`` at QoS 1 (once per ``decision_id``).

        Raises:
            PublishFailed: transient; retry later.
        """
        if alert.decision_id in self._sent:
            return
        payload = decision_to_json(alert)
        await self._publish(self._topics.alert(alert.kind), payload, qos=QOS_EVENT, retain=False)
        self._remember(alert.decision_id)

    async def submit(self, order: ProposedOrder) -> None:
        """Publish ``order`` on ``orders/proposed`` at QoS 1 (once per ``decision_id``).

        Raises:
            PublishFailed: transient; retry later.
        """
        if order.decision_id in self._sent:
            return
        payload = decision_to_json(order)
        await self._publish(self._topics.orders_proposed, payload, qos=QOS_EVENT, retain=False)
        self._remember(order.decision_id)

    async def publish_order_status(self, report: OrderStatusReport) -> None:
        """Publish a placed order's state change on ``orders/status`` (QoS 1, not retained).

        Raises:
            PublishFailed: transient; retry later.
        """
        payload = OrderStatusPayload.of(report).model_dump_json()
        await self._publish(self._topics.orders_status, payload, qos=QOS_EVENT, retain=False)

    # ------------------------------------------------------------------ retained state

    async def publish_layers(
        self, active_layers: Sequence[Layer], last_change: LayerChange | None
    ) -> None:
        """Publish the retained ladder state (active layers, last change).

        Args:
            active_layers: layers active after ``last_change``.
            last_change: the change that produced this state (None: initial state).

        Raises:
            PublishFailed: transient; retry later.
        """
        payload = LayerPayload(
            ts=self._clock.now() if last_change is None else last_change.ts,
            active_layers=tuple(sorted(active_layers)),
            last_change=None if last_change is None else LayerChangePayload.of(last_change),
            decision_id=None if last_change is None else last_change.decision_id,
        ).model_dump_json()
        self._retained_layers = payload
        await self._publish(self._topics.layers, payload, qos=QOS_STATE, retain=True)

    async def publish_signals(
        self,
        readings: Sequence[SignalReading],
        *,
        session_date: date,
        is_provisional: bool,
        ts: datetime,
    ) -> None:
        """Publish the retained latest signal readings (informational, QoS 0).

        Raises:
            PublishFailed: transient.
        """
        payload = SignalsPayload(
            ts=ts,
            session_date=session_date,
            is_provisional=is_provisional,
            readings=tuple(ReadingPayload.of(r) for r in readings),
        ).model_dump_json()
        await self._publish(self._topics.signals, payload, qos=QOS_SIGNALS, retain=True)

    async def publish_market(
        self, quotes: Mapping[Symbol, Quote], active_layers: Sequence[Layer], *, ts: datetime
    ) -> None:
        """Publish the retained latest quotes and active layers (informational, QoS 0).

        Raises:
            PublishFailed: transient.
        """
        payload = MarketPayload(
            ts=ts,
            quotes={s.value: QuotePayload.of(q) for s, q in sorted(quotes.items())},
            active_layers=tuple(sorted(active_layers)),
        ).model_dump_json()
        await self._publish(self._topics.market, payload, qos=QOS_SIGNALS, retain=True)

    async def publish_status(self, *, online: bool, source_done: bool | None = None) -> None:
        """Publish the retained status (``online`` / ``offline``).

        Args:
            online: the state to announce.
            source_done: if given, sets the ``source_done`` flag of this and every later
                status (also the Last Will of later reconnections).

        Raises:
            PublishFailed: transient.
        """
        if source_done is not None:
            self._source_done = source_done
        await self._publish(
            self._topics.status, self._status_json(online=online), qos=QOS_STATE, retain=True
        )

    async def mark_source_done(self) -> None:
        """Announce (retained ``online`` + ``source_done``) that a replay/sim finished.

        Fits ``Pipeline(on_finished=...)``.

        Raises:
            PublishFailed: transient.
        """
        await self.publish_status(online=True, source_done=True)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Publish the retained ``offline`` status and disconnect cleanly (idempotent).

        Stops ``run()``'s reconnect loop. If the broker is unreachable the previous
        session's Last Will already says ``offline``. Bounded by ``timeout_s``.
        """
        self._closing = True
        self._connected.set()  # wake senders waiting for a session; they see _closing
        self._signals_ready.set()
        client = self._client
        if client is None and self._will_keeper is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                if client is not None:
                    try:
                        await client.publish(
                            self._topics.status,
                            self._status_json(online=False, clean_stop=True),
                            qos=QOS_STATE,
                            retain=True,
                        )
                    except aiomqtt.MqttError as exc:
                        log.warning("mqtt_offline_publish_failed", error=str(exc))
                await self._retire_will()
                if client is not None:
                    await self._drop(client)
        except TimeoutError:
            log.warning("mqtt_close_timed_out", timeout_s=timeout_s)
        else:
            log.info("mqtt_closed", host=self._hostname, port=self._port)
