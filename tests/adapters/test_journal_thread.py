"""The journal's own thread (issue 9): every call off the event loop, in order, joined at close.

``SqliteJournal`` runs its SQLite calls on one dedicated thread instead of the default
executor (a shorter hand-off on a burst's path). What must not change: a stalled disk
stalls the journal's callers, never the event loop (and so never MQTT); SQLite's errors
still arrive as ``JournalError``; ``aclose`` ends and joins the thread; a call after
close is a loud ``InvariantViolation``; a cancelled caller leaves the journal usable.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from adapters.sqlite.journal import SqliteJournal
from daemon.errors import InvariantViolation, JournalError
from tests.fakes.decisions import alert

_STALL_S = 0.3
"""How long the fake disk holds each COMMIT of the stalled test (seconds)."""


def _journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("journal:")]


def _conn(journal: SqliteJournal) -> sqlite3.Connection:
    conn = journal._conn
    assert conn is not None
    return conn


async def test_a_stalled_commit_never_stalls_the_event_loop(tmp_path: Path) -> None:
    async with await SqliteJournal.open(tmp_path / "j.sqlite") as journal:
        threads: set[int] = set()

        def slow_disk(statement: str) -> None:  # runs where SQLite runs
            threads.add(threading.get_ident())
            if statement.startswith("COMMIT"):
                time.sleep(_STALL_S)

        _conn(journal).set_trace_callback(slow_disk)
        ticks: list[float] = []

        async def heartbeat() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.005)

        beat = asyncio.create_task(heartbeat())
        started = time.monotonic()
        news = await journal.append_many([alert("s1"), alert("s2"), alert("s1")])
        took_s = time.monotonic() - started
        beat.cancel()
        _conn(journal).set_trace_callback(None)

        assert news == [True, True, False]
        assert took_s >= _STALL_S
        # the loop kept turning through the stall: a tick at least every 50 ms
        during = [t for t in ticks if started <= t <= started + took_s]
        gaps = [b - a for a, b in itertools.pairwise(during)]
        assert len(during) >= 20
        assert max(gaps) < 0.05
        # SQLite ran on one thread, not the loop's
        assert len(threads) == 1
        assert threading.get_ident() not in threads


async def test_sqlite_errors_are_journal_errors_and_the_journal_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with await SqliteJournal.open(path) as journal:
        assert await journal.append(alert("a1")) is True
        _conn(journal).execute("PRAGMA query_only = ON")  # every write now fails
        with pytest.raises(JournalError, match=r"readonly database") as caught:
            await journal.append_many([alert("a2"), alert("a3")])
        assert caught.value.path == str(path)
        _conn(journal).execute("PRAGMA query_only = OFF")
        # nothing of the failed batch was stored; the thread still serves calls
        assert await journal.all_ids() == ["a1"]
        assert await journal.append(alert("a2")) is True


async def test_a_cancelled_caller_leaves_the_call_complete_and_the_journal_usable(
    tmp_path: Path,
) -> None:
    async with await SqliteJournal.open(tmp_path / "j.sqlite") as journal:
        release = threading.Event()
        _conn(journal).set_trace_callback(
            lambda s: release.wait(5.0) if s.startswith("COMMIT") else None
        )
        caller = asyncio.create_task(journal.append(alert("c1")))
        await asyncio.sleep(0.05)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        release.set()  # (the callback stays: unsetting it here would wait for SQLite's mutex)
        # the journal thread finished the call (all or nothing: here all) and goes on
        assert await journal.append(alert("c1")) is False
        assert await journal.all_ids() == ["c1"]


async def test_close_joins_the_thread_and_a_later_call_is_refused(tmp_path: Path) -> None:
    before = set(_journal_threads())
    journal = await SqliteJournal.open(tmp_path / "j.sqlite")
    mine = [t for t in _journal_threads() if t not in before]
    assert len(mine) == 1
    await journal.append(alert("x1"))
    await journal.aclose()
    assert not mine[0].is_alive()
    await journal.aclose()  # idempotent
    with pytest.raises(InvariantViolation, match="used after close"):
        await journal.append(alert("x2"))
    # what was written before the close is on disk
    async with await SqliteJournal.open(tmp_path / "j.sqlite") as reopened:
        assert await reopened.all_ids() == ["x1"]
