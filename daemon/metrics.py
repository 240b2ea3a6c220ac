"""Prometheus metrics of the daemon and of the bridge (``prometheus_client``).

Custom collectors read the counters the shells already keep (no increments scattered
through the code): each scrape builds the samples from the live objects. Each process
serves its own registry on ``http://<host>:<port>/metrics`` (loopback by default;
``[metrics] port`` in ``alvhd.toml`` / ``bridge.toml``, 0 = off).

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

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from daemon.bridge.service import Bridge


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
