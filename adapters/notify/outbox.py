"""The bridge's SQLite outbox: every message is stored here before any delivery.

One row per (target, message). ``UNIQUE(target, dedup_key)`` is the dedup across QoS 1
redeliveries, daemon re-sends and bridge restarts: a second insert is ignored. States:

```
pending ──send ok──▶ sent
   │  ├─quiet hours (non-critical)──▶ held ──quiet hours end──▶ pending
   │  ├─over the rate limit (non-critical)──▶ suppressed ──digest sent──▶ digested
   │  └─older than bridge.max_age_s──▶ dropped
```

WAL mode and ``synchronous=FULL``: a row acknowledged to the broker (PUBACK after the
insert) survives a crash. The class is synchronous and thread-safe (one connection, a
lock); the asyncio shell calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from daemon.bridge.messages import Notice

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    notice TEXT NOT NULL,
    created_at_s REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at_s REAL,
    UNIQUE (target, dedup_key)
);
CREATE INDEX IF NOT EXISTS outbox_target_state ON outbox (target, state, id);
"""

STATES = ("pending", "held", "suppressed", "sent", "digested", "dropped")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message for one target."""

    id: int
    target: str
    notice: Notice
    created_at_s: float
    attempts: int


class SqliteOutbox:
    """Persistent per-target message queue with dedup (see the module docstring).

    Args:
        path: the SQLite file (its directory is created).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def add(self, items: Iterable[tuple[str, Notice]], now_s: float) -> list[str]:
        """Store ``(target, notice)`` pairs in one transaction; duplicates are ignored.

        Returns:
            The targets for which a new row was stored (the others had it already).
        """
        added: list[str] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for target, n in items:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO outbox (target, dedup_key, kind, severity, "
                        "notice, created_at_s) VALUES (?, ?, ?, ?, ?, ?)",
                        (target, n.dedup_key, n.kind, n.severity, n.to_json(), now_s),
                    )
                    if cur.rowcount:
                        added.append(target)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            OutboxRow(
                id=r[0],
                target=r[1],
                notice=Notice.from_json(r[2]),
                created_at_s=r[3],
                attempts=r[4],
            )
            for r in rows
        ]

    def next_pending(self, target: str) -> OutboxRow | None:
        """The oldest ``pending`` row of ``target`` (delivery is in arrival order)."""
        rows = self._rows(
            "SELECT id, target, notice, created_at_s, attempts FROM outbox "
            "WHERE target = ? AND state = 'pending' ORDER BY id LIMIT 1",
            (target,),
        )
        return rows[0] if rows else None

    def suppressed(self, target: str) -> list[OutboxRow]:
        """The ``suppressed`` rows of ``target``, oldest first (the next digest)."""
        return self._rows(
            "SELECT id, target, notice, created_at_s, attempts FROM outbox "
            "WHERE target = ? AND state = 'suppressed' ORDER BY id",
            (target,),
        )

    def set_state(self, row_id: int, state: str, now_s: float, *, error: str | None = None) -> None:
        """Move a row to ``state`` (``done_at_s`` = now for sent/dropped/digested)."""
        if state not in STATES:
            raise ValueError(state)
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = ?, done_at_s = ?, last_error = COALESCE(?, last_error)"
                " WHERE id = ?",
                (state, now_s, error, row_id),
            )

    def record_failure(self, row_id: int, error: str) -> None:
        """Count one failed delivery attempt and keep its reason."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, row_id),
            )

    def add_digest(self, target: str, digest: Notice, covered_ids: list[int], now_s: float) -> int:
        """Store a digest row and mark the rows it stands for ``digested``, atomically.

        Returns:
            The digest row's id (existing one if this digest was stored before).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (target, dedup_key, kind, severity, notice, "
                    "created_at_s) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        target,
                        digest.dedup_key,
                        digest.kind,
                        digest.severity,
                        digest.to_json(),
                        now_s,
                    ),
                )
                self._db.executemany(
                    "UPDATE outbox SET state = 'digested', done_at_s = ? WHERE id = ?",
                    [(now_s, i) for i in covered_ids],
                )
                row = self._db.execute(
                    "SELECT id FROM outbox WHERE target = ? AND dedup_key = ?",
                    (target, digest.dedup_key),
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(row[0])

    def row(self, row_id: int) -> OutboxRow | None:
        """One row by id."""
        rows = self._rows(
            "SELECT id, target, notice, created_at_s, attempts FROM outbox WHERE id = ?",
            (row_id,),
        )
        return rows[0] if rows else None

    def release_held(self, target: str) -> int:
        """Quiet hours ended: ``held`` → ``pending``; returns how many."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE outbox SET state = 'pending' WHERE target = ? AND state = 'held'",
                (target,),
            )
        return cur.rowcount

    def sent_since(self, target: str, since_s: float) -> list[float]:
        """Delivery times (epoch s) of ``target``'s messages sent after ``since_s``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT done_at_s FROM outbox WHERE target = ? AND state = 'sent' "
                "AND done_at_s > ?",
                (target, since_s),
            ).fetchall()
        return [float(r[0]) for r in rows]

    def depth(self) -> dict[tuple[str, str], int]:
        """Row counts by (target, state) for the undelivered states (metrics)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT target, state, COUNT(*) FROM outbox "
                "WHERE state IN ('pending', 'held', 'suppressed') GROUP BY target, state"
            ).fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}
