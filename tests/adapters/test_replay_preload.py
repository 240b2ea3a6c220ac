"""The CSV files read by a child on the second core (issue 9): nothing the user sees changes.

``alvhd replay`` starts :func:`adapters.replay.preload` before its heavy imports; the
``ReplaySource`` built afterwards for the same directory takes the child's series. These
tests hold that path to the in-process loader: the same sessions, rows, rejections, log
events and errors, a fall-back when the child is unusable, and no child left behind.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters import replay
from adapters.replay import ReplaySource, preload
from daemon.errors import DataError


@pytest.fixture
def single_threaded() -> None:
    """A single-threaded test process (only such a process forks the child).

    A thread an earlier test left behind (a progress bar's refresh thread ending) is
    given up to 5 s to finish; a thread that stays (a plugin's) skips the test.
    """
    deadline = time.monotonic() + 5.0
    while threading.active_count() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    if threading.active_count() != 1:
        pytest.skip("another thread runs in this test process: no child is forked")


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _state(source: ReplaySource) -> dict[str, Any]:
    series = source._series
    return {
        "sessions": source.sessions,
        "symbols": source.symbols,
        "rejections": source.rejections,
        "rows": {s: dict(one._rows) for s, one in series.items()},
        "first_index": source._first_index,
    }


def _built(data_dir: Path, **kw: Any) -> tuple[dict[str, Any] | str, list[Any]]:
    with capture_logs() as events:
        try:
            state: dict[str, Any] | str = _state(ReplaySource(data_dir, **kw))
        except DataError as exc:
            state = f"DataError: {exc}"
    return state, events


def test_a_preloaded_source_is_the_in_process_one(market_dir: Path, single_threaded: None) -> None:
    expected = _built(market_dir, warmup_days=250)
    job = preload(market_dir)
    pid = job._pid
    assert pid > 0
    got = _built(market_dir, warmup_days=250)
    assert got == expected  # sessions, rows, rejections and the log events, in order
    assert any(e["event"] == "replay_rows_rejected" for e in got[1])
    assert _reaped(pid)
    assert replay._PRELOADS == {}


def test_a_missing_required_file_is_the_same_error(
    market_dir: Path, tmp_path: Path, single_threaded: None
) -> None:
    for name in ("spx_daily.csv", "iwm_daily.csv"):  # vix_daily.csv is missing
        shutil.copy(market_dir / name, tmp_path / name)
    expected = _built(tmp_path)
    job = preload(tmp_path)
    pid = job._pid
    assert pid > 0
    got = _built(tmp_path)
    assert got == expected
    assert got[0] == f"DataError: required replay file missing: {tmp_path / 'vix_daily.csv'}"
    assert _reaped(pid)


def test_missing_optional_files_are_the_same_events_in_order(
    market_dir: Path, tmp_path: Path, single_threaded: None
) -> None:
    for name in ("spx_daily.csv", "iwm_daily.csv", "vix_daily.csv"):
        shutil.copy(market_dir / name, tmp_path / name)
    expected = _built(tmp_path, warmup_days=250)
    job = preload(tmp_path)
    assert job._pid > 0
    got = _built(tmp_path, warmup_days=250)
    assert got == expected
    # (info events are there too unless an earlier test left the level at warning)
    assert [e["event"] for e in got[1]][:1] == ["replay_rvx_missing"]


def test_a_child_that_dies_leaves_the_source_to_read_the_files(
    market_dir: Path, monkeypatch: pytest.MonkeyPatch, single_threaded: None
) -> None:
    expected = _built(market_dir, warmup_days=250)
    parent = os.getpid()
    real = replay._load_series

    def dies_in_the_child(data_dir: Path, rejections: list[Any]) -> Any:
        if os.getpid() != parent:
            os._exit(9)
        return real(data_dir, rejections)

    monkeypatch.setattr(replay, "_load_series", dies_in_the_child)
    job = preload(market_dir)
    pid = job._pid
    assert pid > 0
    assert _built(market_dir, warmup_days=250) == expected
    assert _reaped(pid)


def test_a_preload_nobody_takes_is_reaped_on_close(market_dir: Path, single_threaded: None) -> None:
    job = preload(market_dir)
    pid = job._pid
    assert pid > 0
    job.close()
    assert _reaped(pid)
    assert replay._PRELOADS == {}
    job.close()  # idempotent


def test_another_directory_does_not_take_the_preload(
    market_dir: Path, tmp_path: Path, single_threaded: None
) -> None:
    job = preload(tmp_path)  # an empty directory: the child's DataError stays unread
    try:
        state, _ = _built(market_dir, warmup_days=250)
        assert not isinstance(state, str)
        assert len(state["sessions"]) > 4000
    finally:
        job.close()
    assert replay._PRELOADS == {}


def test_with_another_thread_running_no_child_is_forked(market_dir: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        job = preload(market_dir)
        assert job._pid == 0
        assert replay._PRELOADS == {}
        job.close()
    finally:
        stop.set()
        other.join()


def test_without_fork_there_is_no_child(market_dir: Path) -> None:
    job = preload(market_dir, fork=False)
    assert job._pid == 0
    assert replay._PRELOADS == {}
    assert job.result() is None
    job.close()
