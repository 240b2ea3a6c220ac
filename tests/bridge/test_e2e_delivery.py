"""The bridge as a user runs it: real mosquitto, real `alvhd run`, real HTTP receivers.

Apprise is configured with the URLs a user writes: ``ntfy://127.0.0.1:<port>/<topic>`` for a
self-hosted ntfy, and the Slack webhook URL ``https://hooks.slack.com/services/T…/B…/…``,
which reaches the local Slack receiver through its HTTPS proxy (see tests/fakes/receivers.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from adapters.mqtt.embedded import Broker
from tests.bridge.helpers import (
    PREFIX,
    SLACK_PATH,
    BridgeProc,
    Receiver,
    bridge_env,
    slack_text,
    title_of,
    wait_until,
    write_bridge_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

ACTIVATION = "L1 ON — MACD(12,26) of IWM/SPX = -0.000055 < 0"
PROPOSAL = "L1 ON — hedge proposal: buy 66 VIX Jan-22 17C @ 0.33 ($2,178)"
PHONE_KINDS = ["layer_activated", "layer_deactivated", "order_proposed", "daemon"]


def _targets(ntfy: Receiver) -> list[dict[str, object]]:
    return [
        {
            "name": "phone",
            "url": f"ntfy://127.0.0.1:{ntfy.port}/alvhd-phone",
            "min_severity": "critical",
            "kinds": PHONE_KINDS,
        },
        {"name": "slack", "url": f"https://hooks.slack.com{SLACK_PATH}?blocks=yes"},
    ]


def _run_daemon(
    broker: Broker, market_dir: Path, tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALVH_")},
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_JOURNAL__PATH": str(tmp_path / "journal.sqlite"),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2020-01-02",
        "ALVH_REPLAY__END": "2020-01-02",
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    return subprocess.run(
        [str(alvhd), "run", "--source", "replay", "--exit-at-end"],
        env=env,
        capture_output=True,
        timeout=90,
        check=False,
    )


def test_l1_activation_and_proposal_reach_phone_and_slack_once(  # noqa: PLR0917
    broker: Broker,
    ntfy: Receiver,
    slack: Receiver,
    certs: Path,
    market_dir: Path,
    tmp_path: Path,
) -> None:
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=broker.port,
        outbox=tmp_path / "outbox.sqlite",
        targets=_targets(ntfy),
        extra={"link_base_url": "https://alvhd.example.org/d", "daemon_silence_s": 600.0},
    )
    bridge = BridgeProc(tmp_path, config, bridge_env(certs, slack))
    bridge.start()
    try:
        done = _run_daemon(broker, market_dir, tmp_path)
        assert done.returncode == 0, done.stdout.decode()[-2000:]

        def both_have_l1() -> bool:
            return all({ACTIVATION, PROPOSAL} <= set(r.titles()) for r in (ntfy, slack))

        wait_until(both_have_l1, 30, "L1 activation and proposal at both receivers")
        time.sleep(3)  # let a duplicate (QoS 1 redelivery, a retry) surface before counting
    finally:
        assert bridge.stop() == 0

    phone = ntfy.received()
    slack_msgs = slack.received()
    # once each: no title twice at either receiver
    for titles in ([m["title"] for m in phone], [title_of(m) for m in slack_msgs]):
        dupes = [t for t, c in Counter(titles).items() if c > 1]
        assert not dupes, dupes

    activation = next(m for m in phone if m["title"] == ACTIVATION)
    proposal = next(m for m in phone if m["title"] == PROPOSAL)
    # ntfy fields: topic, priority from severity (warning → high = 4), tags, click link
    assert activation["topic"] == "alvhd-phone"
    assert proposal["priority"] == 4
    assert {"warning", "order_proposed"} <= set(proposal["tags"])
    assert proposal["click"] == "https://alvhd.example.org/d/default/ba4403250d06edd6"
    # the reasons one per line, the exit rule; the proposal's scenario cover and ref
    assert activation["message"].splitlines() == [
        "• MACD(12,26) of IWM/SPX = -0.000055 < 0",
        "Ends when: L1 closes after 3 consecutive closes with the IWM/SPX MACD(12,26) line"
        " >= 0; minimum hold 2 trading days",
    ]
    assert "Covers 102% of the condor's $12,153 loss" in proposal["message"]
    assert "ref alvh:L1:open:20200122:17:ba4403250d06edd6" in proposal["message"]
    # the phone only gets critical + layer changes + proposals
    assert all(m["priority"] == 5 or m["title"].startswith(("L1 ", "L2 ", "L3 ")) for m in phone), [
        m["title"] for m in phone
    ]
    # Slack gets everything, with blocks
    slack_all = " ".join(slack_text(m) for m in slack_msgs)
    assert PROPOSAL in slack_all
    assert "Ends when:" in slack_all
    assert len(slack_msgs) >= len(phone)
