"""The daemon's /metrics during a replay (parsed by prometheus_client) and its dead-man ping.

``alvhd run --source replay`` over 2020-01 → 2020-03 with ``metrics.port`` set: /metrics is
scraped while the replay runs and after it, parsed with ``prometheus_client``'s text
parser, and its counters are compared with the journal the daemon wrote. The same run
pings a local "Healthchecks" endpoint (``ops.deadman_url``); after ``kill -9`` the pings stop.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.mqtt.embedded import Broker, free_port
from tests.bridge.helpers import PREFIX, wait_until
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(180)]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


class _Pings(BaseHTTPRequestHandler):
    hits: list[float]

    def do_GET(self) -> None:
        if self.path == "/ping/3f7c":
            type(self).hits.append(time.time())
        body = b"OK"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def healthchecks() -> Iterator[tuple[int, list[float]]]:
    hits: list[float] = []
    handler = type("Pings", (_Pings,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def test_metrics_match_the_journal_and_the_deadman_pings_stop_with_the_daemon(
    broker: Broker, market_dir: Path, tmp_path: Path, healthchecks: tuple[int, list[float]]
) -> None:
    ping_port, pings = healthchecks
    metrics_port = free_port()
    journal = tmp_path / "journal.sqlite"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALVH_")},
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_JOURNAL__PATH": str(journal),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2020-01-02",
        "ALVH_REPLAY__END": "2020-03-31",
        "ALVH_METRICS__PORT": str(metrics_port),
        "ALVH_OPS__DEADMAN_URL": f"http://127.0.0.1:{ping_port}/ping/3f7c",
        "ALVH_OPS__DEADMAN_EVERY_S": "10",
    }
    listener = Listener(broker.port, PREFIX)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("alvhd")),
            "run",
            "--source",
            "replay",
            "--pace-s",
            "0.05",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        during: list[Samples] = []

        def scraped_mid_replay() -> bool:
            try:
                samples = scrape(metrics_port)
            except OSError:
                return False
            if samples.get(("alvhd_decisions_total", (("kind", "order"),)), 0) > 0:
                during.append(samples)
                return True
            return False

        wait_until(scraped_mid_replay, 60, "a scrape with decisions during the replay")
        listener.wait_for(
            lambda m: any(p.get("source_done") for t, p, _ in m if t.endswith("/status")), 90
        )
        final = scrape(metrics_port)
        assert pings, "the dead-man's switch was pinged"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        killed_at = time.time()
        time.sleep(12)
        assert not [t for t in pings if t > killed_at + 0.5], "pings stop with the daemon"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()

    with sqlite3.connect(journal) as db:
        by_kind = dict(db.execute("SELECT kind, COUNT(*) FROM decisions GROUP BY kind"))
        published = db.execute("SELECT COUNT(*) FROM decisions WHERE published = 1").fetchone()[0]
    assert by_kind["order"] > 0
    for kind, n in by_kind.items():
        assert final[("alvhd_decisions_total", (("kind", kind),))] == n, kind
    assert final[("alvhd_published_total", ())] == published == sum(by_kind.values())
    assert final[("alvhd_publish_latency_seconds_count", ())] == published
    assert final[("alvhd_outbox_depth", ())] == 0
    assert final[("alvhd_mqtt_connected", ())] == 1
    assert during[0][("alvhd_decisions_total", (("kind", "order"),))] <= by_kind["order"]
    # every quote of the replay counted per symbol; the ladder state and the cost cap
    assert final[("alvhd_quotes_received_total", (("symbol", "SPX"),))] > 50
    assert final[("alvhd_layer_active", (("layer", "L1"),))] in {0.0, 1.0}
    assert 0 <= final[("alvhd_open_premium_usd", ())] <= final[("alvhd_cost_cap_usd", ())]
