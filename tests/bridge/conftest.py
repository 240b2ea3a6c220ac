"""Fixtures of the bridge tests: test CA, receivers, a private mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.mqtt.embedded import Broker, start_mosquitto
from tests.bridge.helpers import Receiver, make_certs, mosquitto_required, start_receiver


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test CA + a certificate for hooks.slack.com, localhost and 127.0.0.1."""
    return make_certs(tmp_path_factory.mktemp("certs"), "hooks.slack.com")


@pytest.fixture
def ntfy() -> Iterator[Receiver]:
    r = start_receiver("ntfy")
    yield r
    r.stop()


@pytest.fixture
def slack(certs: Path) -> Iterator[Receiver]:
    r = start_receiver("slack", certs)
    yield r
    r.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    mosquitto_required()
    b = start_mosquitto(tmp_path)
    yield b
    b.stop()
