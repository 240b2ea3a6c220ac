"""SQLite write-ahead journal of decisions (the ``Journal`` port).

One ``sqlite3`` connection in WAL mode with ``synchronous=FULL``: every transaction that
stores a decision (``append*``, ``write_batch``), an execution, an order event, the
engine snapshot or the identity is fsynced before it returns, so a decision that was
journaled and then published survives a power cut (journal-before-publish is durable).
Every call after ``open`` runs on the journal's own thread (``_JournalThread``: one
thread per journal, fed through a ``queue.SimpleQueue``, answering through
``loop.call_soon_threadsafe``), so the event loop never blocks on disk I/O: a stalled
disk stalls the journal's callers, never MQTT. Issue 9: the hand-off to the default
executor of ``asyncio.to_thread`` and back cost ≈ 0.14 + 0.13 ms of a burst's path
(a context copy, the executor's work queue, its futures chained to the loop's); the
dedicated thread takes about half. The connection (``check_same_thread=False``) is
still guarded by a ``threading.Lock`` (``aclose`` takes it).

Durability of the "published" marks (issue 9, the team's decision): ``mark_published``
and ``mark_published_many`` commit with ``synchronous=NORMAL``, switched for that one
transaction on the same connection and back to ``FULL`` right after (the pragma is
changed only outside a transaction; ``tests/adapters/test_journal_sync.py`` checks the
statements and, under ``strace``, that a mark makes no fsync while a decision does). In
WAL mode a ``NORMAL`` commit is "durable across application crash" but "may roll back
following a power loss" (https://www.sqlite.org/pragma.html#pragma_synchronous,
https://www.sqlite.org/wal.html): the WAL is appended without an fsync. What a power cut
can cost is therefore only marks, never a decision: a decision whose mark rolled back
is unpublished again and is re-sent at the next start, in journal order, with the same
``decision_id`` -- what MQTT QoS 1 (at-least-once) already allows, and subscribers
dedupe by ``decision_id``. The next ``FULL`` commit fsyncs the WAL file and with it every
earlier ``NORMAL`` mark, so at most the marks since the last decision are exposed. A
kill -9 loses no mark (``tests/e2e/test_kill_republish.py``). Each mark thus costs a WAL
append (~0.05 ms) instead of an fsync (0.3-1.4 ms quiet, 4-5 ms p99 under load; a full
replay makes ~1,450 marks).

Schema (``PRAGMA user_version`` = 2)::

    decisions(seq INTEGER PK, decision_id TEXT UNIQUE, kind, ts, session_date,
              payload JSON, published INTEGER, published_at)
    snapshot(id = 1, saved_at, data BLOB)      -- the engine snapshot saved last
    executions(exec_id TEXT PK, order_ref, ts, payload JSON)   -- v2: broker fills by execId
    order_events(seq INTEGER PK, order_ref, status, ts, payload JSON)  -- v2: order states

Decisions are stored in the MQTT wire form (``adapters.mqtt.payloads.decision_to_json``)
so the journal and the broker see the same JSON.

Disk faults: an ``sqlite3.Error`` of any call after ``open`` (``database or disk is
full``, ``attempt to write a readonly database``, ``disk I/O error``) is translated to
``daemon.errors.JournalError`` naming the file and SQLite's cause. SQLite rolls the
failed statement back (every other write is one autocommit statement), so the file stays
consistent (a batch, ``append_many``/``write_batch``/``mark_published_many``, is one
explicit transaction, rolled back whole); the shell alerts and exits 74 (EX_IOERR).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from adapters.mqtt.payloads import decision_from_json, decision_to_json
from daemon.core.model import Alert, Decision, decision_kind
from daemon.errors import ConfigError, DataError, InvariantViolation, JournalError
from daemon.ports import JournalRecord

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteJournal", "decision_from_json"]

_T = TypeVar("_T")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1
    (
        """
        CREATE TABLE decisions (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            decision_id  TEXT    NOT NULL UNIQUE,
            kind         TEXT    NOT NULL,
            ts           TEXT    NOT NULL,
            session_date TEXT,
            payload      TEXT    NOT NULL CHECK (json_valid(payload)),
            published    INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
            published_at TEXT
        )
        """,
        "CREATE INDEX decisions_unpublished ON decisions (seq) WHERE published = 0",
        """
        CREATE TABLE snapshot (
            id       INTEGER PRIMARY KEY CHECK (id = 1),
            saved_at TEXT NOT NULL,
            data     BLOB NOT NULL
        )
        """,
    ),
    # v2: broker executions (keyed by IB execId) and placed orders' state changes
    (
        """
        CREATE TABLE executions (
            exec_id   TEXT PRIMARY KEY,
            order_ref TEXT NOT NULL,
            ts        TEXT NOT NULL,
            payload   TEXT NOT NULL CHECK (json_valid(payload))
        )
        """,
        "CREATE INDEX executions_order_ref ON executions (order_ref)",
        """
        CREATE TABLE order_events (
            seq       INTEGER PRIMARY KEY AUTOINCREMENT,
            order_ref TEXT NOT NULL,
            status    TEXT NOT NULL,
            ts        TEXT NOT NULL,
            payload   TEXT NOT NULL CHECK (json_valid(payload))
        )
        """,
    ),
)
"""Migration ``i`` brings ``user_version`` from ``i`` to ``i + 1``. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)
"""``PRAGMA user_version`` of a journal this build has migrated."""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, one transaction per step.

    Raises:
        DataError: the file was written by a newer build (``user_version`` too high).
    """
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise DataError(f"journal schema v{version} is newer than this build's v{SCHEMA_VERSION}")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target:d}")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One explicit transaction: committed on success, rolled back on any error.

    Raises:
        sqlite3.Error: the statement or the commit failed (nothing was written).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _synchronous_normal(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the enclosed transaction with ``synchronous=NORMAL``, then back to ``FULL``.

    Only for the "published" marks (module docstring). The pragma takes effect for the
    transactions committed while it is set; it is switched outside any transaction.

    Raises:
        InvariantViolation: called inside an open transaction.
        sqlite3.Error: the statement or the commit failed.
    """
    if conn.in_transaction:
        raise InvariantViolation("synchronous switched inside a transaction")
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous = FULL")


def _enable_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL (persistent in the file).

    Raises:
        DataError: the file system refused WAL (e.g. a network mount).
    """
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if str(mode).lower() != "wal":
        raise DataError(f"journal {path}: WAL mode refused (got {mode!r})")


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` in WAL mode and migrate it (runs in a worker thread).

    Raises:
        DataError: the file is not a usable SQLite database.
    """
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise DataError(f"cannot open journal {path}: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        _enable_wal(conn, path)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise DataError(f"journal {path} is not usable: {exc}") from exc
    except DataError:
        conn.close()
        raise
    return conn


_IDENTITY_TABLE = """
    CREATE TABLE IF NOT EXISTS journal_identity (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        source     TEXT NOT NULL,
        instance   TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
"""
"""Which source/instance a journal belongs to (created on first claim; no schema bump)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalIdentity:
    """The owner of a journal file: the source and MQTT instance of the run that created it."""

    source: str
    instance: str
    created_at: str
    """ISO UTC time the identity was recorded."""
    is_new: bool
    """True when this call recorded it (first run on the file)."""


_Job = tuple[Callable[[], object], asyncio.AbstractEventLoop, "asyncio.Future[object]"]
"""A call for the journal thread: the function, the loop waiting and its future."""


def _resolve(future: asyncio.Future[object], result: object, error: BaseException | None) -> None:
    """Complete ``future`` on its loop (unless its waiter was cancelled meanwhile)."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _JournalThread:
    """One thread that runs a journal's calls in order, off the event loop.

    Issue 9: replaces ``asyncio.to_thread`` (the default executor) on the burst's path.
    A call is queued with its loop's future; the thread runs it and completes the
    future with ``loop.call_soon_threadsafe``. A cancelled waiter does not stop a call
    already queued (as with ``to_thread``): the call still runs to its end, its result
    is dropped. ``stop`` lets the queued calls finish, then ends the thread.

    Args:
        name: the thread's name (shown in ``py-spy`` and thread dumps).
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._stopped = False
        self._thread.start()

    @property
    def is_stopped(self) -> bool:
        """True once ``stop`` was called (no call is accepted any more)."""
        return self._stopped

    def _main(self) -> None:
        jobs = self._jobs
        while (job := jobs.get()) is not None:
            fn, loop, future = job
            result: object = None
            error: BaseException | None = None
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_resolve, future, result, error)
            del job, fn, loop, future, result, error

    async def run(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn()`` on the journal thread and return its result (or raise its error).

        Raises:
            InvariantViolation: the thread was stopped (the journal is closed).
            BaseException: whatever ``fn`` raised.
        """
        if self._stopped:
            raise InvariantViolation("journal thread stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return await future  # type: ignore[return-value]  # fn's result, set by _main

    def stop_nowait(self) -> None:
        """Let the queued calls finish, then end the thread, without waiting (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._jobs.put(None)

    async def stop(self) -> None:
        """Finish the queued calls, end the thread and join it (idempotent)."""
        self.stop_nowait()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)


_SNAPSHOT_UPSERT = (
    "INSERT INTO snapshot (id, saved_at, data) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data"
)


def _utc_now_iso() -> str:
    """Wall-clock UTC now as ISO 8601 (bookkeeping column only, never a decision input)."""
    return datetime.now(UTC).isoformat()


class SqliteJournal:
    """Write-ahead journal of decisions in one SQLite file (implements ``Journal``).

    Create it with ``await SqliteJournal.open(path)`` (or ``async with``); close it with
    ``aclose()``.

    Args:
        conn: an open connection already migrated by ``open``.
        path: the database file, for messages.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._lock = threading.Lock()
        self._thread = _JournalThread(f"journal:{path.name}")
        # a journal dropped without ``aclose`` (a test, a failed start) ends its thread
        weakref.finalize(self, self._thread.stop_nowait)

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        """Open (creating if needed) and migrate the journal at ``path``.

        Raises:
            DataError: the file is unusable or written by a newer schema.
        """
        p = Path(path)
        conn = await asyncio.to_thread(_connect, p)
        return cls(conn, p)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn(conn)`` on the journal thread under the connection lock.

        Raises:
            InvariantViolation: the journal is closed (a shutdown-order bug).
            JournalError: SQLite could not read or write the file (disk full, ...).
        """

        def call() -> _T:
            with self._lock:
                if self._conn is None:
                    raise InvariantViolation(f"journal {self._path} used after close")
                try:
                    return fn(self._conn)
                except sqlite3.Error as exc:
                    raise JournalError(
                        f"journal {self._path} cannot be written: {exc}",
                        path=str(self._path),
                        cause=str(exc),
                    ) from exc

        if self._thread.is_stopped:
            raise InvariantViolation(f"journal {self._path} used after close")
        return await self._thread.run(call)

    async def append(self, decision: Decision) -> bool:
        """Store ``decision`` (unpublished) before it is published.

        Returns:
            False when the same ``decision_id`` is already stored: do not publish again.
        """
        (is_new,) = await self.append_many([decision])
        return is_new

    async def append_many(self, decisions: Sequence[Decision]) -> list[bool]:
        """Store a burst of decisions in ONE transaction (one fsync), in order.

        Issue 9: a session close's burst (up to ~10 decisions) was ten transactions, each
        waiting for its own fsync. All or nothing: a failure rolls the burst back.

        Returns:
            Per decision, False when its ``decision_id`` was already stored (or repeated
            earlier in the burst): do not publish it again.

        Raises:
            JournalError: SQLite could not write the file (nothing of the burst is stored).
        """
        return await self.write_batch(decisions, None)

    async def write_batch(
        self, decisions: Sequence[Decision], snapshot: bytes | None
    ) -> list[bool]:
        """Store ``decisions`` and then the engine ``snapshot`` in ONE transaction (one fsync).

        Issue 9 (group commit): the replay's engine task runs ahead while the journal
        commits; what it produced meanwhile (several closes' decisions and the snapshot of
        the latest state) is committed together. The snapshot is of a state at or after
        every decision in the batch, and both land or neither does, so a restart never
        restores a state whose decisions are missing from the journal.

        Args:
            decisions: in production order (their ``seq`` order).
            snapshot: the engine snapshot to store (None: keep the stored one).

        Returns:
            Per decision, False when its ``decision_id`` was already stored (or repeated
            earlier in the batch): do not publish it again.

        Raises:
            JournalError: SQLite could not write the file (nothing of the batch is stored).
        """
        rows = [
            (
                d.decision_id,
                decision_kind(d),
                d.ts.isoformat(),
                None if isinstance(d, Alert) else d.session_date.isoformat(),
                decision_to_json(d),
            )
            for d in decisions
        ]
        stamp = _utc_now_iso()

        def insert(conn: sqlite3.Connection) -> list[bool]:
            sql = (
                "INSERT INTO decisions (decision_id, kind, ts, session_date, payload)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (decision_id) DO NOTHING"
            )
            with _transaction(conn):
                news = [conn.execute(sql, row).rowcount == 1 for row in rows]
                if snapshot is not None:
                    conn.execute(_SNAPSHOT_UPSERT, (stamp, sqlite3.Binary(snapshot)))
                return news

        if not rows and snapshot is None:
            return []
        return await self._run(insert)

    async def append_execution(self, exec_id: str, order_ref: str, ts: str, payload: str) -> bool:
        """Store one broker execution once (keyed by IB's ``execId``).

        Args:
            exec_id: IB execution id (unique per execution, stable across reconnects).
            order_ref: the order's orderRef.
            ts: ISO-8601 UTC time of the execution.
            payload: the execution as JSON (adapter-defined fields).

        Returns:
            False when this ``exec_id`` was already stored (a replayed execution).
        """

        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT INTO executions (exec_id, order_ref, ts, payload) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (exec_id) DO NOTHING",
                (exec_id, order_ref, ts, payload),
            )
            return cur.rowcount == 1

        return await self._run(insert)

    async def executions(self) -> list[str]:
        """Every stored execution's JSON payload, in insertion order."""

        def select(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT payload FROM executions ORDER BY rowid").fetchall()
            return [str(r[0]) for r in rows]

        return await self._run(select)

    async def append_order_event(self, order_ref: str, status: str, ts: str, payload: str) -> None:
        """Store one state change of a placed order (submitted, filled, expired, ...)."""

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO order_events (order_ref, status, ts, payload) VALUES (?, ?, ?, ?)",
                (order_ref, status, ts, payload),
            )

        await self._run(insert)

    async def order_events(self) -> list[str]:
        """Every stored order state change's JSON payload, oldest first."""

        def select(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT payload FROM order_events ORDER BY seq").fetchall()
            return [str(r[0]) for r in rows]

        return await self._run(select)

    async def mark_published(self, decision_id: str) -> None:
        """Record that ``decision_id`` was delivered to every sink (idempotent).

        Committed with ``synchronous=NORMAL`` (module docstring): survives a crash of the
        process; a power cut may roll it back, and then the decision is re-sent with the
        same ``decision_id`` at the next start.
        """
        await self.mark_published_many([decision_id])

    async def mark_published_many(self, decision_ids: Sequence[str]) -> None:
        """``mark_published`` for several ids in ONE transaction (a pipelined window).

        One ``synchronous=NORMAL`` transaction: a WAL append, no fsync (module docstring).
        """
        stamp = _utc_now_iso()
        rows = [(stamp, decision_id) for decision_id in decision_ids]

        def update(conn: sqlite3.Connection) -> None:
            sql = (
                "UPDATE decisions SET published = 1, published_at = ?"
                " WHERE decision_id = ? AND published = 0"
            )
            with _synchronous_normal(conn):
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                    return
                with _transaction(conn):
                    conn.executemany(sql, rows)

        if rows:
            await self._run(update)

    async def unpublished(self) -> Sequence[JournalRecord]:
        """Decisions stored but not yet published, oldest first.

        Raises:
            DataError: a stored payload cannot be read back.
        """

        def select(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            return conn.execute(
                "SELECT seq, payload FROM decisions WHERE published = 0 ORDER BY seq"
            ).fetchall()

        rows = await self._run(select)
        return [
            JournalRecord(seq=seq, decision=decision_from_json(payload), published=False)
            for seq, payload in rows
        ]

    async def records(self) -> Sequence[JournalRecord]:
        """Every stored decision, oldest first (replay summaries, tests)."""

        def select(conn: sqlite3.Connection) -> list[tuple[int, str, int]]:
            return conn.execute(
                "SELECT seq, payload, published FROM decisions ORDER BY seq"
            ).fetchall()

        rows = await self._run(select)
        return [
            JournalRecord(seq=seq, decision=decision_from_json(payload), published=bool(pub))
            for seq, payload, pub in rows
        ]

    async def load_snapshot(self) -> bytes | None:
        """The engine snapshot saved last, if any."""

        def select(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute("SELECT data FROM snapshot WHERE id = 1").fetchone()
            return None if row is None else bytes(row[0])

        return await self._run(select)

    async def save_snapshot(self, snapshot: bytes) -> None:
        """Replace the stored engine snapshot with ``snapshot``."""
        stamp = _utc_now_iso()

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(_SNAPSHOT_UPSERT, (stamp, sqlite3.Binary(snapshot)))

        await self._run(upsert)

    async def count(self) -> int:
        """Number of stored decisions."""

        def select(conn: sqlite3.Connection) -> int:
            (n,) = conn.execute("SELECT count(*) FROM decisions").fetchone()
            return int(n)

        return await self._run(select)

    async def all_ids(self) -> list[str]:
        """Every stored ``decision_id``, in insertion order."""

        def select(conn: sqlite3.Connection) -> list[str]:
            return [r[0] for r in conn.execute("SELECT decision_id FROM decisions ORDER BY seq")]

        return await self._run(select)

    async def schema_version(self) -> int:
        """``PRAGMA user_version`` of the open file."""

        def select(conn: sqlite3.Connection) -> int:
            (v,) = conn.execute("PRAGMA user_version").fetchone()
            return int(v)

        return await self._run(select)

    # ----------------------------------------------------------------- identity (issue 6 §6)

    async def claim_identity(self, *, source: str, instance: str) -> JournalIdentity:
        """Record, or check, which source and MQTT instance this journal belongs to.

        The first run on a journal records ``(source, instance)``; later runs must match,
        so that a replay's snapshot is never restored into a simulator or live run.

        Args:
            source: ``sim``, ``replay`` or ``ibkr``.
            instance: ``mqtt.instance``.

        Returns:
            The recorded identity (``created_at`` ISO UTC, and whether it was just recorded).

        Raises:
            ConfigError: the journal belongs to another source or instance; the message
                names the file, both identities and how to proceed.
        """

        def claim(conn: sqlite3.Connection) -> JournalIdentity:
            conn.execute(_IDENTITY_TABLE)
            row = conn.execute(
                "SELECT source, instance, created_at FROM journal_identity WHERE id = 1"
            ).fetchone()
            if row is None:
                stamp = _utc_now_iso()
                conn.execute(
                    "INSERT INTO journal_identity (id, source, instance, created_at)"
                    " VALUES (1, ?, ?, ?)",
                    (source, instance, stamp),
                )
                return JournalIdentity(
                    source=source, instance=instance, created_at=stamp, is_new=True
                )
            return JournalIdentity(
                source=str(row[0]), instance=str(row[1]), created_at=str(row[2]), is_new=False
            )

        identity = await self._run(claim)
        if (identity.source, identity.instance) != (source, instance):
            raise ConfigError(
                f"journal {self._path} belongs to source {identity.source!r}, instance "
                f"{identity.instance!r} (since {identity.created_at}), not to this run's "
                f"source {source!r}, instance {instance!r}: give this run its own journal "
                "(--journal PATH, or leave journal.path unset for one file per source), or "
                "delete the file to start afresh",
                key="journal.path",
            )
        return identity

    async def snapshot_saved_at(self) -> str | None:
        """When the stored engine snapshot was saved (ISO UTC), ``None`` without one."""

        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT saved_at FROM snapshot WHERE id = 1").fetchone()
            return None if row is None else str(row[0])

        return await self._run(select)

    async def aclose(self) -> None:
        """Checkpoint and close the connection (idempotent).

        On a full or failing disk the optimisation step is skipped (logged by the caller's
        alert already); the connection is closed in every case.
        """

        def close() -> None:
            with self._lock:
                conn, self._conn = self._conn, None
            if conn is not None:
                # disk full/read-only: closing matters, optimising does not
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA optimize")
                conn.close()

        if self._thread.is_stopped:
            return
        try:
            await self._thread.run(close)
        finally:
            await self._thread.stop()
