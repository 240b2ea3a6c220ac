"""Real processes for the fault matrix: mosquitto, the fake TWS, ``alvhd``, a subscriber.

Every fault test runs the daemon as the operator does (the ``alvhd`` console script, JSON
log lines on stdout) against a real mosquitto and the fake TWS (``python -m
tests.fakes.tws``), and judges it only by what an independent paho subscriber heard, the
exit code, the log, and the journal file. Nothing here imports daemon code.

- :class:`Mosquitto` has persistence on, so a broker stopped and started again on the same
  port keeps the subscriber's session: QoS 1 messages queued for it survive the restart.
- :class:`Subscriber` uses a persistent session (``clean_session=False``) and reconnects
  within half a second, so it hears everything the daemon publishes around an outage; it
  records each message's arrival time and MQTT ``dup`` flag.
- :class:`NotifySocket` plays systemd's ``$NOTIFY_SOCKET`` (READY=1, WATCHDOG=1, ...).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt.embedded import find_mosquitto, is_listening
from tests.conftest import REPO_ROOT

_RESTARTABLE_PORTS = range(20000, 32000)
"""Ports for servers a test stops and starts again on the same port: below Linux's
ephemeral range (``net.ipv4.ip_local_port_range``, 32768-60999), so no ``free_port()``
(bind to port 0) of a test running beside it can take the port while the server is down."""


def restartable_port() -> int:
    """A free loopback port outside the ephemeral range (see ``_RESTARTABLE_PORTS``).

    Raises:
        RuntimeError: no free port found after 200 tries.
    """
    for _ in range(200):
        port = secrets.choice(_RESTARTABLE_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in the restartable range")


ALVHD = Path(sys.executable).with_name("alvhd")
PREFIX = "alvhd-fault"
STARTUP_S = 90.0
"""How long a process may take to start (imports, warm-up) on a loaded 2-core CI machine
running the suite in parallel. Time limits the issue sets are measured from the daemon's
own log lines (e.g. ``started``, i.e. READY=1), not from the process spawn."""


def log_time(line: dict[str, Any]) -> float:
    """The wall time (``time.time()`` scale) of a JSON log line's ``timestamp``."""
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


class Mosquitto:
    """A mosquitto on a fixed loopback port that can be stopped and started again."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        exe = find_mosquitto()
        if exe is None:
            pytest.fail("mosquitto is required for the fault tests (make test installs it)")
        self.exe = exe
        self.port = port or restartable_port()
        self.workdir = workdir / f"mosquitto-{self.port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.workdir}/\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it listens."""
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: is_listening("127.0.0.1", self.port), 10, "mosquitto to listen")

    def stop(self) -> None:
        """Stop (SIGTERM: it saves its persistent sessions) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class FakeTwsProcess:
    """``python -m tests.fakes.tws`` on a fixed port; killed like a crashing gateway."""

    def __init__(self, port: int | None = None, *args: str) -> None:
        self.port = port or restartable_port()
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it listens."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.tws", "--port", str(self.port), *self.args],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: is_listening("127.0.0.1", self.port), 20, "the fake TWS to listen")

    def kill(self) -> None:
        """SIGKILL (the gateway dies without a goodbye) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class NotifySocket:
    """systemd's ``$NOTIFY_SOCKET``: a datagram socket that records every message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode())

    def has(self, text: str) -> bool:
        """Whether any message so far contains ``text`` (e.g. ``READY=1``)."""
        return any(text in m for m in list(self.messages))

    def close(self) -> None:
        """Stop reading and remove the socket."""
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass(slots=True)
class Heard:
    """One message the subscriber heard."""

    topic: str
    payload: dict[str, Any]
    retained: bool
    dup: bool
    at: float
    """``time.time()`` on arrival (wall clock, comparable with the daemon's log)."""


class Subscriber:
    """Independent MQTT subscriber (paho, persistent session, fast reconnect)."""

    def __init__(self, port: int, prefix: str, client_id: str = "fault-subscriber") -> None:
        self.heard: list[Heard] = []
        self.lock = threading.Lock()
        self.prefix = prefix
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        # paho annotates ints but sleeps on floats: sub-second reconnects after an outage
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, "the subscriber to connect")

    def _on_connect(self, client: paho.Client, *_: object) -> None:
        client.subscribe(f"{self.prefix}/#", qos=1)

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        heard = Heard(
            topic=msg.topic,
            payload=json.loads(msg.payload),
            retained=bool(msg.retain),
            dup=bool(msg.dup),
            at=time.time(),
        )
        with self.lock:
            self.heard.append(heard)

    def all(self) -> list[Heard]:
        """Everything heard so far, in arrival order."""
        with self.lock:
            return list(self.heard)

    def on(self, suffix: str) -> list[Heard]:
        """Messages whose topic ends with ``suffix`` (``"/status"``, ``"/alerts/broker"``)."""
        return [h for h in self.all() if h.topic.endswith(suffix)]

    def wait_for(
        self, predicate: Callable[[list[Heard]], bool], timeout_s: float, what: str
    ) -> None:
        """Wait until ``predicate(everything heard)`` holds."""
        wait_until(lambda: predicate(self.all()), timeout_s, what)

    def close(self) -> None:
        """Disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def decision_ids(heard: list[Heard]) -> list[str]:
    """``decision_id`` of every alert and proposed order heard, in arrival order."""
    return [
        h.payload["decision_id"]
        for h in heard
        if ("/alerts/" in h.topic or h.topic.endswith("/orders/proposed"))
        and "decision_id" in h.payload
    ]


class Alvhd:
    """The ``alvhd`` console script as a process; JSON log lines go to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log_file = log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(ALVHD), *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (non-JSON lines are skipped)."""
        out: list[dict[str, Any]] = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    out.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log lines whose ``event`` is ``name``."""
        return [line for line in self.lines() if line.get("event") == name]

    def wait_log(self, name: str, timeout_s: float) -> dict[str, Any]:
        """Wait for the first log line with ``event == name``."""
        wait_until(lambda: bool(self.events(name)), timeout_s, f"log event {name!r}")
        return self.events(name)[0]

    def text(self) -> str:
        """The whole log (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def is_running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def terminate(self, timeout_s: float = 30.0) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds until it exited)."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"alvhd did not exit within {timeout_s:g} s of SIGTERM:\n{self.text()[-4000:]}"
            ) from None
        return code, time.monotonic() - start

    def wait(self, timeout_s: float) -> int:
        """Wait for the exit code."""
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL if still running (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log_file.close()


def daemon_env(
    *,
    broker_port: int,
    journal: Path,
    instance: str,
    notify: NotifySocket | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment of an ``alvhd run`` under test (``ALVH_*`` settings plus ``extra``)."""
    env = {
        **os.environ,
        "ALVH_MQTT__HOST": "127.0.0.1",
        "ALVH_MQTT__PORT": str(broker_port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__INSTANCE": instance,
        "ALVH_MQTT__KEEPALIVE_S": "5",
        "ALVH_JOURNAL__PATH": str(journal),
        **extra,
    }
    if notify is not None:
        env["NOTIFY_SOCKET"] = str(notify.path)
    return env
