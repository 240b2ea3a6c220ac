"""kill -9 of ``alvhd run`` mid-replay with sends unacknowledged: nothing lost, re-sent by id.

The journal commits the "published" marks with ``synchronous=NORMAL`` (issue 9; see
``adapters/sqlite/journal.py``): a mark that a power cut rolls back leaves its decision
unpublished, exactly like a process killed between the broker's PUBACK and the mark.
This test makes that state for real: the broker is frozen (SIGSTOP) while the daemon
replays early 2020, so a window of QoS 1 publishes is sent but never acknowledged; the
daemon is killed (SIGKILL), the broker resumed, and the daemon started again on the same
journal. An independent subscriber must then have heard every decision of an
uninterrupted run, and every decision left unpublished by the kill must be heard again
after the restart carrying its own ``decision_id``; nothing else is heard twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.embedded import Broker
from tests.mqtt_broker import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]

PREFIX = "alvhd-kill"
INSTANCE = "ci"
ALVHD = str(Path(sys.executable).with_name("alvhd"))

Message = tuple[str, dict[str, Any], bool]


def _env(broker: Broker, journal: Path, market_dir: Path, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "ALVH_MQTT__HOST": "127.0.0.1",
        "ALVH_MQTT__PORT": str(broker.port),
        "ALVH_MQTT__TOPIC_PREFIX": prefix,
        "ALVH_MQTT__INSTANCE": INSTANCE,
        "ALVH_JOURNAL__PATH": str(journal),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2020-01-01",
        "ALVH_REPLAY__END": "2020-12-31",
    }


def _decision_ids(msgs: list[Message]) -> list[str]:
    """The decision ids heard live (alerts, orders; layer changes under ``last_change``)."""
    ids: list[str] = []
    for topic, payload, retained in msgs:
        if retained:
            continue
        if topic.endswith("/layers"):
            change = payload.get("last_change")
            if change:
                ids.append(str(change["decision_id"]))
        elif "/alerts/" in topic or topic.endswith("/orders/proposed"):
            ids.append(str(payload["decision_id"]))
    return ids


def _journal(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return [
            (str(d), int(p))
            for d, p in db.execute("SELECT decision_id, published FROM decisions ORDER BY seq")
        ]


def _run_to_end(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [ALVHD, "run", "--source", "replay", "--exit-at-end"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_kill_9_with_unacknowledged_sends_loses_nothing_and_resends_by_id(
    broker: Broker, market_dir: Path, tmp_path: Path
) -> None:
    assert broker.process is not None
    listener = Listener(broker.port, PREFIX)
    journal = tmp_path / "journal.sqlite"
    env = _env(broker, journal, market_dir, PREFIX)
    proc = subprocess.Popen(
        [ALVHD, "run", "--source", "replay", "--exit-at-end"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    frozen = False
    try:
        deadline = time.monotonic() + 60
        while not _decision_ids(listener.snapshot()) and time.monotonic() < deadline:
            time.sleep(0.002)  # freeze the broker as soon as the first decision arrives
        broker.process.send_signal(signal.SIGSTOP)  # publishes leave, no PUBACK comes back
        frozen = True
        time.sleep(1.0)  # the daemon journals on and fills its window
        proc.kill()  # kill -9: no drain, no goodbye
        proc.wait(timeout=10)
    finally:
        if frozen:
            broker.process.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    try:
        after_kill = _journal(journal)
        unpublished = [d for d, published in after_kill if not published]
        assert unpublished, "the kill left nothing unpublished: the test proves nothing"
        time.sleep(0.5)  # what the resumed broker still forwards arrives before the restart
        heard_before = len(listener.snapshot())

        _run_to_end(env)  # the restart: re-sends the unpublished, then the rest of the run
        listener.wait_for(
            lambda m: set(unpublished) <= set(_decision_ids(m[heard_before:])), timeout_s=30
        )
        time.sleep(0.5)  # late duplicates, if any, arrive
        msgs = listener.snapshot()
    finally:
        listener.close()

    final = _journal(journal)
    assert all(published for _, published in final), "unpublished decisions left"
    heard = Counter(_decision_ids(msgs))
    resent = Counter(_decision_ids(msgs[heard_before:]))
    # every decision left unpublished by the kill was published again with its own id
    assert set(unpublished) <= set(resent)
    # only those may be heard twice (at-least-once), and none more than twice
    assert {d for d, n in heard.items() if n > 1} <= set(unpublished)
    assert max(heard.values()) <= 2

    # nothing lost: every decision of an uninterrupted run, in the same journal order
    reference = tmp_path / "reference.sqlite"
    _run_to_end(_env(broker, reference, market_dir, "alvhd-reference"))
    expected = [d for d, _ in _journal(reference)]
    position = {d: i for i, (d, _) in enumerate(final)}
    assert all(d in position for d in expected), "a decision of the uninterrupted run is missing"
    assert [position[d] for d in expected] == sorted(position[d] for d in expected)
    assert set(expected) <= set(heard)
    # the restarted replay resumes after its snapshot's last session: nothing is new (it
    # re-fed every session it held before, each a "close_repeated" alert with a new id,
    # published and sent to phones: 253 in one run)
    assert [d for d, _ in final] == expected
