"""`alvhd replay` loads only what a replay uses (issue 9): no daemon shell, no metrics.

The replay runs the engine in-process; the daemon's shell loops (``daemon.pipeline``),
the Prometheus client (through ``daemon.metrics``), the IB, MQTT and journal adapters are
the daemon's, and importing them was start-up time every replay paid. pandas (≈ 0.15–0.3 s
to import) is the HTML report's only: the loader reads the CSVs with the ``csv`` module and
``days.csv`` and the P&L table are written from columns. A fresh interpreter runs a short
replay of the real history and reports which of them it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NOT_FOR_REPLAY = (
    "daemon.pipeline",
    "daemon.metrics",
    "prometheus_client",
    "ib_async",
    "aiomqtt",
    "paho",
    "adapters.sqlite.journal",
    "matplotlib",
    "pandas",
    "numpy",
    "rich.progress",  # the bar's only: not with --no-progress
)

_PROBE = """
import json, sys
from daemon.cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, sorted(m for m in {modules!r} if m in sys.modules)]), file=sys.stderr)
"""


def test_replay_imports_no_daemon_shell_metrics_or_broker_library(
    market_dir: Path, tmp_path: Path
) -> None:
    days_csv = tmp_path / "days.csv"
    argv = [
        "replay",
        str(market_dir),
        "--start",
        "2020-02-03",
        "--end",
        "2020-03-31",
        "--no-progress",
        "--days-csv",
        str(days_csv),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv, modules=NOT_FOR_REPLAY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    code, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert code in {0, 1}, proc.stderr[-2000:]  # 1: the cost cap was breached (a result)
    assert len(days_csv.read_text(encoding="utf-8").splitlines()) > 30  # it did replay
    assert loaded == []
