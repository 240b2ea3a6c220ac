"""The full replay's P&L books, pinned bit for bit: a faster book changes no figure.

``test_replay_fingerprint`` pins the decisions and the final snapshot, which does not
hold the always-on L1 baseline (its book is not kept) nor the daily marks. This pins
every close's :class:`~daemon.core.pnl.DayPnl` (the sleeve per layer, the condor, the
satellite and the baseline L1, each float by ``repr``: the exact bits) over the whole
2007→2026 replay with ``config/alvhd.toml``, so an optimisation of the books (issue 9)
that moves any figure by one ulp fails.

Recorded on wt-eng4 at b129005 (before the baseline's quiet desk, issue 9).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from daemon.core.pnl import DayPnl, LayerPnl
from tests.unit.replay_run import full_replay

PNL = "885d3cbd53476b526f000158924dadf8f789ec76f98d67e1d085a82dbb6a5b22"
BASELINE = "a0201826ec6a260c2cf0a2cb9d3d6b51fef708af5384704fc0dc5ef69057284e"


def _layer(p: LayerPnl | None) -> str:
    if p is None:
        return "-"
    return (
        f"{p.premium_paid_usd!r}/{p.realised_usd!r}/{p.fees_usd!r}/"
        f"{p.open_cost_usd!r}/{p.open_mark_usd!r}"
    )


def _day(p: DayPnl) -> str:
    sleeve = ";".join(f"{k.value}={_layer(v)}" for k, v in p.sleeve.items())
    return f"{p.spx!r}|{p.vix!r}|{p.satellite_usd!r}|{sleeve}|{p.condor!r}|{_layer(p.baseline_l1)}"


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_every_close_books_the_same_pnl_bit_for_bit(market_dir: Path) -> None:
    days = full_replay(market_dir).engine.days
    lines = [f"{d.session_date}:{'-' if d.pnl is None else _day(d.pnl)}" for d in days]
    baseline = [
        f"{d.session_date}:{'-' if d.pnl is None else _layer(d.pnl.baseline_l1)}" for d in days
    ]
    # the baseline is marked (held on most days), so the pin is not of empty books
    held = sum(1 for d in days if d.pnl and d.pnl.baseline_l1 and d.pnl.baseline_l1.open_cost_usd)
    assert held > 4000, held
    assert (_digest(baseline), _digest(lines)) == (BASELINE, PNL)
