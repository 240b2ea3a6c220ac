"""Fixtures of the end-to-end tests: a private mosquitto per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.mqtt.embedded import Broker, find_mosquitto, start_mosquitto
from tests.e2e.procs import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A mosquitto on a free loopback port; fails (not skips) when mosquitto is missing."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is required for the e2e tests (make test installs it)")
    b = start_mosquitto(tmp_path)
    yield b
    b.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto that a fault test may stop and start again on the same port
    (persistence on, a port below the ephemeral range: :class:`tests.e2e.procs.Mosquitto`)."""
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()
