"""Snapshots taken by the journal writer at commit time (issue 9), with the real SQLite journal.

With a journal that commits in groups (``write_batch``), the replay's engine task no
longer encodes the ≈ 15 KB snapshot after each close with a decision: it asks, and the
writer encodes the engine's state once per commit, only while the engine is still at the
state asked for. Fewer encodes, and a run killed mid-replay still restores a snapshot
whose decisions are all in the journal: re-fed from there it journals exactly the decision
ids of an uninterrupted run, each once, and ends in the same engine state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from adapters.sqlite.journal import SqliteJournal
from daemon import pipeline as pipeline_module
from daemon.app import warm_up
from daemon.core.engine import Engine
from daemon.core.model import Decision
from daemon.pipeline import Pipeline
from tests.unit.test_snapshot_policy import (
    KILL_AT,
    START,
    _engine,
    _Killed,
    _KilledAt,
    _run,
    _settings,
    _source,
)
from tests.unit.test_snapshot_policy import (
    _pipeline as _policy_pipeline,
)


class _CheckedJournal(SqliteJournal):
    """Checks, at each commit with a snapshot, that the engine's past is all journaled."""

    pipeline: Pipeline | None = None
    committed = 0
    snapshots = 0

    async def write_batch(
        self, decisions: Sequence[Decision], snapshot: bytes | None
    ) -> list[bool]:
        self.committed += len(decisions)
        if snapshot is not None and self.pipeline is not None:
            self.snapshots += 1
            # every decision the engine produced before this state is in this commit or
            # an earlier one: a restore from it can never skip an unjournaled decision
            assert self.pipeline._produced == self.committed
        return await super().write_batch(decisions, snapshot)


async def _until_a_snapshot_is_stored(journal: SqliteJournal) -> None:
    """Wait (bounded) until the journal holds a snapshot.

    The engine runs ahead of the journal writer; on a loaded machine the writer may not
    have committed anything by the kill day, and a restart then has no snapshot to test.
    The wait is bounded, so a writer that never stores a snapshot still fails the test.
    """
    async with asyncio.timeout(30):
        while await journal.load_snapshot() is None:  # noqa: ASYNC110 - polls the journal file
            await asyncio.sleep(0.01)


def _pipeline(engine: Engine, source: object, journal: SqliteJournal) -> Pipeline:
    if isinstance(journal, _CheckedJournal):
        journal.pipeline = _policy_pipeline(engine, source, journal)
        return journal.pipeline
    return _policy_pipeline(engine, source, journal)


@pytest.mark.parametrize("eager_closes", [None, 20], ids=["commit-time", "eager-fallback"])
async def test_commit_time_snapshots_restore_exactly(
    market_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eager_closes: int | None
) -> None:
    """Exact restart; with ``eager_closes`` the engine task's fallback encodes too."""
    if eager_closes is not None:
        monkeypatch.setattr(pipeline_module, "_EAGER_SNAPSHOT_CLOSES", eager_closes)
    settings = _settings()

    # Uninterrupted run: snapshots are taken at commit time, at most one per close with
    # decisions plus the last one, and the stored one is the final state.
    engine = _engine(settings)
    full = _source(market_dir, settings, START)
    await warm_up(engine, full, settings.replay.warmup_days)
    async with await _CheckedJournal.open(tmp_path / "whole.sqlite") as journal:
        whole = _pipeline(engine, full, journal)
        await _run(whole)
        assert 1 <= journal.snapshots <= whole.snapshots_saved  # stored <= encoded
        expected = await journal.all_ids()
        assert whole.stats.decisions == len(expected) > 0
        assert 1 <= whole.snapshots_saved <= whole.stats.decisions + 1
        assert whole.snapshots_saved < whole.stats.session_closes / 2
        if eager_closes is not None:  # at least one save per eager_closes closes
            assert whole.snapshots_saved >= whole.stats.session_closes // eager_closes
        assert await journal.load_snapshot() == engine.snapshot()
        assert await journal.unpublished() == []
    final_state = engine.snapshot()

    # Killed run, then a restart from its stored snapshot on the same journal file.
    path = tmp_path / "killed.sqlite"
    engine = _engine(settings)
    full = _source(market_dir, settings, START)
    await warm_up(engine, full, settings.replay.warmup_days)
    async with await SqliteJournal.open(path) as journal:
        killed = _pipeline(
            engine,
            _KilledAt(full, KILL_AT, before_kill=lambda: _until_a_snapshot_is_stored(journal)),
            journal,
        )
        try:
            await _run(killed)
        except _Killed:
            pass
        else:  # pragma: no cover - the kill must happen
            raise AssertionError("the first run was not killed")
        await asyncio.sleep(0.2)  # a commit the cancelled writer left in its thread lands
        journaled_before = await journal.all_ids()
        blob = await journal.load_snapshot()
    assert blob is not None
    assert killed.snapshots_saved >= 1
    snapshot_day = max(date.fromisoformat(d) for d in json.loads(blob)["price_day"].values())
    assert snapshot_day < KILL_AT

    engine = _engine(settings)
    engine.restore(blob)
    later = min(d for d in full.sessions if d > snapshot_day)
    async with await SqliteJournal.open(path) as journal:
        restarted = _pipeline(engine, _source(market_dir, settings, later), journal)
        await _run(restarted)
        ids = await journal.all_ids()
        assert await journal.unpublished() == []
    assert ids == expected
    assert len(set(ids)) == len(ids)  # each once
    assert ids[: len(journaled_before)] == journaled_before
    assert engine.snapshot() == final_state
