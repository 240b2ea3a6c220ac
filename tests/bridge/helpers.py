"""Processes for the bridge tests: receivers, the bridge, a secured mosquitto, a publisher."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.embedded import find_mosquitto, free_port, is_listening

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "mosquitto"
PREFIX = "alvhd"
SLACK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def wait_until(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``pred`` every 0.1 s; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def make_certs(out: Path, *names: str) -> Path:
    """Run the deploy script that makes the CA + server cert; returns ``out``."""
    subprocess.run(
        [str(DEPLOY / "make-certs.sh"), str(out), *names], check=True, capture_output=True
    )
    return out


@dataclass
class Receiver:
    """A fake ntfy or Slack receiver process (tests/fakes/receivers.py)."""

    kind: str
    port: int
    proc: subprocess.Popen[bytes]

    def received(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_received", timeout=5) as r:
            return list(json.loads(r.read())["messages"])

    def refused(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_received", timeout=5) as r:
            return int(json.loads(r.read())["refused"])

    def fail_for(self, seconds: float, status: int = 503) -> None:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_control",
            data=json.dumps({"fail_for_s": seconds, "status": status}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(  # noqa: S310 - loopback http
            req, timeout=5
        ):
            pass

    def titles(self) -> list[str]:
        return [title_of(m) for m in self.received()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def title_of(msg: dict[str, Any]) -> str:
    """The title of a received ntfy or Slack message, as a person reads it."""
    return html.unescape(_raw_title(msg))


def _raw_title(msg: dict[str, Any]) -> str:
    if "payload" not in msg:
        return str(msg["title"])
    payload = msg["payload"]
    for att in payload.get("attachments", []):
        for block in att.get("blocks", []):
            if block.get("type") == "header":
                return str(block["text"]["text"])
        if att.get("title"):
            return str(att["title"])
    for block in payload.get("blocks", []):
        if block.get("type") == "header":
            return str(block["text"]["text"])
    return str(payload.get("text", ""))


def slack_text(msg: dict[str, Any]) -> str:
    """Everything a person sees in a received Slack message, as one string."""
    return html.unescape(json.dumps(msg["payload"], ensure_ascii=False))


def start_receiver(kind: str, certs: Path | None = None) -> Receiver:
    """Start a receiver on a free loopback port (slack: TLS for hooks.slack.com)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.fakes.receivers", kind, "--port", str(port)]
    if kind == "slack":
        assert certs is not None
        cmd += ["--tls-cert", str(certs / "server.crt"), "--tls-key", str(certs / "server.key")]
    proc = subprocess.Popen(cmd, cwd=REPO)
    wait_until(lambda: is_listening("127.0.0.1", port), 10, f"{kind} receiver")
    return Receiver(kind=kind, port=port, proc=proc)


@dataclass
class BridgeProc:
    """``alvhd bridge`` as a subprocess with its own config file and outbox."""

    workdir: Path
    config: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        log = self.workdir / f"bridge-{len(self.logs)}.log"
        self.logs.append(log)
        alvhd = Path(sys.executable).with_name("alvhd")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(alvhd), "bridge", "--bridge-config", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        wait_until(lambda: "bridge_mqtt_connected" in self.log_text(), 20, "bridge connected")

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        return self.proc.wait(timeout=15)


def bridge_env(
    receivers_certs: Path | None, slack: Receiver | None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment of the bridge: Slack traffic through the receiver's HTTPS proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALVH_")}
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(k, None)
    if slack is not None and receivers_certs is not None:
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{slack.port}"
        env["REQUESTS_CA_BUNDLE"] = str(receivers_certs / "ca.crt")
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["ALVH_SECRETS_DIR"] = "/nonexistent"
    env.update(extra or {})
    return env


def toml_str(value: Any) -> str:
    return json.dumps(value)


def write_bridge_config(
    path: Path,
    *,
    broker_port: int,
    outbox: Path,
    targets: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    mqtt_extra: dict[str, Any] | None = None,
) -> Path:
    """A bridge.toml for a test (top-level keys, [mqtt], [[targets]])."""
    lines = [f"outbox_path = {toml_str(str(outbox))}", "retry_initial_s = 0.5", "retry_max_s = 4.0"]
    for k, v in (extra or {}).items():
        lines.append(f"{k} = {toml_str(v)}")
    lines += [
        "[mqtt]",
        f"port = {broker_port}",
        f"topic_prefix = {toml_str(PREFIX)}",
        f"client_id = {toml_str('bridge-' + path.parent.name[-20:])}",
    ]
    for k, v in (mqtt_extra or {}).items():
        lines.append(f"{k} = {toml_str(v)}")
    for t in targets:
        lines.append("[[targets]]")
        lines += [f"{k} = {toml_str(v)}" for k, v in t.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Publisher:
    """A paho client publishing like the daemon does (QoS 1), for synthetic streams."""

    def __init__(self, port: int, client_id: str = "test-publisher", **kw: Any) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, **kw)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: dict[str, Any], *, retain: bool = False) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1, retain=retain)
        info.wait_for_publish(timeout=5)
        assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def alert_payload(
    n: int, *, severity: str = "warning", kind: str = "data_stale", instance: str = "default"
) -> dict[str, Any]:
    """An alert exactly as the daemon publishes it (README "MQTT reference")."""
    return {
        "v": 1,
        "type": "alert",
        "decision_id": f"test-{kind}-{n:04d}",
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kind": kind,
        "severity": severity,
        "key": f"{kind}:{n}",
        "message": f"alert number {n:04d}",
        "layer": None,
        "reasons": [],
        "exit_rule": "",
    }


def mosquitto_required() -> str:
    exe = find_mosquitto()
    if exe is None:
        raise AssertionError("mosquitto is required (make test installs it)")
    return exe
