"""``alvhd status``: the operator's first command.

Reads the journal (read-only SQL on the documented tables: ``decisions`` holds each
decision in its MQTT wire JSON, ``snapshot`` the engine snapshot, ``journal_identity``
its owner) and, when a broker answers within a short timeout, the retained
``{prefix}/{instance}/status`` topic (read by ``adapters.mqtt.retained`` through
``daemon.app``). It is a consumer of documented formats, like any MQTT subscriber.

Printed: health (from the retained status: ``online``/``offline``, ``ok``/``degraded``
and its reasons), active layers with the readings that switched them on and the rule
that will end them, the last decisions, the unpublished count and the open hedge book.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAST_DECISIONS = 8
"""How many recent decisions ``alvhd status`` lists."""


@dataclass(slots=True, kw_only=True)
class StatusReport:
    """Everything ``alvhd status`` shows; JSON-able through :meth:`as_dict`.

    Attributes:
        journal: the journal file read (``None`` → none found).
        owner: ``{"source", "instance", "created_at"}`` of the journal, if recorded.
        decisions: journalled decisions; ``unpublished``: those the broker has not acked.
        snapshot_date: last session date in the engine snapshot (ISO); ``saved_at`` ISO UTC.
        active_layers: ``{"layer", "since", "reasons": [detail…], "exit_rule"}`` per layer.
        hedges: the open hedge book from the snapshot (layer, contracts, legs, premium USD).
        last: the most recent decisions, newest first, one line each.
        mqtt: the retained status payload, or ``None``; ``mqtt_error`` says why not.
    """

    journal: Path | None = None
    owner: dict[str, str] | None = None
    decisions: int = 0
    unpublished: int = 0
    snapshot_date: str | None = None
    saved_at: str | None = None
    active_layers: list[dict[str, Any]] = field(default_factory=list)
    hedges: list[dict[str, Any]] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    mqtt: dict[str, Any] | None = None
    mqtt_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``alvhd status --json``)."""
        return {
            "journal": str(self.journal) if self.journal else None,
            "owner": self.owner,
            "decisions": self.decisions,
            "unpublished": self.unpublished,
            "snapshot_date": self.snapshot_date,
            "saved_at": self.saved_at,
            "active_layers": self.active_layers,
            "hedges": self.hedges,
            "last": self.last,
            "mqtt": self.mqtt,
            "mqtt_error": self.mqtt_error,
        }


def describe_payload(payload: dict[str, Any]) -> str:
    """One line for a journalled decision (wire JSON): date, kind and what it says."""
    kind = payload.get("type")
    when = payload.get("session_date") or str(payload.get("ts", ""))[:10]
    if kind == "order":
        return f"{when} order   {payload.get('note') or payload.get('order_ref', '')}"
    if kind == "alert":
        return (
            f"{when} alert   {payload.get('severity')} {payload.get('kind')}: "
            f"{payload.get('message', '')}"
        )
    if kind == "layer_change":
        state = "ON" if payload.get("is_active") else "off"
        return f"{when} layer   {payload.get('layer')} {state}"
    return f"{when} {kind}"


def _table_exists(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def read_journal(path: Path, report: StatusReport) -> None:
    """Fill ``report`` from the journal at ``path`` (SELECTs only).

    Raises:
        sqlite3.Error: the file is not a readable alvhd journal.
    """
    report.journal = path
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if _table_exists(db, "journal_identity"):
            row = db.execute("SELECT source, instance, created_at FROM journal_identity").fetchone()
            if row is not None:
                report.owner = {"source": row[0], "instance": row[1], "created_at": row[2]}
        report.decisions, report.unpublished = db.execute(
            "SELECT count(*), coalesce(sum(published = 0), 0) FROM decisions"
        ).fetchone()
        report.last = [
            describe_payload(json.loads(payload))
            for (payload,) in db.execute(
                "SELECT payload FROM decisions ORDER BY seq DESC LIMIT ?", (LAST_DECISIONS,)
            )
        ]
        changes: dict[str, dict[str, Any]] = {}
        for (payload,) in db.execute(
            "SELECT payload FROM decisions WHERE kind = 'layer_change' ORDER BY seq"
        ):
            change = json.loads(payload)
            changes[str(change.get("layer"))] = change
        snap = db.execute("SELECT saved_at, data FROM snapshot WHERE id = 1").fetchone()
    finally:
        db.close()
    active = set(changes)
    if snap is not None:
        report.saved_at = str(snap[0])
        state = json.loads(bytes(snap[1]))
        days = list((state.get("price_day") or {}).values())
        report.snapshot_date = max(days) if days else None
        report.hedges = list(state.get("hedges") or [])
        ladder = state.get("ladder") or {}
        active = {
            name.upper()
            for name, layer in ladder.items()
            if isinstance(layer, dict) and layer.get("is_active")
        }
    for layer in sorted(active):
        change = changes.get(layer, {})
        if change and not change.get("is_active"):
            change = {}
        report.active_layers.append(
            {
                "layer": layer,
                "since": change.get("session_date"),
                "reasons": [
                    r.get("detail", r.get("id"))
                    for r in change.get("reasons", [])
                    if r.get("holds")
                ],
                "exit_rule": change.get("exit_rule", ""),
            }
        )


def render(report: StatusReport, *, source: str) -> str:
    """The human report of ``alvhd status`` (plain text, one fact per line)."""
    out: list[str] = []
    m = report.mqtt
    if m is not None:
        reasons = ", ".join(m.get("reasons") or []) or "none"
        out.append(
            f"health:      {m.get('state', '?')} / {m.get('health', 'ok')} (reasons: {reasons}); "
            f"mode {m.get('mode', '?')}, source {m.get('source', '?')}, "
            f"version {m.get('version', '?')}, as of {m.get('ts', '?')}"
        )
    else:
        out.append(f"health:      unknown: no retained MQTT status ({report.mqtt_error})")
    if report.journal is None:
        out.append(f"journal:     none found for source {source!r}")
        return "\n".join(out)
    owner = report.owner or {}
    out.append(
        f"journal:     {report.journal} (source {owner.get('source', '?')}, instance "
        f"{owner.get('instance', '?')}); {report.decisions} decisions, "
        f"{report.unpublished} unpublished"
    )
    out.append(
        f"snapshot:    session {report.snapshot_date or 'none'} (saved {report.saved_at or '-'})"
    )
    if not report.active_layers:
        out.append("layers:      none active")
    for layer in report.active_layers:
        out.append(f"layer {layer['layer']}:    ON since {layer['since'] or '?'}")
        out.extend(f"    why:     {reason}" for reason in layer["reasons"])
        if layer["exit_rule"]:
            out.append(f"    ends:    {layer['exit_rule']}")
    if not report.hedges:
        out.append("hedges:      none open")
    for hedge in report.hedges:
        legs = " / ".join(
            f"{'+' if leg.get('position_qty', 1) > 0 else '-'}"
            f"{leg.get('expiry')} {leg.get('strike')}{leg.get('right')}"
            for leg in hedge.get("legs", [])
        )
        out.append(
            f"hedge {hedge.get('layer')}:    {hedge.get('contracts')} × {legs}, premium "
            f"${hedge.get('premium_paid_usd', 0):,.2f}, opened {hedge.get('opened_on')}"
        )
    out.append("last decisions (newest first):")
    out.extend(f"  {line}" for line in report.last or ["(none)"])
    return "\n".join(out)
