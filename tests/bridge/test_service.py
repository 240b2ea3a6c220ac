"""The bridge's shell with fakes: a recording sender, a real SQLite outbox, a test clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.notify.outbox import SqliteOutbox
from daemon.bridge.messages import Notice
from daemon.bridge.policy import TargetRule
from daemon.bridge.ports import DeliveryFailed, MessageHandler
from daemon.bridge.service import Bridge, Target
from daemon.bridge.watch import DaemonWatch

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class RecordingSender:
    """Accepts messages (records title per URL); fails the next ``fail`` attempts."""

    def __init__(self, clock: Clock, fail: int = 0, step_s: float = 0.0) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail
        self.clock = clock
        self.step_s = step_s

    async def send(self, url: str, notice: Notice) -> None:
        self.clock.now += timedelta(seconds=self.step_s)
        if self.fail > 0:
            self.fail -= 1
            raise DeliveryFailed("HTTP 503")
        self.sent.append((url, notice.title))


class IdleFeed:
    is_connected = True

    async def run(self, handler: MessageHandler) -> None:
        await asyncio.Event().wait()


def _notice(n: int, severity: str = "warning") -> Notice:
    return Notice(
        dedup_key=f"d{n}",
        instance="default",
        kind="data_stale",
        severity=severity,
        title=f"alert {n}",
        body="",
        click_url=None,
        ts=T0,
    )


def _bridge(
    tmp_path: Path,
    sender: RecordingSender,
    clock: Clock,
    rule: TargetRule,
    max_age_s: float = 86_400.0,
) -> tuple[Bridge, Target]:
    target = Target(rule=rule, url="ntfy://h/t")
    bridge = Bridge(
        targets=[target],
        outbox=SqliteOutbox(tmp_path / "o.sqlite"),
        sender=sender,
        feed=IdleFeed(),
        watch=DaemonWatch(silence_s=60, started_at=T0, instances=()),
        prefix="alvhd",
        retry_initial_s=0.001,
        retry_max_s=0.002,
        clock=clock,
        max_age_s=max_age_s,
    )
    return bridge, target


async def _drain(bridge: Bridge, target: Target) -> None:
    while await bridge._step(target):
        pass


async def test_retries_until_the_target_accepts_then_keeps_order(tmp_path: Path) -> None:
    clock = Clock()
    sender = RecordingSender(clock, fail=5)
    bridge, target = _bridge(tmp_path, sender, clock, TargetRule(name="p"))
    await bridge.enqueue([_notice(1), _notice(2), _notice(1)])  # the repeat is ignored
    await _drain(bridge, target)
    assert sender.sent == [("ntfy://h/t", "alert 1"), ("ntfy://h/t", "alert 2")]
    assert bridge.stats.failed == {"p": 5}
    assert bridge.stats.delivered == {"p": 2}


async def test_a_message_is_dropped_only_after_max_age(tmp_path: Path) -> None:
    clock = Clock()
    sender = RecordingSender(clock, fail=10_000, step_s=30.0)  # each attempt: 30 s later
    bridge, target = _bridge(tmp_path, sender, clock, TargetRule(name="p"), max_age_s=600.0)
    await bridge.enqueue([_notice(1)])
    await _drain(bridge, target)
    assert sender.sent == []
    assert bridge.stats.dropped == {"p": 1}
    assert 20 <= bridge.stats.failed["p"] <= 21  # ≈ 600 s / 30 s of attempts, then dropped


async def test_rate_limit_then_digest_when_the_window_frees(tmp_path: Path) -> None:
    clock = Clock()
    sender = RecordingSender(clock)
    rule = TargetRule(name="p", rate_limit_count=3, rate_limit_window_s=60)
    bridge, target = _bridge(tmp_path, sender, clock, rule)
    await bridge.enqueue([_notice(n) for n in range(10)] + [_notice(99, "critical")])
    await _drain(bridge, target)
    titles = [t for _, t in sender.sent]
    assert titles == ["alert 0", "alert 1", "alert 2", "alert 99"]  # critical is never held
    clock.now += timedelta(seconds=61)
    await _drain(bridge, target)
    assert [t for _, t in sender.sent][4:] == ["7 more alerts in the last 1 min"]


async def test_quiet_hours_hold_until_they_end(tmp_path: Path) -> None:
    clock = Clock()
    sender = RecordingSender(clock)
    rule = TargetRule(
        name="p",
        quiet_start=T0.time().replace(hour=11),
        quiet_end=T0.time().replace(hour=13),
        quiet_tz="UTC",
    )
    bridge, target = _bridge(tmp_path, sender, clock, rule)
    await bridge.enqueue([_notice(1), _notice(2, "critical")])
    await _drain(bridge, target)
    assert [t for _, t in sender.sent] == ["alert 2"]
    clock.now = T0.replace(hour=13)
    await _drain(bridge, target)
    assert [t for _, t in sender.sent] == ["alert 2", "alert 1"]
