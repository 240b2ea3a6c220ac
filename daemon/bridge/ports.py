"""Ports of the bridge's shell.

Implemented in ``adapters/notify/``; wired by ``daemon.bridge.app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from daemon.bridge.messages import Notice
from daemon.errors import TransientError


class DeliveryFailed(TransientError):
    """A target did not accept a message: HTTP error, timeout, DNS (retried with backoff)."""


class Sender(Protocol):
    """Delivers one message to one target URL."""

    async def send(self, url: str, notice: Notice) -> None:
        """Deliver once.

        Raises:
            DeliveryFailed: not accepted (the reason is the message, secrets scrubbed).
        """
        ...


class OutboxRowLike(Protocol):
    """A stored message (see ``adapters.notify.outbox.OutboxRow``)."""

    @property
    def id(self) -> int:
        """Row id (increasing in arrival order)."""
        ...

    @property
    def notice(self) -> Notice:
        """The message."""
        ...

    @property
    def created_at_s(self) -> float:
        """When it was stored, epoch seconds."""
        ...


class Outbox(Protocol):
    """Persistent per-target queue with dedup; semantics in ``adapters.notify.outbox``."""

    def add(self, items: Iterable[tuple[str, Notice]], now_s: float) -> list[str]:
        """Store (target, notice) pairs at once; returns the targets that got a new row."""
        ...

    def next_pending(self, target: str) -> OutboxRowLike | None:
        """Oldest pending row of ``target``."""
        ...

    def suppressed(self, target: str) -> Sequence[OutboxRowLike]:
        """Rows over the rate limit, waiting for a digest."""
        ...

    def set_state(self, row_id: int, state: str, now_s: float, *, error: str | None = None) -> None:
        """Move a row to ``state``."""
        ...

    def record_failure(self, row_id: int, error: str) -> None:
        """Count a failed attempt."""
        ...

    def add_digest(self, target: str, digest: Notice, covered_ids: list[int], now_s: float) -> int:
        """Store a digest and mark the rows it covers; returns its row id."""
        ...

    def row(self, row_id: int) -> OutboxRowLike | None:
        """One row by id."""
        ...

    def release_held(self, target: str) -> int:
        """Held rows back to pending (quiet hours over)."""
        ...

    def sent_since(self, target: str, since_s: float) -> list[float]:
        """Delivery times after ``since_s``."""
        ...

    def depth(self) -> dict[tuple[str, str], int]:
        """Undelivered rows by (target, state)."""
        ...


MessageHandler = Callable[[str, bytes], Awaitable[None]]
"""``handler(topic, payload)``: persist what a message means; returns when it is safe to ack."""


class Feed(Protocol):
    """The MQTT subscription: calls the handler per message, acks (PUBACK) after it returns."""

    @property
    def is_connected(self) -> bool:
        """Whether the subscription is up."""
        ...

    async def run(self, handler: MessageHandler) -> None:
        """Subscribe and deliver messages until cancelled; reconnects by itself."""
        ...
