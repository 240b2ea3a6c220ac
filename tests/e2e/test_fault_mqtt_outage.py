"""Fault matrix: mosquitto down for 5 minutes in the middle of a paced replay.

The daemon must never exit, journal what it decides during the outage, and after the
broker returns deliver every decision exactly once (by ``decision_id``), in journal
order, the first within 5 s of the return. This scenario takes about 7 minutes; it runs
once, in its own file so that pytest-xdist runs it beside the rest of the suite.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.procs import PREFIX, Alvhd, Mosquitto, Subscriber, daemon_env, decision_ids

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(900)]

OUTAGE_S = 300.0
RESUME_WITHIN_S = 5.0


def test_five_minute_broker_outage_mid_replay_loses_nothing_sends_nothing_twice(
    market_dir: Path, tmp_path: Path
) -> None:
    instance = "mqtt-outage"
    broker = Mosquitto(tmp_path)
    broker.start()
    sub = Subscriber(broker.port, f"{PREFIX}/{instance}", client_id="mqtt-outage-sub")
    journal = tmp_path / "journal.sqlite"
    env = daemon_env(
        broker_port=broker.port,
        journal=journal,
        instance=instance,
        ALVH_REPLAY__DATA_DIR=str(market_dir),
        ALVH_REPLAY__START="2019-01-02",
        ALVH_REPLAY__END="2020-10-30",
        ALVH_SERVICE__STATUS_EVERY_S="5",
    )
    # ~460 sessions at 0.75 s: the replay runs before, through and after the outage
    daemon = Alvhd(["run", "--source", "replay", "--pace-s", "0.75"], env, tmp_path / "alvhd.log")
    try:
        sub.wait_for(lambda h: len(decision_ids(h)) >= 3, timeout_s=90, what="decisions")
        before = len(decision_ids(sub.all()))
        broker.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_S:
            assert daemon.is_running(), daemon.text()[-3000:]
            time.sleep(5)
        journalled_in_outage = _count(journal) - before
        broker.start()
        back_at = time.time()
        sub.wait_for(
            lambda h: any(h_.at >= back_at for h_ in h if "decision_id" in h_.payload),
            timeout_s=30,
            what="the first decision after the broker returned",
        )
        first_after = min(h.at for h in sub.all() if h.at >= back_at and "decision_id" in h.payload)
        resumed_s = first_after - back_at
        sub.wait_for(
            lambda h: any(
                x.payload.get("source_done") is True for x in h if x.topic.endswith("/status")
            ),
            timeout_s=300,
            what="the replay to finish and everything to be published",
        )
        assert daemon.is_running(), "the daemon must stay up after the replay"
        code, _ = daemon.terminate()
    finally:
        daemon.kill()
        sub.close()
        broker.stop()
    assert code == 0, daemon.text()[-3000:]
    assert journalled_in_outage > 0, "the outage must cover decisions"
    assert resumed_s <= RESUME_WITHIN_S, f"delivery resumed {resumed_s:.1f} s after the return"
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT decision_id, kind, published FROM decisions ORDER BY seq"
        ).fetchall()
    assert all(published for _, _, published in rows), "unpublished decisions left"
    heard = decision_ids(sub.all())
    duplicates = [d for d, n in Counter(heard).items() if n > 1]
    assert not duplicates, f"sent twice: {duplicates[:5]}"
    events = [d for d, kind, _ in rows if kind in ("alert", "order")]
    assert set(events) <= set(heard), f"lost: {sorted(set(events) - set(heard))[:5]}"
    # in journal order
    seq = {d: i for i, (d, _, _) in enumerate(rows)}
    heard_seq = [seq[d] for d in heard if d in seq]
    assert heard_seq == sorted(heard_seq), "decisions were delivered out of journal order"
    assert not daemon.events("alert_coalesced"), "an alert was dropped from a full outbox"
    print(
        f"outage {OUTAGE_S:.0f} s: {journalled_in_outage} decisions journalled meanwhile, "
        f"{len(heard)} heard, 0 lost, 0 duplicated, resumed {resumed_s:.2f} s after the return"
    )


def _count(journal: Path) -> int:
    with sqlite3.connect(journal) as db:
        (n,) = db.execute("SELECT count(*) FROM decisions WHERE kind != 'layer_change'").fetchone()
    return int(n)
