"""The deployment files start the bridge after mosquitto and chart metrics that exist."""

from __future__ import annotations

import json
import re

import yaml  # type: ignore[import-untyped]  # PyYAML comes with apprise; no stubs

from tests.bridge.helpers import REPO

METRICS_SOURCE = (REPO / "daemon" / "metrics.py").read_text(encoding="utf-8")


def test_systemd_unit_starts_the_bridge_after_mosquitto() -> None:
    unit = (REPO / "systemd" / "alvhd-bridge.service").read_text(encoding="utf-8")
    assert re.search(r"^After=.*\bmosquitto\.service\b", unit, re.M)
    assert re.search(r"^ExecStart=\S+/alvhd bridge$", unit, re.M)
    assert "RestartPreventExitStatus=78" in unit
    assert "LoadCredential=mqtt_password:" in unit


def test_compose_service_starts_the_bridge_after_mosquitto() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    bridge = compose["services"]["alvhd-bridge"]
    assert "mosquitto" in bridge["depends_on"]
    assert bridge["command"][-1].endswith("alvhd bridge")
    assert bridge["environment"]["ALVH_BRIDGE__MQTT__HOST"] == "mosquitto"


def test_grafana_dashboard_only_charts_exported_metrics() -> None:
    dash = json.loads((REPO / "deploy" / "grafana" / "alvhd-dashboard.json").read_text())
    exported = set(re.findall(r'"(alvhd_[a-z_]+)"', METRICS_SOURCE))
    assert len(exported) >= 15
    used: set[str] = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"\balvhd_[a-z_]+", target["expr"]):
                used.add(re.sub(r"_(total|bucket|count|sum)$", "", name))
    assert used, "the dashboard charts something"
    assert used <= exported, used - exported
    assert {"alvhd_publish_latency_seconds", "alvhd_bridge_deliveries"} <= used
