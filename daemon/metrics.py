"""Prometheus metrics of the daemon and of the bridge (``prometheus_client``).

Custom collectors read the counters the shells already keep (no increments scattered
through the code): each scrape builds the samples from the live objects. Each process
serves its own registry on ``http://<host>:<port>/metrics`` (loopback by default;
``[metrics] port`` in ``alvhd.toml`` / ``bridge.toml``, 0 = off).

Daemon metrics (``alvhd_*``):

| metric | type | labels |
|---|---|---|
| ``alvhd_quotes_received_total`` | counter | ``symbol`` |
| ``alvhd_quotes_rejected_total`` | counter | ``symbol``, ``reason`` |
| ``alvhd_last_quote_age_seconds`` | gauge | ``symbol`` (since its last valid quote) |
| ``alvhd_decisions_total`` | counter | ``kind`` (``order``, ``alert``, ``layer_change``) |
| ``alvhd_published_total`` | counter | |
| ``alvhd_outbox_depth`` | gauge | |
| ``alvhd_publish_latency_seconds`` | histogram | journal write → sink ack (MQTT PUBACK) |
| ``alvhd_mqtt_connected`` / ``alvhd_ib_connected`` | gauge | (1/0; absent when unused) |
| ``alvhd_layer_active`` | gauge | ``layer`` (L1–L3) |
| ``alvhd_open_premium_usd`` / ``alvhd_cost_cap_usd`` | gauge | open hedge premium vs its cap |

Bridge metrics (``alvhd_bridge_*``):

| metric | type | labels |
|---|---|---|
| ``alvhd_bridge_received_total`` | counter | ``kind`` (alert kind, ``order_proposed`` …) |
| ``alvhd_bridge_rejected_total`` | counter | ``reason`` |
| ``alvhd_bridge_deliveries_total`` | counter | ``target`` |
| ``alvhd_bridge_delivery_failures_total`` | counter | ``target`` (each failed attempt) |
| ``alvhd_bridge_dropped_total`` | counter | ``target`` |
| ``alvhd_bridge_digests_total`` | counter | ``target`` |
| ``alvhd_bridge_outbox_depth`` | gauge | ``target``, ``state`` (pending/held/suppressed) |
| ``alvhd_bridge_mqtt_connected`` | gauge | |
| ``alvhd_bridge_daemon_up`` | gauge | ``instance``; 1 ok, 0 down/degraded/unknown |
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from daemon.core.model import Layer

if TYPE_CHECKING:
    from daemon.bridge.service import Bridge
    from daemon.pipeline import Pipeline

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds (seconds) of the publish latency histogram."""


@dataclass(slots=True)
class LatencyHistogram:
    """A cumulative histogram kept by the shell, exported by a collector (seconds)."""

    buckets_s: Sequence[float] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    sum_s: float = 0.0

    def observe(self, value_s: float) -> None:
        """Count one observation of ``value_s`` seconds."""
        self.counts[bisect.bisect_left(self.buckets_s, value_s)] += 1
        self.sum_s += value_s

    def cumulative(self) -> list[tuple[str, float]]:
        """``[(le, cumulative count)…, ("+Inf", total)]`` as Prometheus wants it."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip(self.buckets_s, self.counts, strict=False):
            running += n
            out.append((f"{bound:g}", float(running)))
        out.append(("+Inf", float(running + self.counts[-1])))
        return out


class EngineView(Protocol):
    """What the collector reads from the engine."""

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        """Layers on."""
        ...

    @property
    def open_premium_usd(self) -> float:
        """Premium paid for the hedges still held, USD."""
        ...

    @property
    def cost_cap_usd(self) -> float:
        """``cost_cap_frac`` × condor credit, USD."""
        ...


class DaemonCollector(Collector):
    """Samples of the running daemon, read from its pipeline and engine at each scrape.

    Args:
        pipeline: the shell's pipeline (counters, outbox, latency histogram).
        engine: the engine (active layers, open premium, cost cap).
        is_mqtt_connected: None when MQTT is not used.
        is_ib_connected: None when not running against IB.
        monotonic: clock of ``pipeline.last_quote_mono``.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        engine: EngineView,
        *,
        is_mqtt_connected: Callable[[], bool] | None = None,
        is_ib_connected: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._p = pipeline
        self._engine = engine
        self._mqtt = is_mqtt_connected
        self._ib = is_ib_connected
        self._monotonic = monotonic

    def collect(self) -> Iterator[Metric]:
        """Build the samples (see the module docstring)."""
        p = self._p
        yield _counter(
            "alvhd_quotes_received", "quotes received", "symbol", dict(p.quotes_by_symbol)
        )
        rejected = CounterMetricFamily(
            "alvhd_quotes_rejected", "quotes refused at the edge", labels=["symbol", "reason"]
        )
        for (symbol, reason), n in sorted(p.rejected_by.items()):
            rejected.add_metric([symbol, reason], n)
        yield rejected
        age = GaugeMetricFamily(
            "alvhd_last_quote_age_seconds", "seconds since the last valid quote", labels=["symbol"]
        )
        now = self._monotonic()
        for symbol, at in sorted(p.last_quote_mono.items()):
            age.add_metric([symbol], max(0.0, now - at))
        yield age
        yield _counter("alvhd_decisions", "decisions journaled", "kind", dict(p.decisions_by_kind))
        stats = p.stats
        yield CounterMetricFamily(
            "alvhd_published", "decisions delivered and marked published", value=stats.published
        )
        yield GaugeMetricFamily("alvhd_outbox_depth", "decisions queued", value=stats.outbox)
        hist = p.publish_latency
        yield HistogramMetricFamily(
            "alvhd_publish_latency_seconds",
            "journal write to sink acknowledgement (MQTT PUBACK)",
            buckets=hist.cumulative(),
            sum_value=hist.sum_s,
        )
        for name, probe in (("alvhd_mqtt_connected", self._mqtt), ("alvhd_ib_connected", self._ib)):
            if probe is not None:
                yield GaugeMetricFamily(name, "1 while connected", value=1 if probe() else 0)
        layers = GaugeMetricFamily(
            "alvhd_layer_active", "1 while the layer is on", labels=["layer"]
        )
        active = set(self._engine.active_layers)
        for layer in Layer:
            layers.add_metric([layer.value], 1 if layer in active else 0)
        yield layers
        yield GaugeMetricFamily(
            "alvhd_open_premium_usd", "open hedge premium, USD", value=self._engine.open_premium_usd
        )
        yield GaugeMetricFamily(
            "alvhd_cost_cap_usd", "cap on the open premium, USD", value=self._engine.cost_cap_usd
        )


def _counter(name: str, doc: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        fam.add_metric([key], value)
    return fam


class BridgeCollector(Collector):
    """Samples of one running ``Bridge`` (see the module docstring)."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    def collect(self) -> Iterator[Metric]:
        """Build the samples from the bridge's stats, outbox and watch."""
        b = self._bridge
        s = b.stats
        yield _counter("alvhd_bridge_received", "MQTT messages handled", "kind", s.received)
        yield _counter("alvhd_bridge_rejected", "unreadable MQTT messages", "reason", s.rejected)
        every = {t.name: 0 for t in b.targets}
        yield _counter(
            "alvhd_bridge_deliveries", "messages delivered", "target", every | s.delivered
        )
        yield _counter(
            "alvhd_bridge_delivery_failures",
            "failed delivery attempts (each retry counts)",
            "target",
            every | s.failed,
        )
        yield _counter(
            "alvhd_bridge_dropped", "messages dropped after max_age_s", "target", every | s.dropped
        )
        yield _counter("alvhd_bridge_digests", "digests sent", "target", every | s.digests)
        depth = GaugeMetricFamily(
            "alvhd_bridge_outbox_depth", "undelivered outbox rows", labels=["target", "state"]
        )
        counts = b.outbox.depth()
        for t in b.targets:
            for state in ("pending", "held", "suppressed"):
                depth.add_metric([t.name, state], counts.get((t.name, state), 0))
        yield depth
        yield GaugeMetricFamily(
            "alvhd_bridge_mqtt_connected",
            "1 while subscribed to the broker",
            value=1 if b.feed.is_connected else 0,
        )
        up = GaugeMetricFamily(
            "alvhd_bridge_daemon_up", "1 when the daemon instance is ok", labels=["instance"]
        )
        for name in b.watch.instances:
            up.add_metric([name], 1 if b.watch.health(name).value == "ok" else 0)
        yield up


def serve_metrics(collector: Collector, *, host: str, port: int) -> WSGIServer:
    """Serve ``collector`` (own registry) on ``http://host:port/metrics`` in a thread.

    Returns:
        The server; ``shutdown()`` stops it.

    Raises:
        OSError: the port is taken.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)
    assert isinstance(thread, threading.Thread)  # noqa: S101 - narrowing for mypy
    return server
