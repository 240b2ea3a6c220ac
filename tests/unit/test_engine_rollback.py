"""A skipped close leaves nothing half-applied: the whole engine state is rolled back.

Issue 6 §3 rolls the engine back when a close fails on an extreme state; issue 9 made the
save behind that rollback an in-memory copy instead of the snapshot's JSON-able dict. This
test compares the *whole* snapshot (every key but the signal book, whose closes are
committed before the evaluation), on a real close of the 2008 history whose evaluation
proposed orders, booked them and marked the books before the injected failure.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import daemon.core.engine as engine_mod
from adapters.replay import ReplaySource
from daemon.app import trading_sessions, warm_up
from daemon.core.accounting import day_summary
from daemon.core.engine import Engine
from daemon.core.model import Alert, AlertKind, MarketEvent, ProposedOrder, Quote, SessionClose
from daemon.settings import DEFAULT_CONFIG_PATH, load_settings


def _engines_and_events(market_dir: Path) -> tuple[Engine, Engine, list[MarketEvent]]:
    settings = load_settings(DEFAULT_CONFIG_PATH)
    params = settings.to_params()

    async def build() -> tuple[Engine, Engine, list[MarketEvent]]:
        source = ReplaySource(
            market_dir,
            start=date(2008, 9, 2),
            end=date(2008, 12, 31),
            warmup_days=settings.replay.warmup_days,
        )
        twins = []
        for _ in range(2):
            eng = Engine(params, sessions=trading_sessions(), track_baseline=True)
            await warm_up(eng, source, settings.replay.warmup_days)
            twins.append(eng)
        events = [e async for e in source.events()]
        return twins[0], twins[1], events

    return asyncio.run(build())


def _state(eng: Engine) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(eng.snapshot())
    del d["book"]  # the signal book: the close's prices are committed before the guard
    return d


def test_a_close_failing_after_its_orders_rolls_back_every_part_of_the_state(
    market_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, failing, events = _engines_and_events(market_dir)
    real_day_summary = day_summary

    def fail(*args: object, **kwargs: object) -> object:
        raise ValueError("injected: the day summary failed")

    for ev in events:
        if isinstance(ev, Quote):
            reference.on_quote(ev)
            failing.on_quote(ev)
            continue
        assert isinstance(ev, SessionClose)
        before = _state(failing)
        out = reference.on_session_close(ev.session_date, ev.ts)
        if not any(isinstance(d, ProposedOrder) for d in out):
            monkeypatch.setattr(engine_mod, "day_summary", real_day_summary)
            failing.on_session_close(ev.session_date, ev.ts)
            continue
        # This close proposes orders: fail it at its last step, after the orders were
        # booked into the hedge book, the ids drawn and the books marked.
        assert _state(reference) != before
        days_before = list(failing.days)
        monkeypatch.setattr(engine_mod, "day_summary", fail)
        skipped = failing.on_session_close(ev.session_date, ev.ts)
        assert [(a.kind, a.severity.value) for a in skipped if isinstance(a, Alert)] == [
            (AlertKind.ENGINE, "warning")
        ]
        assert not [d for d in skipped if isinstance(d, ProposedOrder)]
        assert failing.skipped_evaluations == 1
        after = _state(failing)
        assert after.keys() == before.keys()
        for key in before:
            assert after[key] == before[key], key
        assert list(failing.days) == days_before
        return
    pytest.fail("no close of autumn 2008 proposed an order")
