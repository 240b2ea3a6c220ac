"""SqliteJournal on a real temporary SQLite file."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from adapters.mqtt.payloads import decision_from_json, decision_to_json
from adapters.sqlite.journal import SCHEMA_VERSION, SqliteJournal
from daemon.errors import DataError
from tests.fakes.decisions import alert, change, order


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


async def test_new_file_is_wal_and_migrated(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        assert await journal.schema_version() == SCHEMA_VERSION == 2
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            # WAL is a property of the file, visible to any other connection.
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("PRAGMA user_version").fetchone()[0] == 2
            columns = {r[1] for r in other.execute("PRAGMA table_info(decisions)")}
        assert {"seq", "decision_id", "kind", "ts", "session_date", "payload"} <= columns
        assert "published" in columns


async def test_append_dedups_on_decision_id(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        assert await journal.append(order("o1")) is True
        assert await journal.append(order("o1")) is False
        assert await journal.append(alert("a1")) is True
        assert await journal.count() == 2
        assert await journal.all_ids() == ["o1", "a1"]


async def test_unpublished_survive_a_restart_oldest_first(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        for d in (change("c1"), order("o1"), alert("a1"), alert("a2")):
            assert await journal.append(d)
        await journal.mark_published("o1")
        await journal.mark_published("o1")  # idempotent

    # "Restart": a new process opens the same file.
    async with await SqliteJournal.open(db_path) as journal:
        pending = await journal.unpublished()
        assert [r.decision.decision_id for r in pending] == ["c1", "a1", "a2"]
        assert [r.seq for r in pending] == sorted(r.seq for r in pending)
        assert pending[0].decision == change("c1")
        assert all(not r.published for r in pending)
        # Re-deriving the same day after the restart must not journal it twice.
        assert await journal.append(order("o1")) is False
        records = await journal.records()
        assert [r.published for r in records] == [False, True, False, False]


async def test_rows_keep_the_wire_json_and_round_trip(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        await journal.append(order("o1"))
        [record] = await journal.unpublished()
        assert record.decision == order("o1")
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
        kind, session, payload = other.execute(
            "SELECT kind, session_date, payload FROM decisions"
        ).fetchone()
    assert (kind, session) == ("order", "2020-02-24")
    assert payload == decision_to_json(order("o1"))
    assert decision_from_json(payload) == order("o1")


async def test_snapshot_round_trip_and_replace(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        assert await journal.load_snapshot() is None
        await journal.save_snapshot(b'{"v": 1, "day": "2020-02-24"}')
        await journal.save_snapshot(b'{"v": 1, "day": "2020-02-25", "bin": "\x00\xff"}')
    async with await SqliteJournal.open(db_path) as journal:
        assert await journal.load_snapshot() == b'{"v": 1, "day": "2020-02-25", "bin": "\x00\xff"}'


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
        other.execute("PRAGMA user_version = 99")
    with pytest.raises(DataError, match="newer"):
        await SqliteJournal.open(db_path)


@pytest.fixture
def garbage_file(db_path: Path) -> Path:
    db_path.write_bytes(b"this is not sqlite" * 100)
    return db_path


async def test_not_a_database_is_a_data_error(garbage_file: Path) -> None:
    with pytest.raises(DataError):
        await SqliteJournal.open(garbage_file)


async def test_corrupt_payload_is_a_data_error(db_path: Path) -> None:
    async with await SqliteJournal.open(db_path) as journal:
        await journal.append(alert("a1"))
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
        other.execute("""UPDATE decisions SET payload = '{"type": "alert", "v": 1}'""")
    async with await SqliteJournal.open(db_path) as journal:
        with pytest.raises(DataError):
            await journal.unpublished()


async def test_executions_are_stored_once_by_exec_id(db_path: Path) -> None:
    """A reconnect replays executions (IB reqExecutions): the execId keeps them single."""
    async with await SqliteJournal.open(db_path) as journal:
        row = (
            "0000e0d5.00000001.01.01",
            "alvh:L1:open:20200318:22:abc",
            "2020-02-24T21:00:00+00:00",
        )
        assert await journal.append_execution(*row, '{"shares": 3}') is True
        assert await journal.append_execution(*row, '{"shares": 3}') is False
        await journal.append_order_event(row[1], "filled", row[2], '{"status": "filled"}')
    async with await SqliteJournal.open(db_path) as journal:
        assert await journal.executions() == ['{"shares": 3}']
        assert await journal.order_events() == ['{"status": "filled"}']
