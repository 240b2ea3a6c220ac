"""A private mosquitto for tests: ``start_mosquitto(tmp_path) -> (proc, port)``.

Anonymous, no persistence, bound to 127.0.0.1 on a free port (or a given port, to
restart "the same" broker). Reused by the lead's end-to-end tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def mosquitto_binary() -> str | None:
    """``$ALVH_MOSQUITTO``, ``mosquitto`` on PATH, or ``/usr/sbin/mosquitto``."""
    for candidate in (os.environ.get("ALVH_MOSQUITTO"), "mosquitto", "/usr/sbin/mosquitto"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_mosquitto(
    tmp_path: Path, *, port: int | None = None, timeout_s: float = 5.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start mosquitto with a temp config; return ``(process, port)`` once it listens.

    Skips the calling test when mosquitto is not installed.

    Raises:
        RuntimeError: it did not listen within ``timeout_s`` (its log is quoted).
    """
    exe = mosquitto_binary()
    if exe is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port() if port is None else port
    conf = tmp_path / f"mosquitto-{port}.conf"
    log = tmp_path / f"mosquitto-{port}.log"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"log_dest file {log}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if _listening(port):
            return proc, port
        time.sleep(0.02)
    stop_mosquitto(proc)
    detail = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    raise RuntimeError(f"mosquitto did not listen on {port}: {detail[-500:]}")


def stop_mosquitto(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """Terminate (then kill) the broker and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
