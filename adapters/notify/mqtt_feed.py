"""The bridge's MQTT subscription, acknowledging each message only once it is stored.

- A persistent session (``clean_session=False``, fixed client id): while the bridge is
  down or restarting, the broker queues the QoS 1 messages for it.
- Manual acknowledgement: paho normally sends PUBACK as soon as a message is read; here
  PUBACK goes out after the handler returned, i.e. after the outbox commit. A bridge
  killed between reading and storing a message gets it again from the broker.
  (aiomqtt 2.5 does not expose paho's ``manual_ack``; the paho client it wraps is
  reached through its private ``_client`` attribute, in this one place.)
- Reconnects with a capped exponential backoff; ``aiomqtt.MqttError`` never leaves.
"""

from __future__ import annotations

import asyncio
import ssl

import aiomqtt
import structlog

from daemon.bridge.ports import MessageHandler

log = structlog.get_logger(__name__)

QOS = 1


def subscriptions(prefix: str) -> list[str]:
    """The topic filters the bridge subscribes to (every instance under ``prefix``)."""
    return [
        f"{prefix}/+/alerts/#",
        f"{prefix}/+/orders/proposed",
        f"{prefix}/+/orders/status",
        f"{prefix}/+/status",
    ]


class MqttFeed:
    """Subscribes to the daemon's tree and hands every message to a handler.

    Args:
        hostname: broker host.
        port: broker port.
        prefix: ``mqtt.topic_prefix``.
        identifier: client id; stable, so the broker keeps the session across restarts.
        username: broker user, or None.
        password: broker password, or None (never logged).
        tls_context: TLS settings, or None.
        keepalive_s: MQTT keepalive, seconds.
        reconnect_max_s: longest reconnect delay, seconds.
    """

    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        prefix: str,
        identifier: str,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        keepalive_s: int = 30,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self._hostname = hostname
        self._port = port
        self._prefix = prefix
        self._identifier = identifier
        self._username = username
        self._password = password
        self._tls_context = tls_context
        self._keepalive_s = keepalive_s
        self._reconnect_max_s = reconnect_max_s
        self._connected = False

    @property
    def is_connected(self) -> bool:
        """Whether the subscription is up right now."""
        return self._connected

    async def run(self, handler: MessageHandler) -> None:
        """Receive until cancelled; ack each message after ``handler`` returned.

        An exception raised by ``handler`` propagates (the supervisor crashes the bridge
        and systemd restarts it; the unacknowledged message is redelivered).
        """
        delay_s = 0.5
        while True:
            client = aiomqtt.Client(
                self._hostname,
                self._port,
                identifier=self._identifier,
                username=self._username,
                password=self._password,
                tls_context=self._tls_context,
                keepalive=self._keepalive_s,
                clean_session=False,
            )
            paho = client._client  # private: see the module docstring
            paho.manual_ack_set(True)
            try:
                async with client:
                    for topic in subscriptions(self._prefix):
                        await client.subscribe(topic, qos=QOS)
                    self._connected = True
                    delay_s = 0.5
                    log.info("bridge_mqtt_connected", host=self._hostname, port=self._port)
                    async for message in client.messages:
                        data = bytes(message.payload)  # aiomqtt types it as bytes
                        await handler(str(message.topic), data)
                        if message.qos > 0:
                            paho.ack(message.mid, message.qos)
            except aiomqtt.MqttError as exc:
                log.warning(
                    "bridge_mqtt_disconnected",
                    host=self._hostname,
                    port=self._port,
                    error=str(exc),
                    retry_in_s=delay_s,
                )
            finally:
                self._connected = False
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._reconnect_max_s)
