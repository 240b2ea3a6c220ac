"""The full replay's decisions, pinned: the engine split (issue 12) changed no decision.

The fingerprints were recorded on main at e49ca8c (before ``daemon/core/engine.py`` was
split into prices / hedge_book / desk / sizing / rolls / monitors / codec) by replaying
``../shared/data/market`` (2007-01-03 → 2026-02-20, 4,814 sessions) with
``config/alvhd.toml``:

* ``IDS``: sha256 of the ordered decision ids joined by newlines, and their count;
* ``CONTENT``: sha256 of each decision's id with what a subscriber sees of it (an order's
  contracts, limit, action, legs and note; an alert's message; a layer change's layer and
  state), so a changed size or price fails too, not only a changed id;
* ``SNAPSHOT``: sha256 of the engine snapshot after the last close (the split's codec
  wrote the same bytes as before; re-recorded when the P&L accounting added the
  ``sleeve_pnl``, ``condor_pnl`` and ``satellite_pnl`` keys, with ``IDS`` and ``CONTENT``
  unchanged).

A change that is *meant* to change decisions (new sizing or strike rules) re-records
these three values in the same commit and says why in its message.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from daemon.core.model import Alert, Decision, LayerChange, ProposedOrder
from tests.unit.replay_run import full_replay

IDS = ("05b48a1e5bb13eeec92541d9e7f9a68830829a611993b5b565ecf2983c83247d", 2093)
CONTENT = "e332d9b354060c6e3320969fde44bfeed8e5b8853d9016f5390fb7c835003586"
SNAPSHOT = "8296062ec582057f8ea7fb99783943caab5b9ea3d825a4484188aa84a5f77381"
SESSIONS = 4814


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _content(d: Decision) -> str:
    match d:
        case ProposedOrder():
            return f"{d.decision_id}|{d.contracts}|{d.limit_price}|{d.action}|{d.legs}|{d.note}"
        case Alert():
            return f"{d.decision_id}|{d.message}"
        case LayerChange():
            return f"{d.decision_id}|{d.layer}|{d.is_active}"


def test_full_replay_decisions_match_the_pre_split_fingerprint(market_dir: Path) -> None:
    run = full_replay(market_dir)
    assert run.sessions == SESSIONS
    ids = [d.decision_id for d in run.decisions]
    assert (_sha(ids), len(ids)) == IDS
    assert _sha([_content(d) for d in run.decisions]) == CONTENT
    assert hashlib.sha256(run.engine.snapshot()).hexdigest() == SNAPSHOT
