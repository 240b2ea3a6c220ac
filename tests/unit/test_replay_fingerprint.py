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
these three values in the same commit and says why in its message. Re-recorded for
issue 10 (every VIX option priced on its own expiry's VX future from the front-4 file;
no lottery tickets: re-strikes as one ratio roll, ``orders.min_premium_pts``,
``ladder.max_otm_pts``, ``ladder.l2_max_strike_sd``, the add floor; one order per layer
per close; the β_vix floor only while history is short).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from daemon.core.model import Alert, Decision, LayerChange, ProposedOrder
from tests.unit.replay_run import full_replay

# Re-recorded for issue 7 (strikes snapped to Cboe's listed VIX strikes: 2.5-point
# intervals from 30 to 50, 5-point above 50). With a 1-point "listing" the replay gives
# main's issue-10 values (d22223d2…, 2094 / be373d25… / a16b8c1b…): nothing else moved.
IDS = ("3401b8dd7fa4bef7a93c816a1f3423be35f64eb223b7fb91daec00eba90a151d", 2094)
CONTENT = "4799b6c1be68cef16c499fc09b11d8f87a9981228a898edcd05815adc7c2af41"
SNAPSHOT = "c4bbad54a9da1f96d6974982de796ecdecc79524fb60f49756a4d0f084b7a8e3"
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


def test_full_replay_decisions_match_the_recorded_fingerprint(market_dir: Path) -> None:
    run = full_replay(market_dir)
    assert run.sessions == SESSIONS
    ids = [d.decision_id for d in run.decisions]
    assert (_sha(ids), len(ids)) == IDS
    assert _sha([_content(d) for d in run.decisions]) == CONTENT
    assert hashlib.sha256(run.engine.snapshot()).hexdigest() == SNAPSHOT
