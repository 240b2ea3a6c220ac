"""deploy/mosquitto/ as installed by its script: passwords, ACL, TLS and WebSockets/TLS.

The broker runs the repo's ``mosquitto.conf`` (paths and ports rewritten for the test,
persistence off) with the password file, ACL and certificates made by
``deploy/mosquitto/setup-broker.sh``. Mosquitto, started as root, drops to its own user,
so the files live in a world-readable temporary directory owned as the script sets them.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from adapters.mqtt.embedded import free_port, is_listening
from daemon.errors import ConfigError
from daemon.settings import load_settings
from tests.bridge.helpers import (
    DEPLOY,
    PREFIX,
    BridgeProc,
    Receiver,
    bridge_env,
    mosquitto_required,
    wait_until,
    write_bridge_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timeout(180)]

NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


@dataclass
class SecureBroker:
    etc: Path
    plain_port: int
    tls_port: int
    wss_port: int

    def password(self, user: str) -> str:
        return (self.etc / "secrets" / f"{user}.password").read_text().strip()


@pytest.fixture
def secure_broker() -> Iterator[SecureBroker]:
    exe = mosquitto_required()
    root = Path(tempfile.mkdtemp(prefix="alvhd-broker-"))
    root.chmod(0o755)
    etc = root / "etc"
    subprocess.run([str(DEPLOY / "setup-broker.sh"), str(etc)], check=True, capture_output=True)
    ports = (free_port(), free_port(), free_port())
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = (
        conf.replace("/etc/mosquitto/alvhd", str(etc))
        .replace("listener 1883 127.0.0.1", f"listener {ports[0]} 127.0.0.1")
        .replace("listener 8883", f"listener {ports[1]} 127.0.0.1")
        .replace("listener 8884", f"listener {ports[2]} 127.0.0.1")
        .replace("persistence true", "persistence false")
        .replace("persistence_location /var/lib/mosquitto/", "")
    )
    (root / "mosquitto.conf").write_text(conf + "log_dest stderr\n")
    with (root / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen([exe, "-c", str(root / "mosquitto.conf")], stderr=log)
    try:
        wait_until(lambda: all(is_listening("127.0.0.1", p) for p in ports), 10, "mosquitto")
        yield SecureBroker(etc=etc, plain_port=ports[0], tls_port=ports[1], wss_port=ports[2])
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


class Client:
    """A paho MQTT 5 client recording CONNACK, PUBACK reason codes and messages."""

    def __init__(
        self,
        broker: SecureBroker,
        *,
        user: str | None,
        port: int,
        tls: bool = False,
        transport: str = "tcp",
    ) -> None:
        self.connack = threading.Event()
        self.connack_rc: int | None = None
        self.pubacks: dict[int, int] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.c = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5, transport=transport)  # type: ignore[arg-type]
        if user is not None:
            self.c.username_pw_set(user, broker.password(user))
        if tls:
            self.c.tls_set(ca_certs=str(broker.etc / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.connect("localhost", port)
        self.c.loop_start()
        assert self.connack.wait(10), "no CONNACK"

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Properties | None) -> None:
        self.connack_rc = rc.value
        self.connack.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self.pubacks[mid] = rc.value

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.c.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, 5, "PUBACK")
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def test_anonymous_is_refused_and_subscribers_cannot_publish(secure_broker: SecureBroker) -> None:
    anon = Client(secure_broker, user=None, port=secure_broker.plain_port)
    assert anon.connack_rc == NOT_AUTHORIZED, "anonymous refused"
    anon.close()

    daemon_user = Client(secure_broker, user="alvhd", port=secure_broker.tls_port, tls=True)
    phone = Client(secure_broker, user="phone", port=secure_broker.tls_port, tls=True)
    bridge = Client(secure_broker, user="alvhd-bridge", port=secure_broker.plain_port)
    try:
        assert (daemon_user.connack_rc, phone.connack_rc, bridge.connack_rc) == (0, 0, 0)
        phone.c.subscribe(f"{PREFIX}/#", qos=1)
        bridge.c.subscribe(f"{PREFIX}/#", qos=1)
        time.sleep(0.5)  # SUBACKs
        # the subscriber users are read-only: mosquitto answers PUBACK "Not authorized"
        assert phone.publish(f"{PREFIX}/default/alerts/broker") == NOT_AUTHORIZED
        assert bridge.publish(f"{PREFIX}/default/orders/proposed") == NOT_AUTHORIZED
        # the daemon's user writes the tree; both subscribers hear it, and only that
        assert daemon_user.publish(f"{PREFIX}/default/alerts/roll", b'{"v":1}') == 0
        wait_until(lambda: len(phone.messages) == 1 and len(bridge.messages) == 1, 5, "fan-out")
        assert phone.messages == [(f"{PREFIX}/default/alerts/roll", b'{"v":1}')]
        # and nothing outside alvhd/#
        assert daemon_user.publish("other/topic") == NOT_AUTHORIZED
    finally:
        for c in (daemon_user, phone, bridge):
            c.close()


def test_a_phone_app_subscribes_over_websockets_tls(secure_broker: SecureBroker) -> None:
    daemon_user = Client(secure_broker, user="alvhd", port=secure_broker.plain_port)
    phone = Client(
        secure_broker, user="phone", port=secure_broker.wss_port, tls=True, transport="websockets"
    )
    try:
        assert phone.connack_rc == 0
        phone.c.subscribe(f"{PREFIX}/#", qos=1)
        time.sleep(0.5)  # SUBACK
        assert daemon_user.publish(f"{PREFIX}/default/alerts/roll", b"{}") == 0
        wait_until(lambda: len(phone.messages) == 1, 5, "message over WSS")
        assert phone.publish(f"{PREFIX}/default/status") == NOT_AUTHORIZED
    finally:
        daemon_user.close()
        phone.close()


def test_alvhd_and_the_bridge_use_tls_and_passwords_from_the_secrets_dir(
    secure_broker: SecureBroker, ntfy: Receiver, market_dir: Path, tmp_path: Path
) -> None:
    secrets_daemon = tmp_path / "secrets-daemon"
    secrets_bridge = tmp_path / "secrets-bridge"
    for d, user in ((secrets_daemon, "alvhd"), (secrets_bridge, "alvhd-bridge")):
        d.mkdir()
        (d / "mqtt_password").write_text(secure_broker.password(user))
    ca = str(secure_broker.etc / "ca.crt")
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=secure_broker.tls_port,
        outbox=tmp_path / "outbox.sqlite",
        extra={"daemon_silence_s": 600.0},
        mqtt_extra={"host": "localhost", "username": "alvhd-bridge", "tls_ca_file": ca},
        targets=[
            {
                "name": "phone",
                "url": f"ntfy://127.0.0.1:{ntfy.port}/phone",
                "kinds": ["order_proposed"],
                "min_severity": "critical",
                "exclude_kinds": ["daemon"],  # --exit-at-end's offline is not the subject
            }
        ],
    )
    bridge = BridgeProc(
        tmp_path, config, bridge_env(None, None, {"ALVH_SECRETS_DIR": str(secrets_bridge)})
    )
    bridge.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALVH_")},
        "ALVH_MQTT__HOST": "localhost",
        "ALVH_MQTT__PORT": str(secure_broker.tls_port),
        "ALVH_MQTT__USERNAME": "alvhd",
        "ALVH_MQTT__TLS_CA_FILE": ca,
        "ALVH_SECRETS_DIR": str(secrets_daemon),
        "ALVH_MQTT__TOPIC_PREFIX": PREFIX,
        "ALVH_JOURNAL__PATH": str(tmp_path / "journal.sqlite"),
        "ALVH_REPLAY__DATA_DIR": str(market_dir),
        "ALVH_REPLAY__START": "2020-01-02",
        "ALVH_REPLAY__END": "2020-01-02",
    }
    try:
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("alvhd")),
                "run",
                "--source",
                "replay",
                "--exit-at-end",
            ],
            env=env,
            capture_output=True,
            timeout=90,
            check=False,
        )
        out = done.stdout.decode()
        assert done.returncode == 0, out[-2000:]
        assert '"event": "mqtt_connected"' in out
        assert "mqtt_connect_failed" not in out
        wait_until(lambda: len(ntfy.received()) >= 1, 20, "the proposal through TLS")
    finally:
        assert bridge.stop() == 0
    assert [m["title"] for m in ntfy.received()] == [
        "L1 ON — hedge proposal: buy 66 VIX Jan-22 17C @ 0.33 ($2,178)"
    ]


def test_daemon_tls_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.tls_ca_file: /nope/ca\.crt is not a readable"):
        load_settings(mqtt={"tls_ca_file": "/nope/ca.crt"})
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file go together"):
        load_settings(mqtt={"tls_ca_file": str(ca), "tls_cert_file": str(ca)})
