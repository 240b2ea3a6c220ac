"""Dead-man's switch: ``GET`` a Healthchecks.io-style URL every ``ops.deadman_every_s``.

If the daemon's host dies (power, kernel, network), nothing local can tell anyone: an
outside service that expects a ping every N seconds can. The ping runs on the daemon's
event loop (a blocked or dead loop stops the pings too); a failed ping is logged as a
warning and retried at the next period, never fatal.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import structlog

log = structlog.get_logger(__name__)


def _get(url: str, timeout_s: float) -> int:
    req = urllib.request.Request(url, headers={"User-Agent": "alvhd-deadman"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - http(s) only
        return int(resp.status)


async def run_deadman(url: str, every_s: float, timeout_s: float = 10.0) -> None:
    """Ping ``url`` now and every ``every_s`` seconds until cancelled.

    Args:
        url: the ping URL (http/https; validated by the settings).
        every_s: period, seconds.
        timeout_s: per-request timeout, seconds.
    """
    host = url.split("/")[2] if "//" in url else url
    while True:
        try:
            status = await asyncio.to_thread(_get, url, timeout_s)
        except (OSError, urllib.error.URLError) as exc:
            log.warning("deadman_ping_failed", host=host, error=str(exc))
        else:
            log.debug("deadman_pinged", host=host, status=status)
        await asyncio.sleep(every_s)
