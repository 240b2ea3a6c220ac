"""``alvhd bridge --test``: the first thing a user runs after editing the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bridge.helpers import SLACK_PATH, Receiver, bridge_env, write_bridge_config

pytestmark = [pytest.mark.e2e]

ALVHD = str(Path(sys.executable).with_name("alvhd"))


def _run(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALVHD, "bridge", "--bridge-config", str(config), "--test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bridge_test_prints_ok_or_failed_with_the_reason_per_target(
    ntfy: Receiver, slack: Receiver, certs: Path, tmp_path: Path
) -> None:
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=1,
        outbox=tmp_path / "o.sqlite",
        targets=[
            {"name": "phone", "url": f"ntfy://127.0.0.1:{ntfy.port}/phone"},
            {"name": "slack", "url": f"https://hooks.slack.com{SLACK_PATH}"},
            {"name": "gone", "url": "ntfy://127.0.0.1:1/nobody"},
        ],
    )
    slack.fail_for(60)
    done = _run(config, bridge_env(certs, slack))
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines[0] == "phone  ok"
    assert lines[1].startswith("slack  FAILED: ")
    assert "503" in lines[1]
    assert SLACK_PATH not in done.stdout, "the webhook token is never printed"
    assert lines[2].startswith("gone   FAILED: ")
    assert [m["title"] for m in ntfy.received()] == ["alvhd bridge test — this target works"]

    slack.fail_for(0)
    config.write_text(
        config.read_text().replace(
            '"ntfy://127.0.0.1:1/nobody"', f'"ntfy://127.0.0.1:{ntfy.port}/x"'
        )
    )
    done = _run(config, bridge_env(certs, slack))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["phone  ok", "slack  ok", "gone   ok"]
    assert len(slack.received()) == 1


def test_a_url_apprise_cannot_load_is_a_config_error(tmp_path: Path) -> None:
    config = write_bridge_config(
        tmp_path / "bridge.toml",
        broker_port=1,
        outbox=tmp_path / "o.sqlite",
        targets=[{"name": "pager", "url": "pagr://oops"}],
    )
    done = _run(config, bridge_env(None, None))
    assert done.returncode == 78
    assert "targets[pager].url: Apprise cannot load this pagr:// URL" in done.stderr
    assert "oops" not in done.stderr + done.stdout
