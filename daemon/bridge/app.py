"""Composition root of ``alvhd bridge``: the only ``daemon.bridge`` module importing adapters.

(The import-linter contract "only composition roots wire adapters" lists ``daemon.app``
and this module; the rest of ``daemon.bridge`` is forbidden to import ``adapters``.)
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from adapters.mqtt.tls import tls_context
from adapters.notify.apprise_sender import AppriseSender, check_url
from adapters.notify.mqtt_feed import MqttFeed
from adapters.notify.outbox import SqliteOutbox
from daemon.bridge.policy import TargetRule
from daemon.bridge.service import Bridge, Target, send_test
from daemon.bridge.settings import BridgeSettings
from daemon.bridge.watch import DaemonWatch
from daemon.errors import ShutdownRequested
from daemon.metrics import BridgeCollector, serve_metrics

log = structlog.get_logger(__name__)


def build_targets(settings: BridgeSettings) -> list[Target]:
    """The configured targets with their URLs (secrets read now).

    Raises:
        ConfigError: a URL Apprise cannot load, or an unreadable ``url_secret`` file.
    """
    targets: list[Target] = []
    for t in settings.targets:
        url = settings.target_url(t)
        check_url(url, t.name)
        rule = TargetRule(
            name=t.name,
            min_severity=t.min_severity,
            kinds=frozenset(t.kinds),
            exclude_kinds=frozenset(t.exclude_kinds),
            rate_limit_count=t.rate_limit_count,
            rate_limit_window_s=t.rate_limit_window_s,
            quiet_start=t.quiet_start,
            quiet_end=t.quiet_end,
            quiet_tz=t.quiet_tz,
        )
        targets.append(Target(rule=rule, url=url))
    return targets


async def run_test(settings: BridgeSettings) -> list[tuple[str, str | None]]:
    """``alvhd bridge --test``: one test message per target; ``(name, error or None)``."""
    targets = build_targets(settings)
    return await send_test(targets, AppriseSender(timeout_s=settings.send_timeout_s))


async def run_bridge(settings: BridgeSettings) -> int:
    """Run the bridge until SIGTERM/SIGINT; returns the exit code (0 on a clean stop).

    Raises:
        ConfigError: bad target URL or TLS files (exit 78 in the CLI).
    """
    targets = build_targets(settings)
    if not targets:
        log.warning("bridge_no_targets", hint="add [[targets]] to config/bridge.toml")
    mq = settings.mqtt
    outbox = SqliteOutbox(settings.outbox_file)
    feed = MqttFeed(
        hostname=mq.host,
        port=mq.port,
        prefix=mq.topic_prefix,
        identifier=mq.client_id,
        username=mq.username or None,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        tls_context=tls_context(mq.tls_ca_file, mq.tls_cert_file, mq.tls_key_file),
        keepalive_s=mq.keepalive_s,
    )
    bridge = Bridge(
        targets=targets,
        outbox=outbox,
        sender=AppriseSender(timeout_s=settings.send_timeout_s),
        feed=feed,
        watch=DaemonWatch(
            silence_s=settings.daemon_silence_s,
            started_at=datetime.now(UTC),
            instances=settings.instances,
        ),
        prefix=mq.topic_prefix,
        link_base_url=settings.link_base_url,
        max_age_s=settings.max_age_s,
        retry_initial_s=settings.retry_initial_s,
        retry_max_s=settings.retry_max_s,
    )
    server = None
    if settings.metrics.port:
        server = serve_metrics(
            BridgeCollector(bridge), host=settings.metrics.host, port=settings.metrics.port
        )
    log.info(
        "bridge_started",
        targets=[t.name for t in targets],
        broker=f"{mq.host}:{mq.port}",
        tls=mq.tls_ca_file is not None,
        outbox=str(settings.outbox_file),
        metrics_port=settings.metrics.port or None,
    )
    try:
        await _until_signal(bridge)
    finally:
        if server is not None:
            server.shutdown()
        outbox.close()
    log.info("bridge_stopped")
    return 0


async def _until_signal(bridge: Bridge) -> None:
    """Run ``bridge`` until SIGTERM/SIGINT (exit 0); an escaping exception crashes (exit 1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_signals() -> None:
        await stop.wait()
        log.info("bridge_stop_requested")
        raise ShutdownRequested

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(bridge.run(), name="bridge")
            tg.create_task(watch_signals(), name="bridge.signals")
    except* ShutdownRequested:
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def format_test_results(results: Sequence[tuple[str, str | None]]) -> list[str]:
    """Lines of ``alvhd bridge --test``: ``phone  ok`` / ``slack  FAILED: HTTP 503 …``."""
    width = max((len(name) for name, _ in results), default=0)
    return [
        f"{name:<{width}}  {'ok' if err is None else 'FAILED: ' + err}" for name, err in results
    ]
