"""End-to-end figures where a user waits (issue 9): start-up, replay, the daemon's run.

Run: ``uv run python bench/e2e_bench.py [--data-dir DIR] [--repeat N]``

Prints, each the median (and min) of ``--repeat`` runs of the installed console script,
start-up included (this is what a person waits for):

- ``alvhd --help`` and ``alvhd config`` wall time;
- ``alvhd replay DIR`` (the whole history, days.csv written) wall time;
- ``alvhd run --source replay --exit-at-end`` over the whole history with the journal and
  a real mosquitto: wall time, and what an independent subscriber (paho, no alvhd code)
  heard: decisions delivered, distinct ids, duplicates, against the journal's count and
  what it still holds unpublished.

Figures are printed, not asserted (``make bench``); the README quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from adapters.mqtt import embedded

REPO = Path(__file__).resolve().parents[1]
ALVHD = str(Path(sys.executable).with_name("alvhd"))
PREFIX = "alvhd-bench"
INSTANCE = "bench"


def _wall_s(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one ``alvhd ARGV`` run (must exit 0)."""
    t0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own console script
        [ALVHD, *argv], env=env, capture_output=True, text=True, check=False, timeout=600
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"alvhd {' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall


def _timed(label: str, argv: Sequence[str], repeat: int, env: dict[str, str] | None = None) -> None:
    walls = [_wall_s(argv, env) for _ in range(repeat)]
    print(f"  {label:<44} median {statistics.median(walls):6.2f} s   min {min(walls):6.2f} s")


class _Subscriber:
    """Independent subscriber: every message under the prefix, with its decision_id."""

    def __init__(self, port: int) -> None:
        self.ids: list[str] = []
        self.topics: dict[str, set[str]] = {}
        self.messages = 0
        self.last_mono = time.monotonic()
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{PREFIX}/#", qos=1)
        self._client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        payload = json.loads(msg.payload)
        with self._lock:
            self.messages += 1
            self.last_mono = time.monotonic()
            if isinstance(payload, dict) and payload.get("decision_id") and not msg.retain:
                self.ids.append(str(payload["decision_id"]))
                self.topics.setdefault(str(payload["decision_id"]), set()).add(msg.topic)

    def settle(self, quiet_s: float = 1.0, timeout_s: float = 30.0) -> None:
        """Wait until nothing arrived for ``quiet_s`` (bounded by ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and time.monotonic() - self.last_mono < quiet_s:
            time.sleep(0.1)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def bench_run(data_dir: Path, repeat: int) -> None:
    """``alvhd run --source replay --exit-at-end`` into a real mosquitto, journal on disk."""
    walls: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="alvhd-bench-") as tmp:
            work = Path(tmp)
            broker = embedded.start_mosquitto(work)
            subscriber = _Subscriber(broker.port)
            journal = work / "journal.sqlite"
            env = {
                **os.environ,
                "ALVH_MQTT__HOST": "127.0.0.1",
                "ALVH_MQTT__PORT": str(broker.port),
                "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
                "ALVH_MQTT__INSTANCE": INSTANCE,
                "ALVH_JOURNAL__PATH": str(journal),
                "ALVH_REPLAY__DATA_DIR": str(data_dir),
            }
            try:
                walls.append(_wall_s(["run", "--source", "replay", "--exit-at-end"], env))
                subscriber.settle()
            finally:
                subscriber.close()
                broker.stop(5.0)
            with sqlite3.connect(journal) as db:
                journaled = db.execute("SELECT count(*) FROM decisions").fetchone()[0]
                unpublished = db.execute(
                    "SELECT count(*) FROM decisions WHERE published = 0"
                ).fetchone()[0]
                ids = {str(r[0]) for r in db.execute("SELECT decision_id FROM decisions")}
            heard = Counter(subscriber.ids)
            for decision_id, n in heard.items():
                if n > 1 or decision_id not in ids:
                    where = sorted(subscriber.topics[decision_id])
                    print(
                        f"    {decision_id}: heard {n}x on {where}; journaled: {decision_id in ids}"
                    )
            twice = sum(n - 1 for n in heard.values() if n > 1)
            print(
                f"    run {len(walls)}: {walls[-1]:.2f} s; journal {journaled} decisions, "
                f"{unpublished} unpublished; subscriber heard {len(heard)} distinct "
                f"decision ids ({twice} duplicates, {subscriber.messages} messages in all); "
                f"every journaled decision heard: {'yes' if ids <= set(heard) else 'NO'}"
            )
    print(
        f"  {'alvhd run --source replay --exit-at-end':<44} median "
        f"{statistics.median(walls):6.2f} s   min {min(walls):6.2f} s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, time the commands, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared/data/market")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="alvhd-bench-") as tmp:
        days_csv = str(Path(tmp) / "days.csv")
        print(f"console script wall time, start-up included ({args.repeat} runs each)")
        _timed("alvhd --help", ["--help"], args.repeat)
        _timed("alvhd config", ["config"], args.repeat)
        _timed(
            "alvhd replay (whole history, days.csv)",
            ["replay", str(args.data_dir), "--no-progress", "--days-csv", days_csv],
            args.repeat,
        )
    print("the daemon over the whole history: journal + real mosquitto + independent subscriber")
    bench_run(args.data_dir, args.repeat)


if __name__ == "__main__":
    main()
