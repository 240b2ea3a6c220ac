"""`alvhd status` against a real journal and a real mosquitto (issue 11 §4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from adapters.mqtt.embedded import Broker

ALVHD = str(Path(sys.executable).with_name("alvhd"))


def _alvhd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ALVH_")}
    return subprocess.run(
        [ALVHD, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_shows_the_retained_health_and_the_journal(broker: Broker, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    env = {
        "ALVH_MQTT__HOST": broker.host,
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__INSTANCE": "ops",
        "ALVH_SIM__SESSIONS": "60",
        "ALVH_SIM__SESSION_SECONDS": "0",
        "ALVH_JOURNAL__PATH": str(journal),
    }
    run = _alvhd("run", "--source", "sim", "--exit-at-end", env=env)
    assert run.returncode == 0, run.stderr[-2000:]

    proc = _alvhd("status", "--source", "sim", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the retained status of the stopped daemon: offline, from source sim
    assert "health:      offline" in proc.stdout
    assert "source sim" in proc.stdout
    assert f"journal:     {journal} (source sim, instance ops)" in proc.stdout
    assert "0 unpublished" in proc.stdout  # every decision reached the broker

    data = json.loads(_alvhd("status", "--source", "sim", "--json", env=env).stdout)
    assert data["mqtt"]["state"] == "offline"
    assert data["decisions"] > 0
    assert data["unpublished"] == 0
    assert len(data["last"]) == 8
    # what the ladder holds in the snapshot is what status lists as layers and hedges
    assert {h["layer"] for h in data["hedges"]} <= {
        layer["layer"] for layer in data["active_layers"]
    }

    # broker gone: status still reads the journal and says why health is unknown
    broker.stop()
    proc = _alvhd("status", "--source", "sim", "--mqtt-timeout-s", "1", env=env)
    assert proc.returncode == 0
    assert "health:      unknown: no retained MQTT status" in proc.stdout
    assert f"journal:     {journal}" in proc.stdout


def test_status_without_journal_or_broker_exits_66(tmp_path: Path) -> None:
    env = {"ALVH_JOURNAL__PATH": str(tmp_path / "none.sqlite"), "ALVH_MQTT__PORT": "1"}
    proc = _alvhd("status", "--mqtt-timeout-s", "0.5", env=env)
    assert proc.returncode == 66
    assert "journal:     none found" in proc.stdout
