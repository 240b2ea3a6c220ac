"""The journal's durability split (issue 9): decisions FULL, "published" marks NORMAL.

Decision rows (and everything else) are committed with ``synchronous=FULL`` (an fsync
before the call returns); the "published" marks with ``synchronous=NORMAL`` (a WAL
append, no fsync), switched per transaction on the one connection. Checked twice: by the
statements SQLite runs (every COMMIT and the pragma in force for it), and by the system
calls themselves under ``strace`` (a mark makes no fsync, a decision does).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adapters.sqlite.journal import SqliteJournal
from tests.fakes.decisions import alert

REPO = Path(__file__).resolve().parents[2]


def _commits_by_mode(statements: list[str]) -> list[tuple[str, str]]:
    """(synchronous in force, statement) for every write: UPDATE/INSERT and COMMIT."""
    mode = "FULL"
    seen: list[tuple[str, str]] = []
    for statement in statements:
        text = " ".join(statement.split()).upper()
        if text.startswith("PRAGMA SYNCHRONOUS ="):
            mode = text.rsplit("=", 1)[1].strip()
        elif text.startswith(("INSERT", "UPDATE", "COMMIT")):
            seen.append((mode, text.split(" ", 1)[0]))
    return seen


async def test_marks_commit_normal_and_decisions_full(tmp_path: Path) -> None:
    async with await SqliteJournal.open(tmp_path / "j.sqlite") as journal:
        statements: list[str] = []
        conn = journal._conn
        assert conn is not None
        conn.set_trace_callback(statements.append)

        await journal.append_many([alert("a1"), alert("a2"), alert("a3")])
        decisions = _commits_by_mode(statements)
        statements.clear()
        await journal.mark_published_many(["a1", "a2"])
        await journal.mark_published("a3")
        marks = _commits_by_mode(statements)
        statements.clear()
        await journal.append(alert("a4"))  # after the marks: FULL again
        later = _commits_by_mode(statements)
        conn.set_trace_callback(None)

        assert decisions == [("FULL", "INSERT")] * 3 + [("FULL", "COMMIT")]
        # the window's marks: one NORMAL transaction; a single mark: one NORMAL statement
        assert marks == [("NORMAL", "UPDATE")] * 2 + [("NORMAL", "COMMIT"), ("NORMAL", "UPDATE")]
        assert later == [("FULL", "INSERT"), ("FULL", "COMMIT")]
        # the connection is left at FULL (2) and the marks are stored
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert [r.decision.decision_id for r in await journal.unpublished()] == ["a4"]


_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    sys.path.insert(0, sys.argv[2])
    from adapters.sqlite.journal import SqliteJournal
    from tests.fakes.decisions import alert

    def mark(name):  # a system call strace shows between the phases
        os.access("/alvhd-phase-" + name, os.F_OK)

    async def main():
        journal = await SqliteJournal.open(sys.argv[1])
        await journal.append_many([alert(f"w{i}") for i in range(3)])  # warm the file
        mark("decisions")
        for i in range(20):
            await journal.append_many([alert(f"d{i}-{j}") for j in range(3)])
        mark("marks")
        for i in range(20):
            await journal.mark_published_many([f"d{i}-{j}" for j in range(3)])
        mark("end")
        await journal.aclose()

    asyncio.run(main())
    """
)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_mark_makes_no_fsync_and_a_decision_does(tmp_path: Path) -> None:
    script = tmp_path / "phases.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    trace = tmp_path / "trace.txt"
    subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,access,faccessat,faccessat2",
            "-o",
            str(trace),
            sys.executable,
            str(script),
            str(tmp_path / "j.sqlite"),
            str(REPO),
        ],
        check=True,
        timeout=60,
    )
    syncs = {"decisions": 0, "marks": 0}
    phase: str | None = None
    for line in trace.read_text(encoding="utf-8").splitlines():
        if "/alvhd-phase-" in line:
            phase = line.split("/alvhd-phase-", 1)[1].split('"', 1)[0]
        elif phase in syncs and ("fsync(" in line or "fdatasync(" in line):
            syncs[phase] += 1
    assert syncs["decisions"] >= 20  # every burst of decisions: at least one fsync
    assert syncs["marks"] == 0  # twenty windows of marks: none
