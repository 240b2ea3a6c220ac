"""A private mosquitto for tests: ``start_mosquitto(tmp_path) -> (proc, port)``.

A thin wrapper over ``adapters.mqtt.embedded`` (the demo's launcher) that fails the
calling test when mosquitto is missing: ``make test`` installs it, so a missing broker
is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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
