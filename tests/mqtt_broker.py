"""A private mosquitto for tests: ``start_mosquitto(tmp_path) -> (proc, port)``.

A thin wrapper over ``adapters.mqtt.embedded`` (the demo's launcher) that fails the
calling test when mosquitto is missing: ``make test`` installs it, so a missing broker
is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt import embedded


def start_mosquitto(
    tmp_path: Path, *, port: int | None = None, timeout_s: float = 5.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start mosquitto with a temp config; return ``(process, port)`` once it listens.

    Raises:
        RuntimeError: it did not listen within ``timeout_s`` (its log is quoted).
    """
    if embedded.find_mosquitto() is None:
        pytest.fail("mosquitto is not installed (make test installs the Debian package)")
    broker = embedded.start_mosquitto(tmp_path, port=port, timeout_s=timeout_s)
    assert broker.process is not None
    return broker.process, broker.port


def stop_mosquitto(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """Terminate (then kill) the broker and reap it."""
    embedded.Broker(host="127.0.0.1", port=0, kind="embedded", process=proc).stop(timeout_s)


class Listener:
    """Independent MQTT subscriber (paho, no alvhd code): every message under ``prefix``."""

    def __init__(self, port: int, prefix: str) -> None:
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="e2e-listener")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def snapshot(self) -> list[tuple[str, dict[str, Any], bool]]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate: Any, timeout_s: float) -> list[tuple[str, dict[str, Any], bool]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msgs = self.snapshot()
            if predicate(msgs):
                return msgs
            time.sleep(0.1)
        raise AssertionError(f"timed out; got topics {[m[0] for m in self.snapshot()][-30:]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
