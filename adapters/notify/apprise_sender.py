"""Delivery to people through Apprise (one Apprise URL per target).

The user writes plain Apprise URLs (``ntfy://host:port/topic``, ``ntfys://…``,
``https://hooks.slack.com/services/T…/B…/…`` or ``slack://…``, ``pover://…``,
``tgram://…``, ``mailto://…``). Per message the sender adds, for ntfy URLs only and only
when the user did not set them, ``priority`` (from the severity, ``NTFY_PRIORITY``),
``tags`` (``NTFY_TAGS`` + the kind) and ``click`` (the link), which Apprise turns into
ntfy's ``X-Priority``/``X-Tags``/``X-Click`` headers; Slack gets Apprise's notify type
(colour and emoji) from the severity, and the link as the body's last line. A read and
connect timeout (``rto``/``cto``) is
added to every URL.

Apprise reports a failed ``AppriseResult`` plus log entries (its ``log_callback``); the
warnings become the ``DeliveryFailed`` reason (HTTP 503, a timeout, a DNS error …), with
every URL in them cut to its scheme. Apprise calls are blocking (requests): they run in
a worker thread, one service per call (``async_mode=False``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apprise

from daemon.bridge.messages import NTFY_PRIORITY, NTFY_TAGS, Notice
from daemon.bridge.ports import DeliveryFailed
from daemon.errors import ConfigError

_NOTIFY_TYPE = {
    "info": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}


_URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://[^\s'\"<>]+", re.IGNORECASE)


def scrub(text: str) -> str:
    """Cut every URL in ``text`` to its scheme (webhook paths and tokens are secrets)."""
    return _URL.sub(lambda m: f"{m.group(1)}://…", text)


def _is_ntfy(url: str) -> bool:
    return url.split("://", 1)[0].lower() in {"ntfy", "ntfys"}


def url_for(url: str, notice: Notice, timeout_s: float) -> str:
    """The Apprise URL of one message: the target's URL plus per-message parameters.

    Args:
        url: the configured Apprise URL.
        notice: the message (severity → ntfy priority/tags; click link).
        timeout_s: read and connect timeout of the HTTP request, seconds.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("rto", f"{timeout_s:g}")
    query.setdefault("cto", f"{min(timeout_s, 10.0):g}")
    if _is_ntfy(url):
        query.setdefault("priority", NTFY_PRIORITY[notice.severity])
        query.setdefault("tags", f"{NTFY_TAGS[notice.severity]},alvhd,{notice.kind}")
        if notice.click_url:
            query.setdefault("click", notice.click_url)
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_url(url: str, name: str) -> None:
    """Refuse a URL Apprise cannot load (at start-up: a config error, exit 78).

    Raises:
        ConfigError: unknown scheme or malformed URL (the URL itself is not echoed).
    """
    logger = logging.getLogger("apprise")
    was_disabled = logger.disabled
    logger.disabled = True  # its "Unparseable URL <url>" line would log the secret URL
    try:
        plugin = apprise.Apprise.instantiate(url)
    finally:
        logger.disabled = was_disabled
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        raise ConfigError(
            f"config error: targets[{name}].url: Apprise cannot load this {scheme}:// URL "
            "(see https://appriseit.com/services/)",
            key="targets.url",
        )


class AppriseSender:
    """Sends one ``Notice`` to one Apprise URL.

    Args:
        timeout_s: HTTP read/connect timeout per request, seconds.
    """

    def __init__(self, timeout_s: float = 15.0) -> None:
        self._timeout_s = timeout_s
        # Apprise's own log lines can carry URLs (ntfy topics, hosts); the bridge logs the
        # scrubbed reasons itself (``bridge_delivery_failed``), so they stay inside.
        logging.getLogger("apprise").propagate = False

    def _notify(self, url: str, notice: Notice) -> None:
        lines: list[str] = []

        def collect(entry: apprise.NotifyLogEntry, _service: object) -> None:
            if entry.level.upper() in {"WARNING", "ERROR", "CRITICAL"}:
                lines.append(entry.message)

        asset = apprise.AppriseAsset(async_mode=False, app_id="alvhd", app_desc="alvhd")
        ap = apprise.Apprise(asset=asset)
        if not ap.add(url_for(url, notice, self._timeout_s)):
            raise DeliveryFailed("Apprise cannot load the target URL")
        body = notice.body or notice.title
        if notice.click_url and not _is_ntfy(url):
            body += f"\n{notice.click_url}"  # ntfy has its own click action
        result = ap.notify(
            title=notice.title,
            body=body,
            notify_type=_NOTIFY_TYPE.get(notice.severity, apprise.NotifyType.INFO),
            body_format=apprise.NotifyFormat.TEXT,
            log_callback=collect,
            log_level=logging.WARNING,
        )
        if not result:
            reason = "; ".join(dict.fromkeys(lines)) or "target refused the message"
            raise DeliveryFailed(scrub(reason)[:500])

    async def send(self, url: str, notice: Notice) -> None:
        """Deliver ``notice`` to ``url`` once.

        Raises:
            DeliveryFailed: the service refused it or could not be reached (reason inside).
        """
        await asyncio.to_thread(self._notify, url, notice)
