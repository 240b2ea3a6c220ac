"""Data faults with real processes (issue 6 §3): the fake TWS, `alvhd run`, mosquitto, paho.

- A feed stall of 60 s with ``stale_after_s = 10`` gives exactly one ``data_stale`` alert
  and one *restored* alert at an independent subscriber (not one per symbol per 10 s).
- ``SPX 30`` printed seconds before the 16:15 close is quarantined: one ``data_suspect``
  alert, the close is not committed from it, and the day's decisions equal those of a
  clean run of the same session.

Each test drives the fake TWS through its ``--control-stdin`` commands (``stall``,
``push``) and runs the daemon on the paper-mode rehearsal clock (``--clock-start``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.embedded import Broker, free_port, is_listening
from tests.conftest import REPO_ROOT
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

PREFIX = "alvhd-faults"
Msgs = list[tuple[str, dict[str, Any], bool]]


class FakeTwsProcess:
    """``python -m tests.fakes.tws`` with ``--control-stdin``: send it commands."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.tws",
                "--port",
                str(self.port),
                "--control-stdin",
                *args,
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 15
        while not is_listening("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert is_listening("127.0.0.1", self.port), "the fake TWS did not start"

    def command(self, line: str) -> None:
        """Send one command and wait for its ``ok`` acknowledgement."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ack = self.proc.stdout.readline().strip()
        assert ack == f"ok {line}", ack

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def alvhd_ibkr(
    broker: Broker, tws_port: int, journal: Path, instance: str, clock_start: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`alvhd run --source ibkr` on the rehearsal clock; SIGTERM (exit 0 asserted) at the end."""
    full_env = {
        **os.environ,
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_MQTT__INSTANCE": instance,
        "ALVH_JOURNAL__PATH": str(journal),
        "ALVH_SERVICE__MARKET_EVERY_S": "1",
        **env,
    }
    alvhd = Path(sys.executable).with_name("alvhd")
    proc = subprocess.Popen(
        [
            str(alvhd),
            "run",
            "--source",
            "ibkr",
            "--ib-port",
            str(tws_port),
            "--clock-start",
            clock_start,
        ],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if proc.stdout is not None:
            proc.stdout.close()


def _alerts(msgs: Msgs, base: str, kind: str) -> list[dict[str, Any]]:
    return [p for t, p, _ in msgs if t == f"{base}/alerts/{kind}"]


def _has_quotes(msgs: Msgs, base: str) -> bool:
    return any(t == f"{base}/market" and "SPX" in p.get("quotes", {}) for t, p, _ in msgs)


def test_a_60s_feed_stall_is_one_stale_alert_and_one_restored(
    broker: Broker, tmp_path: Path
) -> None:
    tws = FakeTwsProcess("--as-of", "2020-02-24", "--tick-s", "1", "--hold-day")
    listener = Listener(broker.port, PREFIX)
    base = f"{PREFIX}/stall"
    try:
        with alvhd_ibkr(
            broker,
            tws.port,
            tmp_path / "journal.sqlite",
            "stall",
            "2020-02-24T10:00:00-05:00",
            ALVH_SERVICE__STALE_AFTER_S="10",
        ):
            listener.wait_for(lambda m: _has_quotes(m, base), timeout_s=60)
            time.sleep(3)  # every series has ticked
            assert _alerts(listener.snapshot(), base, "data_stale") == []
            stalled_at = time.monotonic()
            tws.command("stall 60")
            listener.wait_for(lambda m: _alerts(m, base, "data_stale"), timeout_s=20)
            stale_after = time.monotonic() - stalled_at
            msgs = listener.wait_for(
                lambda m: any(a["severity"] == "info" for a in _alerts(m, base, "data_stale")),
                timeout_s=75,
            )
            restored_after = time.monotonic() - stalled_at
            time.sleep(5)  # nothing more comes once the feed is back
            msgs = listener.snapshot()
    finally:
        listener.close()
        tws.stop()
    alerts = _alerts(msgs, base, "data_stale")
    assert [a["severity"] for a in alerts] == ["critical", "info"], alerts
    stale, restored = alerts
    for sym in ("SPX", "IWM", "VIX", "RVX", "VIX3M", "VX1", "VX2"):
        assert sym in stale["message"]
    assert "restored" in restored["message"]
    assert 9.0 <= stale_after <= 20.0  # the last tick came up to 1 s before the stall
    assert 59.0 <= restored_after <= 75.0


def test_spx_30_before_the_close_is_quarantined_and_the_day_is_unchanged(
    broker: Broker, tmp_path: Path
) -> None:
    """Two rehearsals of 2020-02-24 side by side: one clean, one with `SPX 30` at 16:14:5x."""
    clock_start = "2020-02-24T16:14:30-05:00"
    # one tick per hour: the only quotes are each subscription's snapshot (the day's open)
    clean_tws = FakeTwsProcess("--as-of", "2020-02-24", "--tick-s", "3600")
    bad_tws = FakeTwsProcess("--as-of", "2020-02-24", "--tick-s", "3600")
    listener = Listener(broker.port, PREFIX)
    clean, bad = f"{PREFIX}/clean", f"{PREFIX}/bad"

    def closed(base: str) -> Any:
        return lambda m: any(t == f"{base}/layers" and p.get("last_change") for t, p, _ in m)

    try:
        with (
            alvhd_ibkr(
                broker,
                clean_tws.port,
                tmp_path / "clean.sqlite",
                "clean",
                clock_start,
                ALVH_SERVICE__STATUS_EVERY_S="2",
            ),
            alvhd_ibkr(
                broker,
                bad_tws.port,
                tmp_path / "bad.sqlite",
                "bad",
                clock_start,
                ALVH_SERVICE__STATUS_EVERY_S="2",
            ),
        ):
            listener.wait_for(lambda m: _has_quotes(m, clean) and _has_quotes(m, bad), 25)
            bad_tws.command("push SPX 30")
            msgs = listener.wait_for(lambda m: _alerts(m, bad, "data_suspect"), timeout_s=10)
            suspect_seen = [t for t, _, _ in msgs if t.startswith(bad)]
            assert f"{bad}/orders/proposed" not in suspect_seen  # not yet closed
            listener.wait_for(closed(clean), timeout_s=60)
            time.sleep(3)  # the rest of the close's decisions, in both runs
            msgs = listener.snapshot()
    finally:
        listener.close()
        clean_tws.stop()
        bad_tws.stop()

    # the rejection counts are in the retained status (heartbeat every 2 s here)
    def last_status(base: str) -> dict[str, Any]:
        return [p for t, p, _ in msgs if t == f"{base}/status" and p["state"] == "online"][-1]

    assert last_status(bad)["quotes_rejected"]["SPX"]["implausible"] == 1
    assert "SPX" not in last_status(clean)["quotes_rejected"]

    suspect = _alerts(msgs, bad, "data_suspect")
    assert len(suspect) == 1, suspect
    assert suspect[0]["severity"] == "warning"
    assert "SPX 30" in suspect[0]["message"]
    assert _alerts(msgs, clean, "data_suspect") == []

    def day(base: str) -> list[tuple[str, Any, Any, Any, Any]]:
        return sorted(
            (
                t.removeprefix(base),
                p["decision_id"],
                p.get("layer"),
                p.get("contracts"),
                p.get("limit_price"),
            )
            for t, p, _ in msgs
            if t.startswith(base) and (t.endswith("/orders/proposed") or "/alerts/layer_" in t)
        )

    clean_day, bad_day = day(clean), day(bad)
    assert clean_day, "the clean run made no decision at the 2020-02-24 close"
    assert bad_day == clean_day
