"""Supervision and shutdown (STYLE.md §2.7).

``run()`` owns one ``asyncio.TaskGroup`` with one named task per component. Shutdown:

1. SIGTERM/SIGINT (``loop.add_signal_handler``) or the end of every *essential* task
   (a replay that has delivered everything) sets the stop event;
2. the watcher task raises ``ShutdownRequested`` inside the group, which cancels the
   siblings; ``except* ShutdownRequested`` makes it a clean exit (code 0);
3. an exception escaping any task is fatal: it is logged with ``exc_info`` at the
   task's top boundary and re-raised there, the group cancels the siblings, and
   ``run`` returns 1 (78 for a ``ConfigError``) so systemd restarts the unit;
4. in both cases the cleanups run afterwards, outside the group, in LIFO order from an
   ``AsyncExitStack``, each under its own ``asyncio.timeout`` (register them in start-up
   order: journal close, publisher close, outbox drain, source stop → they run as
   source stop, drain, publish ``offline``, close journal). The whole sequence shares
   one budget, ``shutdown_timeout_s`` (``service.shutdown_timeout_s``): each step gets
   ``min(its own timeout_s, what is left of the budget)``, so the process exits in time
   even when every step hangs (e.g. the broker is down).

Exit codes: 0 clean stop; 1 crash; 74 (EX_IOERR) the journal could not be written
(``JournalError``); 78 (EX_CONFIG) a ``ConfigError``.

sd_notify is injected (``notify``) so this module does not import adapters: ``READY=1``
once the tasks are started, ``STOPPING=1`` when the shutdown begins.
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import structlog

from daemon.errors import EXIT_CONFIG, EXIT_IOERR, ConfigError, JournalError, ShutdownRequested

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_CRASHED = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """One supervised task.

    Attributes:
        name: task name (``"pipeline.engine"``), shown in logs.
        run: coroutine function run as the task.
        is_essential: when every essential task has *returned*, the run stops cleanly
            (a finite replay). A non-essential task returning changes nothing.
    """

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]
    is_essential: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleanup:
    """One shutdown step (run after the task group, LIFO).

    Attributes:
        name: step name, shown in logs.
        close: coroutine function to await.
        timeout_s: limit for this step, seconds (None: whatever is left of the run's
            ``shutdown_timeout_s`` budget).
    """

    name: str
    close: Callable[[], Awaitable[object]]
    timeout_s: float | None = None


RECANCEL_INTERVAL_S = 0.5
"""How long a cancelled task gets to end before it is cancelled again, seconds."""
RECANCEL_MAX = 20
"""Cancels sent to a task that will not stop before the shutdown goes on without it."""


async def _guard(spec: TaskSpec, on_return: Callable[[TaskSpec], None]) -> None:
    """Top boundary of a task: log a crash with its traceback and re-raise it.

    The component runs as its own task (``<name>.body``) so that a stop reaches it even
    when a library swallows the first cancellation: Python 3.11's ``asyncio.wait_for``
    (used by ib_async) can drop a cancel that lands in the loop turn its result
    completes (CPython gh-86296), and a plain ``await spec.run()`` would then wait on the
    still-running component forever. See :func:`cancel_until_done`.
    """
    body = asyncio.create_task(spec.run(), name=f"{spec.name}.body")
    try:
        await asyncio.wait({body})
    except asyncio.CancelledError:
        await cancel_until_done(body, spec.name)
        raise
    try:
        body.result()
    except ShutdownRequested:
        raise
    except Exception:
        log.exception("task_crashed", task=spec.name)
        raise
    log.info("task_returned", task=spec.name)
    on_return(spec)


async def cancel_until_done(body: asyncio.Task[None], name: str) -> None:
    """Cancel ``body`` until it ends: every ``RECANCEL_INTERVAL_S``, ``RECANCEL_MAX`` times.

    For any task whose cancel a library may swallow (Python 3.11's ``wait_for``, CPython
    gh-86296): the supervisor's components, and the IB adapter tests' ``running()``.

    A component that ignored a cancel is logged (``task_ignored_cancel``); one that
    outlives every cancel is logged as an error (``task_would_not_stop``) and left to
    ``asyncio.run``'s final cancellation, so the shutdown (and its cleanups: ``offline``
    on MQTT, the journal's close) still happens in time.
    """
    for attempt in range(RECANCEL_MAX):
        body.cancel()
        done, _ = await asyncio.wait({body}, timeout=RECANCEL_INTERVAL_S)
        if done:
            if not body.cancelled() and body.exception() is not None:
                log.error("task_failed_while_stopping", task=name, exc_info=body.exception())
            if attempt:
                log.warning("task_ignored_cancel", task=name, extra_cancels=attempt)
            return
    log.error("task_would_not_stop", task=name, waited_s=RECANCEL_INTERVAL_S * RECANCEL_MAX)


async def _watch(stop: asyncio.Event) -> None:
    """Raise ``ShutdownRequested`` inside the group once ``stop`` is set."""
    await stop.wait()
    raise ShutdownRequested("stop requested")


async def _cleanup(step: Cleanup, failures: list[str], deadline: float) -> None:
    """Run one cleanup under its timeout; a failure is logged and counted, not raised.

    Args:
        step: the step.
        failures: names of failed steps (appended to).
        deadline: ``loop.time()`` by which the whole shutdown must be over.
    """
    left_s = max(0.0, deadline - asyncio.get_running_loop().time())
    timeout_s = left_s if step.timeout_s is None else min(step.timeout_s, left_s)
    timed_out = False
    try:
        async with asyncio.timeout(timeout_s):
            await step.close()
    except TimeoutError:
        timed_out = True
    except Exception:
        # Boundary: log with the traceback and go on with the remaining steps.
        failures.append(step.name)
        log.exception("cleanup_failed", step=step.name)
        return
    if timed_out:
        failures.append(step.name)
        log.error("cleanup_timed_out", step=step.name, timeout_s=round(timeout_s, 3))
    else:
        log.info("cleanup_done", step=step.name)


def _exit_code(group: BaseExceptionGroup[Exception]) -> int:
    config, _ = group.split(ConfigError)
    if config is not None:
        return EXIT_CONFIG
    journal, _ = group.split(JournalError)
    return EXIT_IOERR if journal is not None else EXIT_CRASHED


async def run(
    tasks: Sequence[TaskSpec],
    *,
    cleanups: Sequence[Cleanup] = (),
    notify: Callable[[str], object] | None = None,
    stop: asyncio.Event | None = None,
    signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    status: str = "running",
    shutdown_timeout_s: float = 10.0,
) -> int:
    """Run ``tasks`` until a signal, a crash, or the end of every essential task.

    Args:
        tasks: the components' tasks (names must be unique).
        cleanups: shutdown steps in start-up order; they run in reverse order.
        notify: sd_notify function (``adapters.systemd.notify``); None: no-op.
        stop: an event that requests a clean stop when set (tests, the CLI).
        signals: signals that request a clean stop.
        status: one line for ``STATUS=`` after start-up.
        shutdown_timeout_s: budget of the whole cleanup sequence, seconds.

    Returns:
        0 after a clean stop, 1 after a crashed task (74 for a ``JournalError``, 78 for
        a ``ConfigError``), or 1 when a cleanup failed or timed out.

    Raises:
        ValueError: duplicate task names.
    """
    names = [spec.name for spec in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate task names: {names}")
    stop_event = asyncio.Event() if stop is None else stop
    send = notify if notify is not None else (lambda _msg: None)
    loop = asyncio.get_running_loop()
    essential = {spec.name for spec in tasks if spec.is_essential}

    def on_return(spec: TaskSpec) -> None:
        essential.discard(spec.name)
        if spec.is_essential and not essential:
            log.info("work_finished")
            stop_event.set()

    def on_signal(sig: signal.Signals) -> None:
        log.info("signal_received", signal=sig.name)
        stop_event.set()

    installed: list[signal.Signals] = []
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
        installed.append(sig)

    exit_code = EXIT_OK
    failures: list[str] = []
    deadline = [math.inf]  # set when the shutdown starts (the stack's callbacks read it)

    async def cleanup(step: Cleanup) -> None:
        if deadline[0] == math.inf:
            deadline[0] = loop.time() + shutdown_timeout_s
        await _cleanup(step, failures, deadline[0])

    try:
        async with AsyncExitStack() as stack:
            for step in cleanups:
                stack.push_async_callback(cleanup, step)
            stack.callback(send, "STOPPING=1")  # registered last: runs first
            try:
                async with asyncio.TaskGroup() as group:
                    for spec in tasks:
                        group.create_task(_guard(spec, on_return), name=spec.name)
                    group.create_task(_watch(stop_event), name="supervisor.watch")
                    send(f"READY=1\nSTATUS={status}")
                    log.info("started", tasks=names)
            except* ShutdownRequested:
                log.info("shutdown_started")
            except* Exception as crashed:  # noqa: BLE001 - logged with exc_info by _guard
                exit_code = _exit_code(crashed)
            if exit_code != EXIT_OK:
                log.error("shutdown_after_crash", exit_code=exit_code)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    if failures and exit_code == EXIT_OK:
        exit_code = EXIT_CRASHED
    log.info("stopped", exit_code=exit_code, failed_cleanups=failures)
    return exit_code
