"""Daemon silence watch: a pure state machine over the retained ``status`` topic.

Per watched instance the bridge keeps the last ``StatusReport`` and when it arrived.
At every report and every tick ``DaemonWatch`` decides whether the daemon is:

- ``ok``: ``online``, ``health`` ``ok`` (or absent), and heard from recently: both the
  arrival time and the payload's ``ts`` are within ``daemon_silence_s`` of now (a
  retained status from long ago, delivered the moment the bridge subscribes, is old
  by its ``ts``); the daemon re-publishes it every ``service.status_every_s`` as a
  heartbeat;
- ``degraded``: ``online`` with ``health: degraded`` (the reasons are quoted);
- ``down``: ``offline`` without ``clean_stop: true`` (the Last Will: the process or its
  host died), or silent for ``daemon_silence_s`` (also: no status at all since the bridge
  started);
- ``stopped``: ``offline`` with ``clean_stop: true`` (an operator's stop): no alarm.

A transition from ``ok``/``stopped`` into ``degraded`` or ``down`` (and ``degraded`` →
``down``) yields one ``critical`` notice; the way back to ``ok`` yields one "back"
notice. Dedup keys name the episode by the instant the problem began, so a bridge
restart in the middle of an outage re-derives the same key and the outbox refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from daemon.bridge.messages import DAEMON, Notice, StatusReport


class Health(StrEnum):
    """What the bridge believes about one daemon instance."""

    UNKNOWN = "unknown"
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"


_PROBLEMS = frozenset({Health.DEGRADED, Health.DOWN})


@dataclass(slots=True)
class _Instance:
    report: StatusReport | None = None
    arrived_at: datetime | None = None
    health: Health = Health.UNKNOWN
    problem_since: datetime | None = None
    alerted: Health | None = None


def _fmt(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts is not None else "never"


def _duration(delta: timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass(slots=True)
class DaemonWatch:
    """Silence/crash/degradation detector for the watched instances.

    Args:
        silence_s: ``bridge.daemon_silence_s``.
        started_at: when the bridge started (UTC); a never-heard instance counts as silent
            from then on.
        instances: instances expected to report; others are followed once heard.
    """

    silence_s: float
    started_at: datetime
    instances: tuple[str, ...]
    _state: dict[str, _Instance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.instances:
            self._state.setdefault(name, _Instance())

    def health(self, instance: str) -> Health:
        """Current belief about ``instance``."""
        st = self._state.get(instance)
        return st.health if st is not None else Health.UNKNOWN

    def on_status(self, report: StatusReport, now: datetime) -> list[Notice]:
        """Record a status (heartbeat or Last Will) and return the notices it causes."""
        st = self._state.setdefault(report.instance, _Instance())
        st.report = report
        st.arrived_at = now
        return self._evaluate(report.instance, st, now)

    def tick(self, now: datetime) -> list[Notice]:
        """Re-evaluate every instance at ``now`` (silence detection)."""
        out: list[Notice] = []
        for name, st in self._state.items():
            out.extend(self._evaluate(name, st, now))
        return out

    def _classify(  # noqa: PLR0911 - one return per state
        self, st: _Instance, now: datetime
    ) -> tuple[Health, str, datetime]:
        """(health, why, since) of one instance at ``now``."""
        silence = timedelta(seconds=self.silence_s)
        rep = st.report
        if rep is None or st.arrived_at is None:
            since = self.started_at
            if now - since > silence:
                why = f"no status from alvhd since the bridge started at {_fmt(since)}"
                return Health.DOWN, why, since
            return Health.UNKNOWN, "", since
        if rep.state == "offline":
            since = rep.ts or st.arrived_at
            if rep.clean_stop:
                return Health.STOPPED, "stopped cleanly", since
            return (
                Health.DOWN,
                "its MQTT connection dropped without a clean stop (Last Will: offline); "
                f"last status {_fmt(rep.ts)}",
                since,
            )
        last = min(st.arrived_at, rep.ts) if rep.ts is not None else st.arrived_at
        if now - last > silence:
            return (
                Health.DOWN,
                f"no status or heartbeat for {_duration(now - last)} "
                f"(limit {self.silence_s:g} s); last status {_fmt(rep.ts)}",
                last + silence,
            )
        if rep.health == "degraded":
            reasons = ", ".join(rep.reasons) or "no reason given"
            return Health.DEGRADED, f"health degraded: {reasons}", rep.ts or st.arrived_at
        return Health.OK, "", rep.ts or st.arrived_at

    def _evaluate(self, name: str, st: _Instance, now: datetime) -> list[Notice]:
        health, why, since = self._classify(st, now)
        previous = st.health
        st.health = health
        if health in _PROBLEMS:
            if st.problem_since is None:
                st.problem_since = since
            if st.alerted is None or (st.alerted is Health.DEGRADED and health is Health.DOWN):
                st.alerted = health
                return [self._problem_notice(name, health, why, st.problem_since, now)]
            return []
        if health is Health.OK and st.alerted is not None:
            began = st.problem_since or now
            was = st.alerted
            st.alerted = None
            st.problem_since = None
            return [self._back_notice(name, was, began, now)]
        if health in {Health.OK, Health.STOPPED} and previous is not health:
            st.problem_since = None
        return []

    @staticmethod
    def _problem_notice(
        name: str, health: Health, why: str, since: datetime, now: datetime
    ) -> Notice:
        word = "is down" if health is Health.DOWN else "is degraded"
        return Notice(
            dedup_key=f"daemon:{name}:{health.value}:{since.isoformat()}",
            instance=name,
            kind=DAEMON,
            severity="critical",
            title=f"alvhd {word} ({name})",
            body="\n".join(
                [
                    f"• {why}",
                    "Hedge alerts and proposals are not being produced. Check the host, "
                    "`systemctl status alvhd` and `journalctl -u alvhd`.",
                ]
            ),
            click_url=None,
            ts=now,
        )

    @staticmethod
    def _back_notice(name: str, was: Health, began: datetime, now: datetime) -> Notice:
        return Notice(
            dedup_key=f"daemon:{name}:back:{began.isoformat()}",
            instance=name,
            kind=DAEMON,
            # Routed like the alarm it ends, so whoever was woken hears that it is over.
            severity="critical",
            title=f"alvhd is back ({name})",
            body=f"• online and healthy again after {_duration(now - began)} {was.value}",
            click_url=None,
            ts=now,
        )
