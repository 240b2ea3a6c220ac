"""Find or start an MQTT broker for the demo: embedded mosquitto, a local broker, or none.

``alvhd demo`` must work on a bare machine. In order of preference it:
1. starts a private ``mosquitto`` (Debian package) on a free loopback port, when the binary
   is installed, with a throw-away config in a temporary directory;
2. else uses a broker already listening on ``127.0.0.1:1883``;
3. else runs without MQTT (alerts are still shown in the terminal).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (bind to port 0 and release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_listening(host: str, port: int, timeout_s: float = 0.3) -> bool:
    """True when a TCP connect to ``host:port`` succeeds within ``timeout_s`` seconds."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout_s):
        return True
    return False


@dataclass(slots=True)
class Broker:
    """A broker to publish to; ``process`` is set when we started it (and must stop it)."""

    host: str
    port: int
    kind: str
    """``"embedded"`` (we started mosquitto), ``"local"`` (already running)."""
    process: subprocess.Popen[bytes] | None = None

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate an embedded broker (no-op for a local one)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)


def start_mosquitto(
    workdir: Path, *, port: int | None = None, binary: str | None = None, timeout_s: float = 5.0
) -> Broker:
    """Start a private mosquitto on 127.0.0.1 (anonymous, no persistence).

    Args:
        workdir: directory for the generated config and log.
        port: TCP port (default: a free one); a given port restarts "the same" broker.
        binary: mosquitto path (default: found on PATH or in /usr/sbin).
        timeout_s: how long to wait for the listener, seconds.

    Returns:
        The running broker; call ``stop()`` when done.

    Raises:
        FileNotFoundError: mosquitto is not installed.
        RuntimeError: it did not start listening in time (its log is quoted).
    """
    exe = binary or find_mosquitto()
    if exe is None:
        raise FileNotFoundError("mosquitto is not installed (Debian package `mosquitto`)")
    port = free_port() if port is None else port
    conf = workdir / f"mosquitto-{port}.conf"
    log = workdir / f"mosquitto-{port}.log"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        # issue 9: each PUBACK and forwarded message leaves at once (no Nagle delay)
        f"set_tcp_nodelay true\nlog_dest file {log}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(  # noqa: S603  (fixed argv, no shell)
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    broker = Broker(host="127.0.0.1", port=port, kind="embedded", process=proc)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if is_listening("127.0.0.1", port):
            return broker
        time.sleep(0.05)
    broker.stop()
    detail = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    raise RuntimeError(f"mosquitto did not start on port {port}: {detail.strip()[-500:]}")


def find_or_start_broker(workdir: Path, *, local_port: int = 1883) -> Broker | None:
    """Embedded mosquitto if installed, else a local broker on ``local_port``, else None."""
    if find_mosquitto() is not None:
        with contextlib.suppress(RuntimeError):
            return start_mosquitto(workdir)
    if is_listening("127.0.0.1", local_port):
        return Broker(host="127.0.0.1", port=local_port, kind="local")
    return None
