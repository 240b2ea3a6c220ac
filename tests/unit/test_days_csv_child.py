"""``days.csv`` written on the second core (issue 9): the same file, errors and exit codes.

``alvhd replay`` hands the write to a forked child (:class:`daemon.report.DaysCsvWrite`)
while it prints the tables. Whatever happens to the child, the user gets what the
in-process writer gives: the same bytes, the same ``OSError`` (exit 78 from the CLI), and
no child process left behind.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest

from daemon import cli, report
from daemon.report import DayColumns, DaysCsvWrite, write_days_csv

COLUMNS: DayColumns = {
    "date": [f"2020-01-{d:02d}" for d in range(1, 29)],
    "ints": list(range(28)),
    "ints_and_none": [None if d % 5 == 0 else d for d in range(28)],
    "floats": [d / 7 for d in range(28)],
    "floats_nan": [math.nan if d % 3 == 0 else d * 1e-5 for d in range(28)],
    "text": ["L1+L2" if d % 2 else "" for d in range(28)],
}


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
        pytest.skip("another thread runs in this test process: the child is never forked")


def _reaped(pid: int) -> bool:
    """Whether ``pid`` (a child of this process) is gone, zombie included."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_writes_the_same_bytes_and_is_reaped(
    tmp_path: Path, single_threaded: None
) -> None:
    expected = write_days_csv(COLUMNS, tmp_path / "in-process.csv").read_bytes()
    job = DaysCsvWrite(COLUMNS, tmp_path / "sub" / "days.csv")
    pid = job._pid
    assert pid > 0  # a single-threaded test process: the child is used
    assert job.result() == tmp_path / "sub" / "days.csv"
    assert (tmp_path / "sub" / "days.csv").read_bytes() == expected
    assert _reaped(pid)
    assert job.result() == tmp_path / "sub" / "days.csv"  # idempotent


def test_an_unwritable_path_raises_the_same_oserror(tmp_path: Path, single_threaded: None) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    target = blocker / "days.csv"
    with pytest.raises(FileExistsError) as in_process:
        write_days_csv(COLUMNS, target)
    job = DaysCsvWrite(COLUMNS, target)
    pid = job._pid
    with pytest.raises(FileExistsError) as from_child:
        job.result()
    assert pid > 0
    assert type(from_child.value) is type(in_process.value)
    assert from_child.value.errno == in_process.value.errno
    assert from_child.value.strerror == in_process.value.strerror
    assert str(from_child.value) == str(in_process.value)
    assert _reaped(pid)


def test_any_other_failure_of_the_child_is_the_in_process_error(
    tmp_path: Path, single_threaded: None
) -> None:
    ragged: DayColumns = {"date": ["2020-01-02", "2020-01-03"], "x": [1.5]}
    job = DaysCsvWrite(ragged, tmp_path / "days.csv")
    pid = job._pid
    assert pid > 0
    with pytest.raises(ValueError, match="zip"):
        job.result()
    assert _reaped(pid)


def test_a_child_that_dies_is_replaced_by_the_in_process_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, single_threaded: None
) -> None:
    parent = os.getpid()
    real = report.write_days_csv

    def dies_in_the_child(columns: DayColumns, path: Path) -> Path:
        if os.getpid() != parent:
            os._exit(9)  # killed before a word to the parent
        return real(columns, path)

    monkeypatch.setattr(report, "write_days_csv", dies_in_the_child)
    job = DaysCsvWrite(COLUMNS, tmp_path / "days.csv")
    pid = job._pid
    assert pid > 0
    assert job.result().read_bytes() == real(COLUMNS, tmp_path / "ref.csv").read_bytes()
    assert _reaped(pid)


def test_with_another_thread_running_it_writes_in_process(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        job = DaysCsvWrite(COLUMNS, tmp_path / "days.csv")
        assert job._pid == 0  # no fork of a threaded process
        assert not (tmp_path / "days.csv").exists()  # written when the result is asked
        path = job.result()
    finally:
        stop.set()
        other.join()
    assert path.read_bytes() == write_days_csv(COLUMNS, tmp_path / "ref.csv").read_bytes()


@pytest.mark.parametrize(
    ("cpus", "load", "spare"),
    [
        ({0, 1}, 0.2, True),  # a quiet 2-CPU machine
        ({0, 1}, 1.4, True),  # the replay itself, run back to back
        ({0, 1}, 1.6, False),  # other work on the second CPU
        ({0, 1}, 3.0, False),
        ({0}, 0.0, False),  # pinned to one CPU
        ({0, 1, 2, 3}, 3.0, True),
    ],
)
def test_children_are_used_only_with_a_spare_cpu(
    monkeypatch: pytest.MonkeyPatch, cpus: set[int], load: float, spare: bool
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cpus)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert cli._spare_core() is spare


def test_no_load_average_means_no_children(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert cli._spare_core() is False


def test_without_fork_the_file_is_written_when_asked(tmp_path: Path) -> None:
    job = DaysCsvWrite(COLUMNS, tmp_path / "days.csv", fork=False)
    assert job._pid == 0
    assert not (tmp_path / "days.csv").exists()
    assert job.result().read_bytes() == write_days_csv(COLUMNS, tmp_path / "ref.csv").read_bytes()
