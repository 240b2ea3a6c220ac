"""Fixtures of the IBKR adapter tests: a fake TWS on loopback and a running adapter."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest_asyncio

from adapters.ib.config import IbConfig
from adapters.ib.connection import IbConnection
from adapters.ib.market_data import IbMarketDataSource
from daemon.supervisor import cancel_until_done
from tests.fakes.tws import FakeTws

AS_OF = date(2020, 2, 24)
"""The fake's today: the Monday the Feb-2020 sell-off started (VIX 17 → 25)."""


def fast_config(port: int, **overrides: object) -> IbConfig:
    """Adapter settings with test-sized timeouts and backoff."""
    base = IbConfig(
        host="127.0.0.1",
        port=port,
        client_id=11,
        connect_timeout_s=3.0,
        request_timeout_s=3.0,
        backoff_initial_s=0.05,
        backoff_max_s=0.3,
        stale_after_s=30.0,
        check_interval_s=0.05,
        # the fake fills only marketable limits: 10% over the mid crosses its spreads (a
        # combo's net spread is wider, relative to its net mid, than one option's)
        limit_offset_frac=0.10,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="session")
async def tws(market_dir: Path) -> AsyncIterator[FakeTws]:
    async with FakeTws(market_dir, as_of=AS_OF) as fake:
        yield fake


@contextlib.asynccontextmanager
async def running(
    conn: IbConnection, *tasks: Callable[[], Awaitable[None]], ready_timeout_s: float = 5.0
) -> AsyncIterator[IbConnection]:
    """Run ``conn.run`` and the given component tasks until the block exits.

    On exit each task is cancelled until it ends (``daemon.supervisor.cancel_until_done``,
    as the daemon stops its components): ib_async's ``wait_for`` may swallow a cancel on
    Python 3.11 (CPython gh-86296), and the task group would then wait forever.
    """
    stopping: asyncio.Future[list[None]] | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            handles = [tg.create_task(conn.run(), name="ib.connection")]
            handles += [tg.create_task(t(), name=f"ib.task{i}") for i, t in enumerate(tasks)]  # type: ignore[arg-type]
            try:
                await conn.wait_ready(ready_timeout_s)
                yield conn
            finally:
                # not in the group: a group that is aborting takes no new task
                stopping = asyncio.ensure_future(
                    asyncio.gather(*(cancel_until_done(h, h.get_name()) for h in handles))
                )
    finally:
        if stopping is not None:
            await stopping
        await conn.close()


async def eventually(
    check: Callable[[], bool], timeout_s: float = 3.0, step_s: float = 0.01
) -> None:
    """Wait until ``check()`` holds (fails the test after ``timeout_s``)."""
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - polls state the fake and ib_async mutate
            await asyncio.sleep(step_s)


async def push_and_wait(tws: FakeTws, md: IbMarketDataSource, day: date) -> None:
    """Push the closes of ``day`` and wait until ib_async holds every one of them."""
    tws.push_session(day)
    expected = {}
    for symbol, contract in md.book.contracts.items():
        bar = tws.data.bar_on(tws.instruments[contract.conId].series, day)
        if bar is not None:
            expected[symbol] = (contract, bar.close)

    def arrived() -> bool:
        for contract, close in expected.values():
            ticker = md.conn.ib.ticker(contract)
            if ticker is None or ticker.last != close:
                return False
        return True

    await eventually(arrived)
