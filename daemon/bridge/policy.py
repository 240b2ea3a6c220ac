"""Per-target delivery rules of the bridge, as pure functions of (rule, message, now).

- ``routes``: does a target want this message? Not when its kind is in
  ``exclude_kinds``; otherwise yes when the severity is at least ``min_severity`` or the
  kind is listed in ``kinds`` (phone: ``critical`` + layer changes + proposals).
- ``in_quiet_hours``: the local time (``quiet_tz``) lies in ``[quiet_start, quiet_end)``;
  a window that wraps midnight (22:00–07:00) is handled. During quiet hours a
  non-``critical`` message is *held* and delivered when they end (then rate-limited,
  so a night's worth becomes a digest); ``critical`` always passes.
- ``has_slot``: sliding-window rate limit, ``rate_limit_count`` deliveries per
  ``rate_limit_window_s``. A non-critical message over the limit is *suppressed* and
  counted; when a slot frees up one ``digest`` message says "N more alerts in the last
  M min" with the first titles. ``critical`` messages are never suppressed.

Times are arguments (tz-aware UTC ``datetime``s or epoch seconds); nothing here reads a
clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from daemon.bridge.messages import DIGEST, SEVERITY_RANK, Notice

DIGEST_TITLES_MAX = 8
"""How many suppressed titles a digest lists before "… and N more"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRule:
    """The routing part of a ``[[targets]]`` entry (see ``daemon.bridge.settings``)."""

    name: str
    min_severity: str = "info"
    kinds: frozenset[str] = frozenset()
    exclude_kinds: frozenset[str] = frozenset()
    rate_limit_count: int = 0
    rate_limit_window_s: float = 60.0
    quiet_start: time | None = None
    quiet_end: time | None = None
    quiet_tz: str = "UTC"


def routes(rule: TargetRule, notice: Notice) -> bool:
    """Whether ``rule``'s target receives ``notice`` (see the module docstring)."""
    if notice.kind in rule.exclude_kinds:
        return False
    if notice.kind in rule.kinds:
        return True
    return SEVERITY_RANK[notice.severity] >= SEVERITY_RANK[rule.min_severity]


def is_critical(severity: str) -> bool:
    """``critical`` passes quiet hours and the rate limit."""
    return severity == "critical"


def in_quiet_hours(rule: TargetRule, now: datetime) -> bool:
    """Whether ``now`` (tz-aware) falls in the target's quiet hours, in ``quiet_tz``.

    ``[quiet_start, quiet_end)``; ``quiet_start > quiet_end`` wraps midnight.
    """
    if rule.quiet_start is None or rule.quiet_end is None:
        return False
    local = now.astimezone(ZoneInfo(rule.quiet_tz)).time().replace(tzinfo=None)
    start, end = rule.quiet_start, rule.quiet_end
    if start < end:
        return start <= local < end
    return local >= start or local < end


def has_slot(rule: TargetRule, sent_at_s: Sequence[float], now_s: float) -> bool:
    """Whether one more delivery fits the sliding window.

    Args:
        rule: the target's rule (``rate_limit_count`` 0 = unlimited).
        sent_at_s: epoch seconds of the target's recent deliveries (any order).
        now_s: epoch seconds now.
    """
    if rule.rate_limit_count <= 0:
        return True
    since = now_s - rule.rate_limit_window_s
    return sum(1 for t in sent_at_s if t > since) < rule.rate_limit_count


def _span_text(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.0f} h"


def digest_notice(target: str, suppressed: Sequence[tuple[int, Notice]], now: datetime) -> Notice:
    """One message standing for ``suppressed`` (outbox id, notice) pairs, oldest first.

    Title ``12 more alerts in the last 10 min``; body: the first titles, one per line;
    severity: the highest of them. ``dedup_key`` names the outbox id range, so a digest
    re-built after a restart is the same row.
    """
    if not suppressed:
        raise ValueError("digest of nothing")
    ids = [i for i, _ in suppressed]
    notices = [n for _, n in suppressed]
    span_s = (now - min(n.ts for n in notices)).total_seconds()
    count = len(notices)
    noun = "alert" if count == 1 else "alerts"
    lines = [f"• {n.title}" for n in notices[:DIGEST_TITLES_MAX]]
    if count > DIGEST_TITLES_MAX:
        lines.append(f"… and {count - DIGEST_TITLES_MAX} more")
    severity = max((n.severity for n in notices), key=SEVERITY_RANK.__getitem__)
    instances = sorted({n.instance for n in notices})
    return Notice(
        dedup_key=f"digest:{target}:{ids[0]}-{ids[-1]}",
        instance=",".join(instances),
        kind=DIGEST,
        severity=severity,
        title=f"{count} more {noun} in the last {_span_text(span_s)}",
        body="\n".join(lines),
        click_url=None,
        ts=now,
    )
