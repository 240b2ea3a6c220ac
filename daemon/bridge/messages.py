"""What the bridge hears on MQTT, and the messages it writes for people (pure functions).

Input: the daemon's MQTT payloads (README "MQTT reference"), read leniently: unknown
fields are ignored, as the README asks of consumers, and a payload that cannot be read
is a ``Rejected`` value with a reason (counted by the shell), never an exception.

| topic                               | becomes                                            |
|-------------------------------------|----------------------------------------------------|
| ``{prefix}/{inst}/alerts/{kind}``   | ``Notice`` kind = alert kind, severity as sent     |
| ``{prefix}/{inst}/orders/proposed`` | ``Notice`` kind ``order_proposed``, ``warning``    |
| ``{prefix}/{inst}/orders/status``   | ``Notice`` kind ``order_status`` (rejected →       |
|                                     | ``critical``, cancelled/expired → ``warning``)     |
| ``{prefix}/{inst}/status``          | ``StatusReport`` (for ``watch.DaemonWatch``)       |

Output: a ``Notice`` — title (one line, fits a phone's lock screen), body (the reasons
one per line, the exit rule, the order's figures), severity (``info`` < ``warning`` <
``critical``) and an optional click-through link. Every text passes ``mask_accounts``:
IBKR account ids (``DU1234567``, ``U7654321``) are shown as ``******567``.

A notice's ``dedup_key`` is the daemon's ``decision_id`` (orders/status: the
``order_ref`` or ``decision_id`` plus status and filled quantity), so a QoS 1
redelivery or a daemon re-send maps onto the same outbox row.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from daemon.core.model import AlertKind

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
"""Severities in increasing order (the daemon's ``Severity`` values)."""

ORDER_PROPOSED = "order_proposed"
ORDER_STATUS = "order_status"
DAEMON = "daemon"
DIGEST = "digest"
TEST = "test"
KNOWN_KINDS: frozenset[str] = frozenset(
    {k.value for k in AlertKind} | {ORDER_PROPOSED, ORDER_STATUS, DAEMON}
)
"""Kinds a target can list in ``kinds``/``exclude_kinds``."""

NTFY_PRIORITY = {"info": "default", "warning": "high", "critical": "max"}
"""ntfy priority per severity (ntfy's 1–5 scale: default = 3, high = 4, max/urgent = 5)."""
NTFY_TAGS = {"info": "information_source", "warning": "warning", "critical": "rotating_light"}
"""ntfy tag (an emoji short code shown before the title) per severity."""

_LAYER_VERB = re.compile(r"^L\d\s+(?:activated|deactivated|off|on)\b[:,]?\s*", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:DU|DF|U|F)\d{4,}\b")
_TITLE_MAX = 150
_ORDER_VERSIONS = frozenset({1, 2})
"""``orders/proposed`` schema versions read (2 adds ``inputs``, which the bridge ignores)."""
_ORDER_STATUS_SEVERITY = {
    "rejected": "critical",
    "cancelled": "warning",
    "expired": "warning",
    "partially_filled": "info",
    "filled": "info",
    "submitted": "info",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    r"""A message for people, before routing.

    Attributes:
        dedup_key: one key per thing to say (a daemon ``decision_id`` …); the outbox
            refuses a second row with the same key for the same target.
        instance: the daemon instance it is about.
        kind: ``KNOWN_KINDS``, or ``digest``/``test``.
        severity: ``info``, ``warning`` or ``critical``.
        title: one line.
        body: lines separated by ``\\n``.
        click_url: link for the notification, or None.
        ts: when it happened (UTC).
    """

    dedup_key: str
    instance: str
    kind: str
    severity: str
    title: str
    body: str
    click_url: str | None
    ts: datetime

    def to_json(self) -> str:
        """JSON form (the outbox column ``notice``)."""
        return json.dumps(
            {
                "dedup_key": self.dedup_key,
                "instance": self.instance,
                "kind": self.kind,
                "severity": self.severity,
                "title": self.title,
                "body": self.body,
                "click_url": self.click_url,
                "ts": self.ts.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Notice:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        return cls(
            dedup_key=d["dedup_key"],
            instance=d["instance"],
            kind=d["kind"],
            severity=d["severity"],
            title=d["title"],
            body=d["body"],
            click_url=d["click_url"],
            ts=datetime.fromisoformat(d["ts"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """The daemon's retained ``status`` (heartbeat and Last Will), read leniently.

    ``health``, ``reasons`` and ``clean_stop`` may be absent (older daemons): absent
    health is ``ok``; an ``offline`` without ``clean_stop: true`` counts as a crash.
    """

    instance: str
    state: str
    ts: datetime | None
    health: str
    reasons: tuple[str, ...]
    clean_stop: bool
    mode: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A payload the bridge could not read (``reason`` is logged and counted)."""

    reason: str


Incoming = Notice | StatusReport | Rejected | None
"""What one MQTT message becomes (None: a topic the bridge does not handle)."""


def mask_accounts(text: str) -> str:
    """Mask IBKR account ids to their last 3 characters (``DU1234567`` → ``******567``)."""
    return _ACCOUNT.sub(lambda m: "*" * (len(m.group(0)) - 3) + m.group(0)[-3:], text)


def _clip(text: str, limit: int = _TITLE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _num(value: float) -> str:
    return f"{value:g}"


def _expiry(text: str) -> str:
    """``2020-01-22`` → ``Jan-22``; anything else unchanged."""
    try:
        return date.fromisoformat(text).strftime("%b-%d")
    except ValueError:
        return text


def click_url(base: str, instance: str, decision_id: str) -> str | None:
    """``<base>/<instance>/<decision_id>``, or None when no ``link_base_url`` is set."""
    if not base:
        return None
    return f"{base.rstrip('/')}/{instance}/{decision_id}"


def _reason_lines(reasons: Any, *, holding_only: bool) -> list[str]:
    lines: list[str] = []
    if not isinstance(reasons, list):
        return lines
    for r in reasons:
        if not isinstance(r, Mapping):
            continue
        if holding_only and r.get("holds") is False:
            continue
        detail = str(r.get("detail") or r.get("id") or "").strip()
        if detail:
            lines.append(f"• {detail}")
    return lines


def legs_text(legs: Sequence[Mapping[str, Any]], contracts: int) -> str:
    """The legs as a person reads them.

    ``66 VIX Jan-22 17C`` (one leg), ``10 VIX Apr-15 33C/38C spread`` (two legs, one
    expiry) or ``2 × VIX (−33 Jan-22 17C, +14 Feb-19 18C)`` (a roll, with its leg ratios).
    """
    parts = []
    for leg in legs:
        right = str(leg.get("right", "")).upper()[:1]
        parts.append(f"{_num(float(leg.get('strike', 0.0)))}{right}")
    first = legs[0] if legs else {}
    tclass = str(first.get("trading_class") or "VIX")
    expiries = sorted({_expiry(str(leg.get("expiry", ""))) for leg in legs})
    if len(legs) == 2 and len(expiries) == 1:
        return f"{contracts} {tclass} {expiries[0]} {'/'.join(parts)} spread"
    if len(legs) == 1:
        return f"{contracts} {tclass} {expiries[0]} {parts[0]}"
    detail = []
    for leg, p in zip(legs, parts, strict=True):
        qty = int(leg.get("position_qty", 1) or 1)
        ratio = "" if abs(qty) == 1 else str(abs(qty))
        detail.append(f"{'+' if qty > 0 else '−'}{ratio} {_expiry(str(leg.get('expiry', '')))} {p}")
    return f"{contracts} × {tclass} ({', '.join(detail)})"


_INTENT_WORDS = {
    "open": "ON — hedge proposal",
    "close": "OFF — close hedge",
    "resize": "resize",
    "roll": "roll",
}


def order_notice(
    instance: str, p: Mapping[str, Any], link_base_url: str, now: datetime
) -> Notice | Rejected:
    """A proposed order (``orders/proposed``) as a message.

    Title: ``L2 ON — hedge proposal: buy 123 VIX Apr-15 33C @ 0.21 ($2,583)``; body: the
    reasons, the scenario cover, the cost-cap note and the order ref.
    """
    try:
        decision_id = str(p["decision_id"])
        layer = str(p["layer"])
        intent = str(p["intent"])
        action = str(p["action"]).lower()
        contracts = int(p["contracts"])
        limit = float(p["limit_price"])
        cost = float(p["cost_usd"])
        legs = p["legs"]
        if not isinstance(legs, list) or not legs:
            return Rejected("order without legs")
    except (KeyError, TypeError, ValueError) as exc:
        return Rejected(f"order payload: {exc!r}")
    ts = _ts(p.get("ts")) or now
    what = _INTENT_WORDS.get(intent, intent)
    title = f"{layer} {what}: {action} {legs_text(legs, contracts)} @ {_num(limit)} ({_usd(cost)})"
    lines = _reason_lines(p.get("reasons"), holding_only=True)
    scenario = p.get("scenario")
    if isinstance(scenario, Mapping):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            lines.append(
                f"Covers {float(scenario['cover_frac']):.0%} of the condor's "
                f"{_usd(float(scenario['scenario_loss_usd']))} loss in the "
                f"VIX +{_num(float(scenario['vix_shock_pts']))} pt scenario"
            )
    if p.get("is_capped"):
        lines.append("Scaled down by the cost cap (open premium ≤ 40% of the condor credit)")
    tif = str(p.get("tif") or "DAY")
    lines.append(f"Limit {_num(limit)} {tif} · ref {p.get('order_ref', '')}")
    return Notice(
        dedup_key=decision_id,
        instance=instance,
        kind=ORDER_PROPOSED,
        severity="warning",
        title=mask_accounts(_clip(title)),
        body=mask_accounts("\n".join(lines)),
        click_url=click_url(link_base_url, instance, decision_id),
        ts=ts,
    )


def alert_notice(
    instance: str, p: Mapping[str, Any], link_base_url: str, now: datetime
) -> Notice | Rejected:
    """An alert (``alerts/{kind}``) as a message: title from the message, reasons, exit rule."""
    try:
        decision_id = str(p["decision_id"])
        kind = str(p["kind"])
        severity = str(p["severity"])
        message = str(p["message"])
    except KeyError as exc:
        return Rejected(f"alert payload: missing {exc}")
    if severity not in SEVERITY_RANK:
        return Rejected(f"alert payload: unknown severity {severity!r}")
    ts = _ts(p.get("ts")) or now
    exit_rule = str(p.get("exit_rule") or "").strip()
    # The daemon appends ". Exit rule: …" to activation messages; the body shows it apart.
    head = message.split(". Exit rule:", maxsplit=1)[0].strip()
    layer = p.get("layer")
    # "L1 activated: ratio_macd_negative=… (…)" → the title says "L1 ON" already
    short = _LAYER_VERB.sub("", head) or head
    if kind == AlertKind.LAYER_ACTIVATED.value and layer:
        why = [line[2:] for line in _reason_lines(p.get("reasons"), holding_only=True)]
        title = f"{layer} ON — {'; '.join(why) or short}"
    elif kind == AlertKind.LAYER_DEACTIVATED.value and layer:
        title = f"{layer} OFF — {short}"
    else:
        title = f"{kind.replace('_', ' ')}: {head}"
    lines = _reason_lines(p.get("reasons"), holding_only=kind == AlertKind.LAYER_ACTIVATED.value)
    if exit_rule:
        lines.append(f"Ends when: {exit_rule}")
    if len(head) > _TITLE_MAX:
        lines.insert(0, head)
    return Notice(
        dedup_key=decision_id,
        instance=instance,
        kind=kind,
        severity=severity,
        title=mask_accounts(_clip(title)),
        body=mask_accounts("\n".join(lines)),
        click_url=click_url(link_base_url, instance, decision_id),
        ts=ts,
    )


def order_status_notice(
    instance: str, p: Mapping[str, Any], link_base_url: str, now: datetime
) -> Notice | Rejected:
    """An order status (``orders/status``): ``Order filled: 66 @ 0.33 — alvh:L1:open:…``."""
    try:
        status = str(p["status"])
        ref = str(p.get("order_ref") or p["decision_id"])
    except KeyError as exc:
        return Rejected(f"order status payload: missing {exc}")
    decision_id = str(p.get("decision_id") or ref)
    filled = p.get("filled_qty")
    avg = p.get("avg_price")
    ts = _ts(p.get("ts")) or now
    detail = ""
    if isinstance(filled, int | float) and filled:
        detail = f"{_num(float(filled))}" + (
            f" @ {_num(float(avg))}" if isinstance(avg, int | float) and avg else ""
        )
    title = f"Order {status.replace('_', ' ')}" + (f": {detail}" if detail else "") + f" — {ref}"
    lines = []
    if p.get("error_code") or p.get("error_text"):
        lines.append(f"IB {p.get('error_code') or ''}: {p.get('error_text') or ''}".strip())
    lines.append(f"ref {ref}")
    return Notice(
        dedup_key=f"{ref}:{status}:{filled or 0}",
        instance=instance,
        kind=ORDER_STATUS,
        severity=_ORDER_STATUS_SEVERITY.get(status, "warning"),
        title=mask_accounts(_clip(title)),
        body=mask_accounts("\n".join(lines)),
        click_url=click_url(link_base_url, instance, decision_id),
        ts=ts,
    )


def status_report(instance: str, p: Mapping[str, Any]) -> StatusReport | Rejected:
    """The retained ``status`` payload (contract of issue 6; optional fields defaulted)."""
    state = p.get("state")
    if state not in {"online", "offline"}:
        return Rejected(f"status payload: state {state!r}")
    reasons = p.get("reasons")
    return StatusReport(
        instance=instance,
        state=str(state),
        ts=_ts(p.get("ts")),
        health=str(p.get("health") or "ok"),
        reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
        clean_stop=p.get("clean_stop") is True,
        mode=str(p.get("mode") or ""),
    )


def parse_mqtt(  # noqa: PLR0911 - one return per topic kind
    topic: str, payload: bytes, *, prefix: str, now: datetime, link_base_url: str = ""
) -> Incoming:
    """Turn one MQTT message of the daemon's tree into what the bridge acts on.

    Args:
        topic: the full topic, ``{prefix}/{instance}/…``.
        payload: the raw payload (UTF-8 JSON; a retained delete is empty).
        prefix: ``mqtt.topic_prefix`` (may hold ``/``).
        now: arrival time (UTC), used when a payload has no readable ``ts``.
        link_base_url: ``bridge.link_base_url`` ("" = no links).

    Returns:
        A ``Notice``, a ``StatusReport``, a ``Rejected`` (unreadable), or None for a topic
        the bridge ignores (``layers``, ``signals``, ``market``, an empty retained delete).
    """
    if not topic.startswith(prefix + "/"):
        return None
    rest = topic[len(prefix) + 1 :].split("/")
    if len(rest) < 2 or not payload:
        return None
    instance, sub = rest[0], rest[1:]
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(f"not JSON on {topic}: {exc}")
    if not isinstance(data, dict):
        return Rejected(f"not a JSON object on {topic}")
    known = _ORDER_VERSIONS if sub == ["orders", "proposed"] else frozenset({1})
    if data.get("v", 1) not in known:
        return Rejected(f"unknown schema version v={data.get('v')!r} on {topic}")
    match sub:
        case ["status"]:
            return status_report(instance, data)
        case ["alerts", _]:
            return alert_notice(instance, data, link_base_url, now)
        case ["orders", "proposed"]:
            return order_notice(instance, data, link_base_url, now)
        case ["orders", "status"]:
            return order_status_notice(instance, data, link_base_url, now)
        case _:
            return None
