"""The full replay's signal readings, reasons and day summaries, pinned (issue 9).

``test_replay_fingerprint`` pins the decisions as a subscriber sees them (ids, sizes,
prices, messages). The speed work of issue 9 also touched what it does not cover: the
SignalReading detail lines (built lazily), the reasons each decision carries, and the day
summaries behind ``days.csv`` and the P&L report (including the always-on L1 baseline
book). These fingerprints were recorded on branch wt-eng at 7db4ed5, before those
changes, by replaying ``../shared/data/market`` with ``config/alvhd.toml``:

* ``REASONS``: sha256 of every decision's id with each of its reasons (id, value,
  threshold, holds, detail);
* ``DAYS``: sha256 of every day summary: its readings (as above), layers, contracts,
  premium, cap, scenario loss, cover, cap flag, proposals and P&L books (``repr``);
* ``DAYS_CSV``: sha256 of the ``days.csv`` bytes written from them (recorded at 62da155,
  whose day summaries are 7db4ed5's: ``DAYS`` unchanged; before ``days_frame`` changed).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from daemon.core.model import SignalReading
from daemon.report import days_frame, write_days_csv
from tests.unit.replay_run import full_replay

REASONS = "2f998e91f4c61b1ada791921b92e314f6eae0cd28a41e38f20beb57ab54ba974"
DAYS = "68a4c03388415ed76454c47a233d3734316db422229d21887c6bf631484ef2c3"


def _reading(r: SignalReading) -> str:
    return f"{r.id}|{r.value!r}|{r.threshold!r}|{r.holds}|{r.detail}"


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def test_every_reason_and_detail_line_matches_the_recorded_fingerprint(market_dir: Path) -> None:
    run = full_replay(market_dir)
    lines = [f"{d.decision_id}#" + "#".join(_reading(r) for r in d.reasons) for d in run.decisions]
    assert any("=" in line for line in lines)  # detail lines are there, not empty
    assert _sha(lines) == REASONS


def test_every_day_summary_matches_the_recorded_fingerprint(market_dir: Path) -> None:
    run = full_replay(market_dir)
    lines = [
        "#".join(
            (
                str(d.session_date),
                "/".join(_reading(r) for r in d.readings),
                repr(d.active_layers),
                repr(sorted(d.contracts_by_layer.items())),
                repr(d.premium_paid_to_date_usd),
                repr(d.open_premium_usd),
                repr(d.cost_cap_usd),
                repr(d.scenario_loss_usd),
                repr(d.covered_frac),
                repr(d.is_cost_capped),
                repr(d.proposals),
                repr(d.pnl),
            )
        )
        for d in run.days
    ]
    assert len(lines) == run.sessions
    assert any(d.pnl is not None and d.pnl.baseline_l1 is not None for d in run.days)
    assert _sha(lines) == DAYS


DAYS_CSV = "0a5eb89abfda93829a85942501e40a7b1dbe25b2cd84078c9cb14ef25aef2602"
"""sha256 of the full replay's ``days.csv`` bytes (see the module docstring)."""


def test_days_csv_bytes_match_the_recorded_fingerprint(market_dir: Path, tmp_path: Path) -> None:
    run = full_replay(market_dir)
    path = write_days_csv(days_frame(run.days), tmp_path / "days.csv")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DAYS_CSV
