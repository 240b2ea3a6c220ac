"""One stream, three targets: a failing Slack, a rate-limited phone, a phone in quiet hours.

The scenario runs once (about 2 min 10 s: the Slack receiver answers 503 for 2 minutes)
and the tests below each assert one thing a user would notice:

- Slack answers 503 for 120 s, then 200: every message arrives once, in publish order.
- a target limited to 10 messages/min gets 200 alerts in 10 s as 10 messages + 1 digest.
- quiet hours: a ``warning`` is held until they end, a ``critical`` passes at once.
- the bridge's ``/metrics`` counts the deliveries, failures and digests per target.

The alerts are published with paho exactly as the daemon publishes them (QoS 1 on
``alvhd/default/alerts/<kind>``), so the timing of the stream is under the test's control.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.mqtt.embedded import free_port, start_mosquitto
from tests.bridge.helpers import (
    PREFIX,
    SLACK_PATH,
    BridgeProc,
    Publisher,
    alert_payload,
    bridge_env,
    make_certs,
    mosquitto_required,
    start_receiver,
    title_of,
    wait_until,
    write_bridge_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(300)]

FLOOD = 200
FAIL_FOR_S = 120.0
QUIET_FOR_S = 30.0


@dataclass
class Run:
    limited: list[dict[str, Any]]
    quiet: list[dict[str, Any]]
    slack: list[dict[str, Any]]
    slack_refused: int
    slack_ok_from: float
    published: list[str]
    quiet_end: float
    critical_sent_at: float
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    bridge_log: str


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    mosquitto_required()
    tmp = tmp_path_factory.mktemp("flood")
    certs = make_certs(tmp / "certs", "hooks.slack.com")
    broker = start_mosquitto(tmp)
    ntfy = start_receiver("ntfy")
    slack = start_receiver("slack", certs)
    metrics_port = free_port()
    now = datetime.now(UTC)
    quiet_start = (now - timedelta(minutes=1)).strftime("%H:%M:%S")
    quiet_end_at = (now + timedelta(seconds=QUIET_FOR_S)).replace(microsecond=0)  # HH:MM:SS
    config = write_bridge_config(
        tmp / "bridge.toml",
        broker_port=broker.port,
        outbox=tmp / "outbox.sqlite",
        extra={"instances": []},
        targets=[
            {
                "name": "limited",
                "url": f"ntfy://127.0.0.1:{ntfy.port}/limited",
                "exclude_kinds": ["broker", "calendar_expiring"],
                "rate_limit_count": 10,
                "rate_limit_window_s": 60.0,
            },
            {
                "name": "quiet",
                "url": f"ntfy://127.0.0.1:{ntfy.port}/quiet",
                "min_severity": "critical",
                "kinds": ["calendar_expiring"],
                "quiet_start": quiet_start,
                "quiet_end": quiet_end_at.strftime("%H:%M:%S"),
                "quiet_tz": "UTC",
            },
            {"name": "slack", "url": f"https://hooks.slack.com{SLACK_PATH}?blocks=yes"},
        ],
    )
    config.write_text(config.read_text() + f"[metrics]\nport = {metrics_port}\n", encoding="utf-8")
    bridge = BridgeProc(tmp, config, bridge_env(certs, slack))
    slack.fail_for(FAIL_FOR_S)
    slack_ok_from = time.time() + FAIL_FOR_S
    started = time.monotonic()
    bridge.start()
    pub = Publisher(broker.port)
    published: list[str] = []
    critical_sent_at = 0.0
    try:
        for n in range(FLOOD):
            payload = alert_payload(n)
            pub.publish(f"{PREFIX}/default/alerts/data_stale", payload)
            published.append(f"data stale: alert number {n:04d}")
            if n == 20:
                cal = alert_payload(0, kind="calendar_expiring")
                pub.publish(f"{PREFIX}/default/alerts/calendar_expiring", cal)
                published.append("calendar expiring: alert number 0000")
            if n == 40:
                crit = alert_payload(0, kind="broker", severity="critical")
                pub.publish(f"{PREFIX}/default/alerts/broker", crit)
                published.append("broker: alert number 0000")
                critical_sent_at = time.time()
            time.sleep(10.0 / FLOOD)
        assert time.monotonic() - started < 25, "the stream must take about 10 s"

        def slack_done() -> bool:
            return len(slack.received()) >= len(published)

        wait_until(slack_done, FAIL_FOR_S + 60, "every message at Slack after the 503s")
        wait_until(
            lambda: any("more alerts" in m["title"] for m in ntfy.received()),
            30,
            "the digest of the rate-limited target",
        )
        time.sleep(2)
        metrics = _scrape(metrics_port)
        received = ntfy.received()
        yield Run(
            limited=[m for m in received if m["topic"] == "limited"],
            quiet=[m for m in received if m["topic"] == "quiet"],
            slack=slack.received(),
            slack_refused=slack.refused(),
            slack_ok_from=slack_ok_from,
            published=published,
            quiet_end=quiet_end_at.timestamp(),
            critical_sent_at=critical_sent_at,
            metrics=metrics,
            bridge_log=bridge.log_text(),
        )
    finally:
        pub.close()
        bridge.stop()
        ntfy.stop()
        slack.stop()
        broker.stop()


def test_failing_slack_gets_every_message_once_in_order(run: Run) -> None:
    assert run.slack_refused >= 3, "Slack answered 503 and the bridge retried"
    titles = [title_of(m) for m in run.slack]
    assert titles == run.published, "once each, in publish order"
    assert "bridge_delivery_failed" in run.bridge_log
    assert SLACK_PATH.rsplit("/", 1)[-1] not in run.bridge_log, "the webhook token is not logged"
    # nothing got through while Slack failed
    assert min(m["arrived_at"] for m in run.slack) >= run.slack_ok_from - 1


def test_rate_limited_target_gets_ten_messages_and_one_digest(run: Run) -> None:
    titles = [m["title"] for m in run.limited]
    assert titles[:10] == [f"data stale: alert number {n:04d}" for n in range(10)]
    assert len(titles) == 11, titles
    digest = run.limited[10]
    assert digest["title"] == f"{FLOOD - 10} more alerts in the last 1 min"
    assert digest["message"].splitlines()[0] == "• data stale: alert number 0010"
    assert digest["message"].splitlines()[-1] == f"… and {FLOOD - 10 - 8} more"
    # the digest waits for a free slot: 60 s after the first of the 10
    assert digest["arrived_at"] - run.limited[0]["arrived_at"] >= 59


def test_quiet_hours_hold_a_warning_and_pass_a_critical(run: Run) -> None:
    by_title = {m["title"]: m for m in run.quiet}
    assert set(by_title) == {
        "broker: alert number 0000",
        "calendar expiring: alert number 0000",
    }
    critical = by_title["broker: alert number 0000"]
    warning = by_title["calendar expiring: alert number 0000"]
    assert critical["priority"] == 5  # critical → ntfy max
    assert critical["arrived_at"] < run.quiet_end, "critical passes during quiet hours"
    assert critical["arrived_at"] - run.critical_sent_at < 5
    assert warning["arrived_at"] >= run.quiet_end, "the warning waited for the end"
    assert warning["arrived_at"] - run.quiet_end < 10


def test_bridge_metrics_count_deliveries_failures_and_digests(run: Run) -> None:
    m = run.metrics
    assert m[("alvhd_bridge_deliveries_total", (("target", "slack"),))] == len(run.published)
    assert m[("alvhd_bridge_deliveries_total", (("target", "limited"),))] == 11
    assert m[("alvhd_bridge_delivery_failures_total", (("target", "slack"),))] >= 3
    assert m[("alvhd_bridge_digests_total", (("target", "limited"),))] == 1
    assert m[("alvhd_bridge_received_total", (("kind", "data_stale"),))] == FLOOD
    assert m[("alvhd_bridge_mqtt_connected", ())] == 1
    assert m[("alvhd_bridge_outbox_depth", (("state", "pending"), ("target", "slack")))] == 0
