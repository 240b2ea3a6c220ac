"""Ctrl-C in ``alvhd demo``: a clean stop, no asyncio noise after "demo finished".

A terminal's Ctrl-C sends SIGINT to the whole foreground process group: the demo *and*
the private mosquitto it started die together, mid-publish. The operator must see the
demo's last line and nothing like ``Future exception was never retrieved ...
MqttCodeError`` after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.procs import ALVHD

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]


def test_ctrl_c_in_the_demo_stops_cleanly_without_asyncio_noise() -> None:
    proc = subprocess.Popen(
        [str(ALVHD), "demo", "--sessions", "400", "--session-seconds", "0.2"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert proc.stdout is not None
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(raw.decode(errors="replace") for raw in proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120  # start-up is slow on a loaded CI machine
        while not sum("ORDER" in line for line in lines) >= 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum("ORDER" in line for line in lines) >= 3, "".join(lines)[-2000:]
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the demo and its mosquitto
        code = proc.wait(30)
        reader.join(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        reader.join(10)
        proc.stdout.close()
    out = "".join(lines)
    assert code in (0, 130), out[-3000:]
    assert "demo finished" in out or "interrupted" in out, out[-3000:]
    assert "never retrieved" not in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "MqttCodeError" not in out, out[-3000:]
