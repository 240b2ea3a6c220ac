"""By hand, automated: `alvhd run --source ibkr` against the fake TWS process, end to end.

The fake TWS (`python -m tests.fakes.tws`) and the daemon run as real processes; the daemon's
clock is placed just before the 2020-02-24 close (`--clock-start`, paper-mode rehearsal), so
the fake's real closes flow through the whole chain: quotes → session close → L1/L2
activations → proposals on MQTT → what-if → paper orders on the DU account → fills.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.mqtt.embedded import Broker, free_port, is_listening
from tests.conftest import REPO_ROOT
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

PREFIX = "alvhd-e2e"
INSTANCE = "ci"


@pytest.fixture
def fake_tws() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.tws",
            "--port",
            str(port),
            "--tick-s",
            "2",
            "--sessions",
            "1",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not is_listening("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_listening("127.0.0.1", port), "the fake TWS did not start"
    yield port
    proc.terminate()
    proc.wait(10)


def test_ibkr_rehearsal_places_and_fills_paper_orders(
    broker: Broker, fake_tws: int, tmp_path: Path
) -> None:
    listener = Listener(broker.port, PREFIX)
    journal_path = tmp_path / "journal.sqlite"
    env = {
        **os.environ,
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__INSTANCE": INSTANCE,
        "ALVH_JOURNAL__PATH": str(journal_path),
        "ALVH_SERVICE__MARKET_EVERY_S": "1",
        # the fake fills only marketable limits (an exchange): 10% over the mid crosses
        "ALVH_ORDERS__LIMIT_OFFSET_FRAC": "0.1",
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    proc = subprocess.Popen(
        [
            str(alvhd),
            "run",
            "--source",
            "ibkr",
            "--ib-port",
            str(fake_tws),
            "--clock-start",
            "2020-02-24T16:14:50-05:00",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"{PREFIX}/{INSTANCE}"
    try:
        msgs = listener.wait_for(
            lambda m: (
                {p.get("layer") for t, p, _ in m if t == f"{base}/alerts/layer_activated"}
                >= {"L1", "L2"}
                and {p["order_ref"] for t, p, _ in m if t == f"{base}/orders/proposed"}
                <= {
                    p["order_ref"]
                    for t, p, _ in m
                    if t == f"{base}/orders/status" and p["status"] == "filled"
                }
                and any(t == f"{base}/orders/proposed" for t, _, _ in m)
                and any(t == f"{base}/market" for t, _, _ in m)
            ),
            timeout_s=60,
        )
        time.sleep(1.0)  # let the placements and fills complete
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
    log = out.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]

    market = [p for t, p, _ in msgs if t == f"{base}/market"]
    assert {"SPX", "IWM", "VIX"} <= set(market[-1]["quotes"])
    activated = {p["layer"] for t, p, _ in msgs if t == f"{base}/alerts/layer_activated"}
    assert {"L1", "L2"} <= activated
    orders = [p for t, p, _ in msgs if t == f"{base}/orders/proposed"]
    for order in orders:
        assert order["session_date"] == "2020-02-24"
        # each proposal was previewed, placed on the paper account and filled
        assert f'"order_ref": "{order["order_ref"]}", "init_margin_change"' in log
        assert "ib_order_placed" in log
        assert f'"order_ref": "{order["order_ref"]}", "contracts": {order["contracts"]}' in log
    assert '"account": "DU' in log
    with sqlite3.connect(journal_path) as db:
        rows = db.execute("SELECT published FROM decisions").fetchall()
    assert rows
    assert all(published for (published,) in rows)
