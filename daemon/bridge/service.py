"""The bridge's shell: MQTT → outbox → one delivery worker per target.

```
MQTT (QoS 1, persistent session)          [feed task]
  → parse_mqtt → Notice | StatusReport → DaemonWatch → Notices
  → routes(target) → outbox.add (one transaction)  → PUBACK            (at least once)
per target                                [worker task "bridge.target.<name>"]
  oldest pending row → quiet hours? hold : over the rate limit? suppress
  → Sender.send with tenacity backoff until it succeeds or the row is max_age_s old
  → sent | dropped;  a free rate-limit slot with suppressed rows → one digest
watch tick (1 s)                          [task "bridge.watch"]  silence → daemon notices
```

Every delivery decision is taken from the outbox, so a restart resumes exactly where
the last process stopped: rows already ``sent`` are never sent again (dedup key per
target), rows ``pending`` are delivered in their original order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from daemon.bridge.messages import (
    DIGEST,
    TEST,
    Notice,
    Rejected,
    StatusReport,
    parse_mqtt,
)
from daemon.bridge.policy import (
    TargetRule,
    digest_notice,
    has_slot,
    in_quiet_hours,
    is_critical,
    routes,
)
from daemon.bridge.ports import DeliveryFailed, Feed, Outbox, OutboxRowLike, Sender
from daemon.bridge.watch import DaemonWatch

log = structlog.get_logger(__name__)

IDLE_POLL_S = 1.0
"""A worker with nothing to do re-checks quiet hours and the digest this often."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A configured destination: routing rule + Apprise URL (a secret)."""

    rule: TargetRule
    url: str

    @property
    def name(self) -> str:
        """The target's name (``[[targets]] name``)."""
        return self.rule.name


@dataclass(slots=True)
class BridgeStats:
    """Counters read by the metrics collector (monotonic, since start)."""

    received: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    digests: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def bump(counter: dict[str, int], key: str, n: int = 1) -> None:
        """``counter[key] += n``."""
        counter[key] = counter.get(key, 0) + n


def _now() -> datetime:
    return datetime.now(UTC)


class Bridge:
    """The running bridge.

    Args:
        targets: destinations, in config order.
        outbox: persistent queue.
        sender: delivers one message to one URL.
        feed: the MQTT subscription.
        watch: daemon silence detector.
        prefix: ``mqtt.topic_prefix``.
        link_base_url: ``bridge.link_base_url``.
        max_age_s: undelivered messages older than this are dropped.
        retry_initial_s: first retry delay (doubles, with jitter).
        retry_max_s: longest retry delay.
        clock: wall clock (UTC); injectable for tests.
    """

    def __init__(
        self,
        *,
        targets: Sequence[Target],
        outbox: Outbox,
        sender: Sender,
        feed: Feed,
        watch: DaemonWatch,
        prefix: str,
        link_base_url: str = "",
        max_age_s: float = 86_400.0,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.targets = tuple(targets)
        self.outbox = outbox
        self.sender = sender
        self.feed = feed
        self.watch = watch
        self.prefix = prefix
        self.link_base_url = link_base_url
        self.max_age_s = max_age_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.stats = BridgeStats()
        self._wake = {t.name: asyncio.Event() for t in self.targets}

    # ------------------------------------------------------------------ intake

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        """Route ``notices`` and store them in the outbox (one transaction), then wake."""
        items = [(t.name, n) for n in notices for t in self.targets if routes(t.rule, n)]
        if not items:
            return
        now_s = self.clock().timestamp()
        added = await asyncio.to_thread(self.outbox.add, items, now_s)
        for name in set(added):
            self._wake[name].set()
        if len(added) < len(items):
            log.info("bridge_duplicate_ignored", count=len(items) - len(added))

    async def on_message(self, topic: str, payload: bytes) -> None:
        """Feed handler: parse, watch, route, persist. Returns when it is safe to PUBACK."""
        now = self.clock()
        incoming = parse_mqtt(
            topic, payload, prefix=self.prefix, now=now, link_base_url=self.link_base_url
        )
        match incoming:
            case None:
                return
            case Rejected(reason=reason):
                BridgeStats.bump(self.stats.rejected, "unreadable")
                log.warning("bridge_message_rejected", topic=topic, reason=reason)
            case StatusReport():
                BridgeStats.bump(self.stats.received, "status")
                await self.enqueue(self.watch.on_status(incoming, now))
            case Notice():
                BridgeStats.bump(self.stats.received, incoming.kind)
                log.info(
                    "bridge_message_received",
                    kind=incoming.kind,
                    decision_id=incoming.dedup_key,
                    title=incoming.title,
                )
                await self.enqueue([incoming])

    # ------------------------------------------------------------------ tasks

    async def run_watch(self, tick_s: float = 1.0) -> None:
        """Tick the daemon watch (silence detection) forever."""
        while True:
            await self.enqueue(self.watch.tick(self.clock()))
            await asyncio.sleep(tick_s)

    async def run_target(self, target: Target) -> None:
        """Deliver ``target``'s outbox rows forever, in order (see the module docstring)."""
        wake = self._wake[target.name]
        while True:
            if not await self._step(target):
                wake.clear()
                try:
                    async with asyncio.timeout(IDLE_POLL_S):
                        await wake.wait()
                except TimeoutError:
                    pass

    async def _step(self, target: Target) -> bool:
        """Do one unit of work for ``target``; False when there was nothing to do."""
        rule, name = target.rule, target.name
        now = self.clock()
        now_s = now.timestamp()
        quiet = in_quiet_hours(rule, now)
        if not quiet:
            released = await asyncio.to_thread(self.outbox.release_held, name)
            if released:
                log.info("bridge_quiet_hours_ended", target=name, released=released)
        sent = await asyncio.to_thread(
            self.outbox.sent_since, name, now_s - rule.rate_limit_window_s
        )
        slot = has_slot(rule, sent, now_s)
        if slot and not quiet:
            suppressed = await asyncio.to_thread(self.outbox.suppressed, name)
            if suppressed:
                await self._send_digest(target, suppressed, now)
                return True
        row = await asyncio.to_thread(self.outbox.next_pending, name)
        if row is None:
            return False
        notice = row.notice
        if now_s - row.created_at_s > self.max_age_s:
            await self._drop(target, row, "older than bridge.max_age_s before its first try")
            return True
        exempt = is_critical(notice.severity) or notice.kind in {DIGEST, TEST}
        if not exempt and quiet:
            await asyncio.to_thread(self.outbox.set_state, row.id, "held", now_s)
            log.info("bridge_message_held", target=name, title=notice.title)
            return True
        if not exempt and not slot:
            await asyncio.to_thread(self.outbox.set_state, row.id, "suppressed", now_s)
            log.info("bridge_message_suppressed", target=name, title=notice.title)
            return True
        await self._deliver(target, row)
        return True

    async def _send_digest(
        self, target: Target, suppressed: Sequence[OutboxRowLike], now: datetime
    ) -> None:
        digest = digest_notice(target.name, [(r.id, r.notice) for r in suppressed], now)
        row_id = await asyncio.to_thread(
            self.outbox.add_digest,
            target.name,
            digest,
            [r.id for r in suppressed],
            now.timestamp(),
        )
        BridgeStats.bump(self.stats.digests, target.name)
        log.info("bridge_digest", target=target.name, covered=len(suppressed))
        row = await asyncio.to_thread(self.outbox.row, row_id)
        if row is not None:
            await self._deliver(target, row)

    async def _drop(self, target: Target, row: OutboxRowLike, why: str) -> None:
        await asyncio.to_thread(
            self.outbox.set_state, row.id, "dropped", self.clock().timestamp(), error=why
        )
        BridgeStats.bump(self.stats.dropped, target.name)
        log.error(
            "bridge_message_dropped",
            target=target.name,
            title=row.notice.title,
            dedup_key=row.notice.dedup_key,
            age_s=round(self.clock().timestamp() - row.created_at_s),
            reason=why,
        )

    async def _deliver(self, target: Target, row: OutboxRowLike) -> None:
        """Send one row, retrying with backoff until sent or too old (then dropped)."""
        name = target.name

        def too_old(_state: RetryCallState) -> bool:
            return self.clock().timestamp() - row.created_at_s > self.max_age_s

        def on_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "bridge_delivery_failed",
                target=name,
                title=row.notice.title,
                attempt=state.attempt_number,
                retry_in_s=round(state.upcoming_sleep, 1),
                error=str(exc),
            )

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(DeliveryFailed),
                wait=wait_exponential_jitter(
                    multiplier=self.retry_initial_s,
                    max=self.retry_max_s,
                    jitter=self.retry_initial_s,
                ),
                stop=too_old,
                before_sleep=on_retry,
                reraise=True,
            ):
                with attempt:
                    try:
                        await self.sender.send(target.url, row.notice)
                    except DeliveryFailed as exc:
                        BridgeStats.bump(self.stats.failed, name)
                        await asyncio.to_thread(self.outbox.record_failure, row.id, str(exc))
                        raise
        except DeliveryFailed as exc:
            await self._drop(target, row, f"not delivered within bridge.max_age_s: {exc}")
            return
        await asyncio.to_thread(self.outbox.set_state, row.id, "sent", self.clock().timestamp())
        BridgeStats.bump(self.stats.delivered, name)
        log.info(
            "bridge_delivered",
            target=name,
            kind=row.notice.kind,
            dedup_key=row.notice.dedup_key,
            title=row.notice.title,
        )

    async def run(self) -> None:
        """Run the feed, the watch and one worker per target until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.feed.run(self.on_message), name="bridge.feed")
            tg.create_task(self.run_watch(), name="bridge.watch")
            for target in self.targets:
                tg.create_task(self.run_target(target), name=f"bridge.target.{target.name}")


async def send_test(
    targets: Sequence[Target], sender: Sender, *, now: datetime | None = None
) -> list[tuple[str, str | None]]:
    """``alvhd bridge --test``: one test message to every target, no outbox, no retry.

    Returns:
        ``(target name, None)`` when delivered, ``(name, reason)`` when it failed.
    """
    when = now or _now()
    notice = Notice(
        dedup_key=f"test:{when.isoformat()}",
        instance="test",
        kind=TEST,
        severity="info",
        title="alvhd bridge test — this target works",
        body=f"• sent by `alvhd bridge --test` at {when:%Y-%m-%d %H:%M:%S} UTC",
        click_url=None,
        ts=when,
    )
    results: list[tuple[str, str | None]] = []
    for target in targets:
        started = time.monotonic()
        try:
            await sender.send(target.url, notice)
        except DeliveryFailed as exc:
            results.append((target.name, str(exc)))
        else:
            results.append((target.name, None))
        log.debug("bridge_test_sent", target=target.name, took_s=time.monotonic() - started)
    return results
