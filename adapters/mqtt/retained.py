"""Read one retained JSON message (``alvhd status`` reads the daemon's ``…/status``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt

from daemon.errors import BrokerUnavailable, DataError


async def read_retained_json(
    host: str,
    port: int,
    topic: str,
    *,
    timeout_s: float,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """The retained payload of ``topic``, as a JSON object, within ``timeout_s`` seconds.

    Args:
        host: broker host.
        port: broker TCP port.
        topic: the retained topic, e.g. ``alvhd/default/status``.
        timeout_s: seconds for connecting and receiving the retained message together.
        username: optional MQTT user.
        password: its password (``None`` → anonymous).

    Returns:
        The decoded JSON object.

    Raises:
        BrokerUnavailable: no broker, a refused connection, or no retained message on
            ``topic`` within ``timeout_s``.
        DataError: the retained payload is not a JSON object.
    """
    try:
        async with (
            asyncio.timeout(timeout_s),
            aiomqtt.Client(
                host, port, username=username, password=password, timeout=timeout_s
            ) as client,
        ):
            await client.subscribe(topic, qos=1)
            async for message in client.messages:
                payload = message.payload
                break
    except TimeoutError as exc:
        raise BrokerUnavailable(
            f"no retained message on {topic} from {host}:{port} within {timeout_s:g} s"
        ) from exc
    except (aiomqtt.MqttError, OSError) as exc:
        raise BrokerUnavailable(f"MQTT broker {host}:{port}: {exc}") from exc
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise DataError(f"retained {topic} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"retained {topic} is not a JSON object")
    return data
