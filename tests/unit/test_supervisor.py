"""daemon.supervisor: clean stops, crashes, signals and the LIFO shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from daemon.errors import EXIT_IOERR, ConfigError, JournalError, PublishFailed
from daemon.supervisor import Cleanup, TaskSpec, run


class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.notified: list[str] = []

    def notify(self, msg: str) -> bool:
        self.notified.append(msg)
        return True

    def cleanup(self, name: str, delay_s: float = 0.0) -> Cleanup:
        async def close() -> None:
            await asyncio.sleep(delay_s)
            self.log.append(f"closed {name}")

        return Cleanup(name=name, close=close, timeout_s=0.5)

    def forever(self, name: str) -> TaskSpec:
        async def body() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.log.append(f"cancelled {name}")
                raise

        return TaskSpec(name=name, run=body)


def steps(r: Recorder) -> list[Cleanup]:
    # Registered in start-up order; they must run in reverse.
    return [r.cleanup("journal"), r.cleanup("publisher"), r.cleanup("drain"), r.cleanup("source")]


async def test_essential_tasks_done_means_clean_exit_and_lifo_cleanup() -> None:
    r = Recorder()

    async def work() -> None:
        await asyncio.sleep(0.01)
        r.log.append("work done")

    code = await run(
        [TaskSpec(name="work", run=work, is_essential=True), r.forever("mqtt")],
        cleanups=steps(r),
        notify=r.notify,
        signals=(),
    )
    assert code == 0
    assert r.log == [
        "work done",
        "cancelled mqtt",
        "closed source",
        "closed drain",
        "closed publisher",
        "closed journal",
    ]
    assert r.notified[0].startswith("READY=1")
    assert r.notified[-1] == "STOPPING=1"


async def test_a_crashed_task_cancels_siblings_runs_cleanups_and_exits_1() -> None:
    r = Recorder()

    async def boom() -> None:
        await asyncio.sleep(0.01)
        raise PublishFailed("broker gone for good")

    code = await run(
        [TaskSpec(name="boom", run=boom), r.forever("engine")],
        cleanups=steps(r),
        notify=r.notify,
        signals=(),
    )
    assert code == 1
    assert r.log[0] == "cancelled engine"
    assert r.log[1:] == ["closed source", "closed drain", "closed publisher", "closed journal"]


async def test_a_config_error_in_a_task_exits_78() -> None:
    async def bad() -> None:
        raise ConfigError("ib.port out of range", key="ib.port")

    assert await run([TaskSpec(name="bad", run=bad)], signals=()) == 78


async def test_sigterm_is_a_clean_stop() -> None:
    r = Recorder()

    async def send_sigterm() -> None:
        await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    code = await run(
        [r.forever("engine"), TaskSpec(name="killer", run=send_sigterm)],
        cleanups=steps(r),
        notify=r.notify,
    )
    assert code == 0
    assert "cancelled engine" in r.log
    assert r.log[-1] == "closed journal"
    # The handlers are removed again: the default SIGTERM disposition is back.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


async def test_a_hanging_cleanup_is_bounded_and_the_rest_still_run() -> None:
    r = Recorder()
    stop = asyncio.Event()
    stop.set()
    t0 = time.monotonic()
    code = await run(
        [r.forever("engine")],
        cleanups=[r.cleanup("journal"), r.cleanup("publisher", delay_s=30.0)],
        stop=stop,
        signals=(),
    )
    assert time.monotonic() - t0 < 2.0
    assert code == 1  # a cleanup that timed out is reported
    assert r.log[-1] == "closed journal"


async def test_every_cleanup_shares_the_shutdown_budget() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    async def work() -> None:
        await asyncio.sleep(0.01)

    steps = [Cleanup(name=f"hang{i}", close=hang) for i in range(3)]  # no own timeout
    started = time.monotonic()
    code = await run(
        [TaskSpec(name="work", run=work, is_essential=True)],
        cleanups=steps,
        signals=(),
        shutdown_timeout_s=0.3,
    )
    took_s = time.monotonic() - started
    assert took_s < 0.6, f"three hanging steps took {took_s:.2f} s with a 0.3 s budget"
    assert code == 1  # a step that did not finish is a failed shutdown


async def test_a_journal_error_exits_74() -> None:
    async def disk_full() -> None:
        raise JournalError("journal x: disk full", path="x", cause="database or disk is full")

    code = await run([TaskSpec(name="engine", run=disk_full)], signals=())
    assert code == EXIT_IOERR


async def test_a_task_that_swallows_the_first_cancel_still_stops_and_cleans_up() -> None:
    """SIGTERM while a library swallowed the cancel (3.11 ``wait_for``, CPython gh-86296).

    Before, the task group waited on such a task forever: no ``offline``, no journal close,
    systemd's SIGKILL after ``TimeoutStopSec``. Now it is cancelled again and the shutdown
    runs its cleanups within about one ``RECANCEL_INTERVAL_S``.
    """
    r = Recorder()

    async def swallows_once() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            r.log.append("swallowed")  # as wait_for does when its result is already in
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            r.log.append("cancelled again")
            raise

    async def send_sigterm() -> None:
        await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    started = time.monotonic()
    async with asyncio.timeout(5):  # the bug: run() never returned
        code = await run(
            [
                TaskSpec(name="ib.connection", run=swallows_once),
                TaskSpec(name="k", run=send_sigterm),
            ],
            cleanups=steps(r),
            notify=r.notify,
        )
    assert code == 0
    assert r.log[:2] == ["swallowed", "cancelled again"]
    assert r.log[-1] == "closed journal"
    assert time.monotonic() - started < 2.0
