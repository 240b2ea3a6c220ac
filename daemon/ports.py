"""Ports: the Protocols the shell talks to (STYLE.md §2.2).

Ports take and return core types only and raise only ``daemon.errors`` types; vendor
objects (ib_async, aiomqtt, sqlite3) never cross them. Not ``@runtime_checkable``:
conformance is checked statically (``tests/test_port_conformance.py`` under mypy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from daemon.core.model import Alert, Bar, Decision, Fill, MarketEvent, ProposedOrder, Symbol


class MarketDataSource(Protocol):
    """Streams market events; the IBKR adapter, the replay and the simulator implement it."""

    def events(self) -> AsyncIterator[MarketEvent]:
        """Yield quotes and session closes in time order.

        Live sources conflate per symbol (latest value wins) and end only on shutdown;
        replay and simulator sources end when their data ends.

        Raises:
            BrokerUnavailable: the live feed is down beyond its retry budget.
            DataError: the replay input is unusable as a whole.
        """
        ...

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        """Return up to ``days`` daily bars before the first event, oldest first (warm-up).

        Raises:
            DataError: a required series has no history at all.
            BrokerRejected: the broker refused the request.
        """
        ...

    def rejected_count(self) -> int:
        """Bad inputs refused so far (NaN, ≤ 0, malformed rows, delayed data...)."""
        ...


@runtime_checkable
class ResumableSource(Protocol):
    """A finite source (replay, simulator) that a restart can resume after a session.

    A restart restores the engine from the journal's snapshot; the sessions the snapshot
    already holds must not be fed again (each would be a ``close_repeated`` alert with a
    new id, published and sent to phones: 253 of them after one killed replay).
    """

    def resume_after(self, day: date) -> int:
        """Stream only the sessions after ``day`` from now on.

        Returns:
            How many sessions were dropped (0 when ``day`` is before the first).
        """
        ...


class OrderSink(Protocol):
    """Receives proposed orders: publishes them; the IBKR sink may also place paper orders."""

    async def submit(self, order: ProposedOrder) -> None:
        """Publish or place ``order``; idempotent on ``order.order_ref``.

        Raises:
            PublishFailed: transient; the pipeline retries.
            BrokerRejected: the broker refused the order (alerted, not retried).
        """
        ...


class AlertSink(Protocol):
    """Receives operator alerts."""

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` (QoS 1 on MQTT).

        Raises:
            PublishFailed: transient; the pipeline retries.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """One journal row: a decision and whether it has been published.

    Attributes:
        seq: insertion order (assigned by the journal; 0 before insert).
        decision: the decision.
        published: True once every sink has acknowledged it.
    """

    seq: int
    decision: Decision
    published: bool


class Journal(Protocol):
    """Write-ahead journal of decisions (SQLite WAL in production)."""

    async def append(self, decision: Decision) -> bool:
        """Store ``decision`` before it is published.

        Returns:
            False when a decision with the same ``decision_id`` is already stored (a replay
            of the same inputs after a restart): the caller must not publish it again.
        """
        ...

    async def mark_published(self, decision_id: str) -> None:
        """Record that ``decision_id`` was delivered to every sink."""
        ...

    async def unpublished(self) -> Sequence[JournalRecord]:
        """Decisions stored but not yet published (to re-send after a restart), oldest first."""
        ...

    async def load_snapshot(self) -> bytes | None:
        """The engine snapshot saved last (``Engine.snapshot()`` bytes), if any."""
        ...

    async def save_snapshot(self, snapshot: bytes) -> None:
        """Persist the engine snapshot (after each session close)."""
        ...


class Clock(Protocol):
    """Wall and monotonic time; the only place the shell reads time."""

    def now(self) -> datetime:
        """Tz-aware UTC now."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds."""
        ...


class FillSource(Protocol):
    """Broker executions (IBKR); replay/sim assume proposals fill at their limit."""

    def fills(self) -> AsyncIterator[Fill]:
        """Yield fills as they arrive; ends on shutdown."""
        ...
