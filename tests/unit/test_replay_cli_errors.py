"""`alvhd replay` says plainly when it cannot write ``days.csv`` (exit 78, the flag named).

Before, an unwritable ``--days-csv`` path ended the replay with a Python traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import main
from daemon.errors import EXIT_CONFIG


def test_an_unwritable_days_csv_is_a_clear_error(
    market_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    target = blocker / "days.csv"
    argv = ["replay", str(market_dir), "--start", "2020-02-03", "--end", "2020-02-14"]
    code = main([*argv, "--no-progress", "--days-csv", str(target)])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG
    assert f"alvhd: --days-csv: cannot write {target}: " in err  # then the OS reason
    assert "Traceback" not in err
