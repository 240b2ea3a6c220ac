"""Snapshots when they matter (issue 9): fewer writes, and a restart is still exact.

The real engine on the real 2020 history through the pipeline: the snapshot is written
after closes with decisions, on a timer and at the end of the source, not at every close;
a run killed mid-replay restores its last snapshot (older than the journal's last
decision) and, re-fed from there, journals exactly the decision ids of an uninterrupted
run, each once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

from adapters.replay import ReplaySource
from daemon.app import trading_sessions, warm_up
from daemon.core.engine import Engine
from daemon.core.model import MarketEvent, SessionClose
from daemon.pipeline import Pipeline
from daemon.ports import Journal
from daemon.settings import DEFAULT_CONFIG_PATH, Settings, load_settings
from tests.fakes.ports import FakeClock, InMemoryJournal, RecordingAlertSink, RecordingOrderSink

START, END = date(2020, 1, 2), date(2020, 6, 30)
KILL_AT = date(2020, 4, 14)
"""The killed run dies at this session's first quote (its close never happens)."""


class _Killed(Exception):
    """The simulated SIGKILL of the first run."""


class _KilledAt:
    """A source that dies at the first quote of ``day`` (like a process killed there).

    ``before_kill``, if given, is awaited just before the kill (a test that needs some
    state reached first, e.g. a stored snapshot).
    """

    def __init__(
        self,
        source: ReplaySource,
        day: date,
        before_kill: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._source = source
        self._day = day
        self._before_kill = before_kill

    async def events(self) -> AsyncIterator[MarketEvent]:
        async for event in self._source.events():
            if not isinstance(event, SessionClose) and event.ts.date() >= self._day:
                if self._before_kill is not None:
                    await self._before_kill()
                raise _Killed
            yield event

    def rejected_count(self) -> int:
        return self._source.rejected_count()


def _settings() -> Settings:
    return load_settings(DEFAULT_CONFIG_PATH)


def _engine(settings: Settings) -> Engine:
    return Engine(settings.to_params(), sessions=trading_sessions(), assume_fills=True)


def _pipeline(
    engine: Engine, source: object, journal: Journal, *, snapshot_every_s: float = 60.0
) -> Pipeline:
    return Pipeline(
        engine,
        source,  # type: ignore[arg-type]
        journal,
        RecordingOrderSink(),
        RecordingAlertSink(),
        FakeClock(),
        debounce_s=0.25,
        interval_s=60.0,
        is_live=False,
        outbox_size=10_000,
        snapshot_every_s=snapshot_every_s,
    )


async def _run(pipeline: Pipeline) -> None:
    await asyncio.gather(pipeline.run_engine(), pipeline.run_publisher())


def _source(market_dir: Path, settings: Settings, start: date) -> ReplaySource:
    return ReplaySource(market_dir, start=start, end=END, warmup_days=settings.replay.warmup_days)


async def _uninterrupted(market_dir: Path) -> tuple[list[str], Pipeline, Engine]:
    settings = _settings()
    engine = _engine(settings)
    source = _source(market_dir, settings, START)
    await warm_up(engine, source, settings.replay.warmup_days)
    journal = InMemoryJournal()
    pipeline = _pipeline(engine, source, journal)
    await _run(pipeline)
    return journal.all_ids(), pipeline, engine


async def test_snapshots_follow_decisions_not_every_close(market_dir: Path) -> None:
    ids, pipeline, _ = await _uninterrupted(market_dir)
    stats = pipeline.stats
    assert stats.decisions == len(ids) > 0
    # at most one per close with decisions, plus the final one: far fewer than closes
    assert 1 <= pipeline.snapshots_saved < stats.session_closes / 2
    assert pipeline.snapshots_saved <= stats.decisions + 1


async def test_a_timer_saves_quiet_closes_too(market_dir: Path) -> None:
    settings = _settings()
    engine = _engine(settings)
    source = _source(market_dir, settings, START)
    await warm_up(engine, source, settings.replay.warmup_days)
    pipeline = _pipeline(engine, source, InMemoryJournal(), snapshot_every_s=0.0)
    await _run(pipeline)
    assert pipeline.snapshots_saved == pipeline.stats.session_closes


async def test_restart_from_a_mid_replay_snapshot_gives_the_same_decision_ids(
    market_dir: Path,
) -> None:
    expected, _, uninterrupted = await _uninterrupted(market_dir)

    # First run: killed at KILL_AT; its snapshot is that of its last close with a decision.
    settings = _settings()
    journal = InMemoryJournal()
    engine = _engine(settings)
    full = _source(market_dir, settings, START)
    await warm_up(engine, full, settings.replay.warmup_days)
    killed = _pipeline(engine, _KilledAt(full, KILL_AT), journal)
    try:
        await _run(killed)
    except _Killed:
        pass
    else:  # pragma: no cover - the kill must happen
        raise AssertionError("the first run was not killed")
    blob = await journal.load_snapshot()
    assert blob is not None
    snapshot_day = max(date.fromisoformat(d) for d in json.loads(blob)["price_day"].values())
    last_close = max(d for d in full.sessions if d < KILL_AT)
    assert snapshot_day < last_close, "the test must restore a snapshot older than the kill"
    journaled_before = journal.all_ids()

    # Restart: restore, re-feed the sessions after the snapshot, same journal.
    engine = _engine(settings)
    engine.restore(blob)
    later = min(d for d in full.sessions if d > snapshot_day)
    restarted = _pipeline(engine, _source(market_dir, settings, later), journal)
    await _run(restarted)

    assert journal.all_ids() == expected
    assert len(set(journal.all_ids())) == len(expected)  # each once
    assert journal.all_ids()[: len(journaled_before)] == journaled_before
    # the quiet sessions between the snapshot and the kill were re-derived (no decision)
    assert restarted.stats.session_closes > len([d for d in full.sessions if d >= KILL_AT])
    assert engine.snapshot() == uninterrupted.snapshot()
