"""The market that exists, end to end: real processes against the strict fake TWS (issue 7).

The fake TWS (``python -m tests.fakes.tws``) lists only Cboe-convention strikes, weekly VX
beside the monthlies, quotes VIX options with bid/ask and greeks, fills only marketable
limits (combos per leg plus the BAG) and serves today's unfinished bar in daily history.
``alvhd run --source ibkr --clock-start`` (the README rehearsal) starts ten seconds before
the close, i.e. *after the open*: the warm-up must drop today's bar and keep the real close.

Each run ends with the subscriber's view: every proposal named a listed strike, was priced
from the quotes, was placed once and filled (``orders/status``), and a restart placed
nothing and kept each layer's book.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.embedded import Broker, free_port, is_listening
from daemon.core.listing import cboe_vix_strikes
from tests.conftest import REPO_ROOT
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

PREFIX = "alvhd-mkt"
INSTANCE = "ci"
BASE = f"{PREFIX}/{INSTANCE}"
Msgs = list[tuple[str, dict[str, Any], bool]]


def start_fake(as_of: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.tws",
            "--port",
            str(port),
            "--as-of",
            as_of,
            "--tick-s",
            "1",
            "--sessions",
            "1",  # only the day's closing prints: the market then stays put
            *extra,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not is_listening("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_listening("127.0.0.1", port), "the fake TWS did not start"
    return proc, port


@pytest.fixture
def fake_0224() -> Iterator[int]:
    proc, port = start_fake("2020-02-24")
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def fake_0318() -> Iterator[int]:
    proc, port = start_fake("2020-03-18")
    yield port
    proc.terminate()
    proc.wait(10)


def run_alvhd(
    broker: Broker, ib_port: int, journal: Path, clock_start: str, *, until: Any, timeout_s: float
) -> tuple[Msgs, str]:
    """Run the daemon until ``until(msgs)`` holds, stop it (SIGTERM); messages and log."""
    listener = Listener(broker.port, PREFIX)
    env = {
        **os.environ,
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__INSTANCE": INSTANCE,
        "ALVH_JOURNAL__PATH": str(journal),
        "ALVH_SERVICE__MARKET_EVERY_S": "1",
        # the fake fills only marketable limits: 10% over the quoted mid crosses its spread
        "ALVH_ORDERS__LIMIT_OFFSET_FRAC": "0.1",
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    proc = subprocess.Popen(
        [
            str(alvhd),
            "--log-level",
            "debug",
            "run",
            "--source",
            "ibkr",
            "--ib-port",
            str(ib_port),
            "--clock-start",
            clock_start,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        msgs = listener.wait_for(until, timeout_s=timeout_s)
        time.sleep(1.0)  # let the last state changes arrive
        msgs = listener.snapshot()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            out, _ = proc.communicate()
            (journal.parent / "alvhd.log").write_bytes(out)  # for a failing run's post-mortem
        listener.close()
    log = out.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    return msgs, log


def of(msgs: Msgs, topic: str) -> list[dict[str, Any]]:
    return [p for t, p, _ in msgs if t == f"{BASE}/{topic}"]


def every_proposal_filled(msgs: Msgs) -> bool:
    proposed = {p["order_ref"] for p in of(msgs, "orders/proposed")}
    filled = {p["order_ref"] for p in of(msgs, "orders/status") if p["status"] == "filled"}
    return bool(proposed) and proposed <= filled


def log_events(log: str, event: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if f'"event": "{event}"' in line]


def assert_listed_priced_placed_filled(msgs: Msgs, log: str) -> None:
    orders = of(msgs, "orders/proposed")
    statuses = of(msgs, "orders/status")
    strikes = set(cboe_vix_strikes())
    for order in orders:
        # names listed contracts ...
        assert all(leg["strike"] in strikes for leg in order["legs"]), order["note"]
        # ... priced from the fake's quotes, not the model ...
        assert order["price_source"] == "market", order["note"]
        ref = order["order_ref"]
        (checked,) = [e for e in log_events(log, "ib_market_checked") if e["order_ref"] == ref]
        assert checked["bid"] <= order["limit_price"] * 1.0001
        assert checked["limit"] == order["limit_price"]
        # ... placed once, and filled (orders/status, QoS 1, by orderRef and decision_id)
        mine = [s for s in statuses if s["order_ref"] == ref]
        assert mine[0]["status"] == "submitted"
        (filled,) = [s for s in mine if s["status"] == "filled"]
        assert filled["decision_id"] == order["decision_id"]
        assert filled["filled_qty"] == order["contracts"]
        assert filled["avg_price"] <= order["limit_price"]
        assert filled["v"] == 1
    placed = [e["order_ref"] for e in log_events(log, "ib_order_placed")]
    assert sorted(placed) == sorted(o["order_ref"] for o in orders)
    # the session close of today was taken from the day's quotes after the warm-up
    # dropped the unfinished bar IB served (a start after the open keeps the real close)
    dropped = log_events(log, "ib_history_today_dropped")
    assert {e["symbol"] for e in dropped} >= {"SPX", "IWM", "VIX"}
    stale = [p["message"] for t, p, _ in msgs if t == f"{BASE}/alerts/data_stale"]
    assert not any("ignored" in m for m in stale)  # no close was committed early
    # weekly VX never becomes VX1
    (skipped,) = log_events(log, "ib_vx_weeklies_skipped")
    assert skipped["local_symbols"]
    vx1 = [e for e in log_events(log, "ib_subscribed") if e["symbol"] == "VX1"]
    assert vx1
    assert all(" VIX 2020" in e["contract"] for e in vx1)


def test_2020_02_24_is_traded_at_the_quotes_and_a_restart_keeps_every_book(
    broker: Broker, fake_0224: int, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    msgs, log = run_alvhd(
        broker,
        fake_0224,
        journal,
        "2020-02-24T16:14:50-05:00",
        until=every_proposal_filled,
        timeout_s=60,
    )
    activated = {p["layer"] for p in of(msgs, "alerts/layer_activated")}
    assert {"L1", "L2"} <= activated
    assert_listed_priced_placed_filled(msgs, log)
    vx1 = [e for e in log_events(log, "ib_subscribed") if e["symbol"] == "VX1"]
    assert vx1[0]["contract"] == "FUT VIX 20200318 CFE"  # not the 2020-02-26 weekly
    orders = of(msgs, "orders/proposed")
    layers = {o["layer"] for o in orders}
    with sqlite3.connect(journal) as db:
        execs_before = db.execute("SELECT count(*) FROM executions").fetchone()[0]
    assert execs_before == len(orders)  # single options: one execution each
    for order in orders:  # each was previewed (what-if margin) before it was placed
        assert f'"order_ref": "{order["order_ref"]}", "init_margin_change"' in log
    assert '"account": "DU' in log  # the paper account, nothing else
    with sqlite3.connect(journal) as db:
        published = db.execute("SELECT published FROM decisions").fetchall()
    assert published
    assert all(flag for (flag,) in published)  # every decision reached the broker (MQTT)

    # `alvhd positions`: the journal's per-layer books beside the broker, reconciled
    alvhd = Path(sys.executable).with_name("alvhd")
    shown = subprocess.run(
        [str(alvhd), "positions", "--ib-port", str(fake_0224), "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for order in orders:
        (leg,) = order["legs"]
        line = next(x for x in shown.stdout.splitlines() if f" {leg['strike']:g}C " in x)
        qty = order["contracts"]
        assert f"{order['layer']} +{qty}" in line
        assert line.split("│")[-2].strip() == "ok"
    assert "MISMATCH" not in shown.stdout

    # restart after the close: nothing is placed again, every layer keeps its book
    msgs2, log2 = run_alvhd(
        broker,
        fake_0224,
        journal,
        "2020-02-24T16:20:00-05:00",
        # a live (not retained) market update: the restarted daemon is up and past 16:15
        until=lambda m: any(t == f"{BASE}/market" and not retained for t, _, retained in m),
        timeout_s=60,
    )
    assert log_events(log2, "ib_order_placed") == []
    assert of(msgs2, "orders/proposed") == []
    (positions,) = log_events(log2, "broker_positions")
    assert positions["hedges"] == len(layers)
    assert log_events(log2, "ib_position_mismatch") == []
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT count(*) FROM executions").fetchone()[0] == execs_before
    reconciled = log_events(log2, "ib_orders_reconciled")
    assert reconciled[0]["missed_fills"] == 0

    # restart between two sessions: the next day's close (2020-02-25, the same prints)
    # is evaluated with every layer's book from the journal, and nothing is bought again
    def next_close(m: Msgs) -> bool:
        return any(
            p.get("session_date") == "2020-02-25" and not p.get("is_provisional")
            for p in of(m, "signals")
        )

    msgs3, log3 = run_alvhd(
        broker, fake_0224, journal, "2020-02-25T16:14:50-05:00", until=next_close, timeout_s=60
    )
    assert [e["session_date"] for e in log_events(log3, "ib_session_closed")] == ["2020-02-25"]
    assert log_events(log3, "ib_order_placed") == []
    assert [o for o in of(msgs3, "orders/proposed") if o["is_placeable"]] == []
    (positions3,) = log_events(log3, "broker_positions")
    assert positions3["hedges"] == len(layers)
    assert log_events(log3, "ib_position_mismatch") == []
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT count(*) FROM executions").fetchone()[0] == execs_before


def test_2020_03_18_crash_day_trades_listed_strikes_and_books_l3_at_the_spread_net(
    broker: Broker, fake_0318: int, tmp_path: Path
) -> None:
    def done(m: Msgs) -> bool:
        activated = {p["layer"] for p in of(m, "alerts/layer_activated")}
        proposed = {p["layer"] for p in of(m, "orders/proposed")}
        return activated >= {"L1", "L2", "L3"} and "L3" in proposed and every_proposal_filled(m)

    journal = tmp_path / "journal.sqlite"
    msgs, log = run_alvhd(
        broker, fake_0318, journal, "2020-03-18T16:14:50-04:00", until=done, timeout_s=60
    )
    assert_listed_priced_placed_filled(msgs, log)
    # VIX ~76: the old 1-point grid proposed 74C/106C/74-79 (error 200 each); now only
    # listed strikes, and no order was refused
    assert log_events(log, "order_refused") == []
    # L3's call spread is judged per leg (each leg's market is tight), placed as one BAG,
    # filled (one execution per leg plus the BAG) and booked at the BAG's net price
    (l3,) = [o for o in of(msgs, "orders/proposed") if o["layer"] == "L3"]
    assert [leg["position_qty"] for leg in l3["legs"]] == [1, -1]
    (filled,) = [
        s
        for s in of(msgs, "orders/status")
        if s["order_ref"] == l3["order_ref"] and s["status"] == "filled"
    ]
    net = filled["avg_price"]
    assert 0 < net <= l3["limit_price"]
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT payload FROM executions").fetchall()
    execs = [json.loads(r[0]) for r in rows]
    mine = [e for e in execs if e.get("order_ref") == l3["order_ref"]]
    bag = [e for e in mine if not e["is_combo_leg"]]
    legs = [e for e in mine if e["is_combo_leg"]]
    assert len(bag) == 1
    assert len(legs) == 2
    leg_net = sum((1 if e["side"] == "BUY" else -1) * e["price"] for e in legs)
    assert abs(leg_net - net) < 0.011  # the legs net to the BAG's price
    (fill,) = [e for e in log_events(log, "fill") if e["order_ref"] == l3["order_ref"]]
    assert fill["price"] == net  # booked at the spread's net, not the long leg's price
    premium_usd = net * l3["contracts"] * 100
    alvhd = Path(sys.executable).with_name("alvhd")
    shown = subprocess.run(
        [str(alvhd), "positions", "--ib-port", str(fake_0318), "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    (l3_row,) = [x for x in shown.stdout.splitlines() if x.startswith("│ L3")]
    assert f"{premium_usd:,.2f}" in l3_row, shown.stdout


@pytest.fixture
def fake_0224_wide() -> Iterator[int]:
    proc, port = start_fake("2020-02-24", "--spread-frac", "1.2")
    yield port
    proc.terminate()
    proc.wait(10)


def test_a_wide_market_is_proposed_as_not_placeable_alerted_and_never_placed(
    broker: Broker, fake_0224_wide: int, tmp_path: Path
) -> None:
    # Every VIX option quoted 120% of its value wide: what the rules want is still
    # published (the operator sees it), says why it is not traded, and is never placed.
    def done(m: Msgs) -> bool:
        return bool(of(m, "orders/proposed")) and any(
            "NOT PLACED" in a["message"] for a in of(m, "alerts/order")
        )

    msgs, log = run_alvhd(
        broker,
        fake_0224_wide,
        tmp_path / "journal.sqlite",
        "2020-02-24T16:14:50-05:00",
        until=done,
        timeout_s=60,
    )
    orders = of(msgs, "orders/proposed")
    assert orders
    for order in orders:
        assert order["is_placeable"] is False
        assert order["price_source"] == "market"
        market = order["market"]
        assert market["status"] == "wide"
        assert market["spread_frac"] > 0.5
        assert market["bid"] < market["ask"]
        assert "NOT PLACED" in order["note"]
    alerts = [a for a in of(msgs, "alerts/order") if "NOT PLACED" in a["message"]]
    assert {a["layer"] for a in alerts} == {o["layer"] for o in orders}
    assert all("wide market" in a["message"] for a in alerts)
    # never placed: no what-if, no order, no status
    assert log_events(log, "ib_order_placed") == []
    assert log_events(log, "ib_what_if") == []
    assert of(msgs, "orders/status") == []
    assert {e["order_ref"] for e in log_events(log, "order_not_placeable")} == {
        o["order_ref"] for o in orders
    }
