"""Install alvhd as users do (issue 11): the wheel in a fresh venv, run from elsewhere.

One module-scoped fixture builds the wheel (``uv build``), installs it with the locked
dependency versions into a new virtual environment outside the repo, and gives each test
an environment with its own ``HOME`` and no ``ALVH_*`` variable, run from an unrelated
working directory. Then, as the README's "Install on a server" says: ``alvhd init``,
``alvhd config`` (origins), ``alvhd replay`` on the shared history, ``alvhd run --source
sim --exit-at-end`` with the journal where the docs say, ``alvhd status``; and every
shipped systemd unit, as ``alvhd init --systemd`` fills it in, passes ``systemd-analyze
verify`` and rates below 3.0 in ``systemd-analyze security --offline=yes``; the generated
unit's command runs, as PID 1 would start it, against the fake TWS and mosquitto.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.embedded import Broker, free_port, is_listening
from tests.conftest import REPO_ROOT

MAX_EXPOSURE = 3.0
"""Highest acceptable ``systemd-analyze security`` exposure of a shipped unit."""


def _uv() -> str:
    found = shutil.which("uv") or str(REPO_ROOT / ".tools" / "bin" / "uv")
    if not Path(found).is_file():
        pytest.fail("uv is required to build the wheel (scripts/setup.sh installs it)")
    return found


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout_s: float = 300):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert proc.returncode == 0, (
        f"{cmd} → {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


@dataclass(frozen=True)
class Installed:
    """A wheel installed in a fresh venv, and a clean user environment to run it in."""

    venv: Path
    alvhd: Path
    home: Path
    work: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ALVH_", "XDG_", "VIRTUAL_ENV", "UV_PROJECT", "PYTHON"))
            and k not in ("STATE_DIRECTORY", "CREDENTIALS_DIRECTORY")
        }
        return {
            **base,
            "HOME": str(self.home),
            "PATH": f"{self.venv / 'bin'}:{base['PATH']}",
            **extra,
        }

    def run(self, *args: str, expect: int = 0, timeout_s: float = 300, **extra: Any):
        proc = subprocess.run(
            [str(self.alvhd), *args],
            cwd=self.work,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        assert proc.returncode == expect, (
            f"alvhd {' '.join(args)} → {proc.returncode}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    uv = _uv()
    dist = root / "dist"
    _run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO_ROOT)], cwd=root)
    (wheel,) = dist.glob("alvhd-*.whl")
    requirements = root / "requirements.txt"
    _run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-hashes",
            "--output-file",
            str(requirements),
        ],
        cwd=REPO_ROOT,
    )
    venv = root / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=root)
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(requirements),
            str(wheel),
        ],
        cwd=root,
    )
    home = root / "home"
    work = root / "elsewhere"
    home.mkdir()
    work.mkdir()
    return Installed(venv=venv, alvhd=venv / "bin" / "alvhd", home=home, work=work)


def test_the_package_runs_from_the_venv_not_the_repo(installed: Installed) -> None:
    proc = subprocess.run(
        [
            str(installed.venv / "bin" / "python"),
            "-c",
            "import daemon, adapters; print(daemon.__file__); print(adapters.__file__)",
        ],
        cwd=installed.work,
        env=installed.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    for line in proc.stdout.splitlines():
        assert str(installed.venv) in line
        assert str(REPO_ROOT) not in line


def test_init_then_config_shows_where_each_file_came_from(installed: Installed) -> None:
    # nothing installed yet: the packaged defaults, after the user and system files
    proc = installed.run("config")
    assert "(from packaged defaults)" in proc.stdout
    assert str(installed.home / ".config" / "alvhd" / "alvhd.toml") in proc.stdout
    assert "/etc/alvhd/alvhd.toml" in proc.stdout
    assert str(installed.venv) in proc.stdout  # the packaged alvhd.toml and calendar
    # init into the per-user config dir: the next `alvhd config` finds it there
    prefix = installed.home / ".config" / "alvhd"
    proc = installed.run("init", "--prefix", str(prefix))
    assert "next:" in proc.stdout
    assert len(re.findall(r"^  [123]\. ", proc.stdout, flags=re.MULTILINE)) == 3
    assert (prefix / "credentials").stat().st_mode & 0o777 == 0o700
    proc = installed.run("config")
    assert f"{prefix / 'alvhd.toml'} (from $XDG_CONFIG_HOME)" in proc.stdout
    assert "paper = true  # default" in proc.stdout  # the starter config sets nothing
    state = installed.home / ".local" / "state" / "alvhd"
    assert str(state / "journal-default-ibkr.sqlite") in proc.stdout
    # origins of values: env and command line are named
    proc = installed.run("config", "--json", ALVH_MQTT__PORT="1884")
    data = json.loads(proc.stdout)
    assert data["_origins"]["mqtt.port"] == "env ALVH_MQTT__PORT"
    assert data["_origins"]["ladder.l1_cover_frac"] == "default"
    # a second init refuses, naming the file, and writes nothing
    proc = installed.run("init", "--prefix", str(prefix), expect=73)
    assert f"{prefix / 'alvhd.toml'} exists" in proc.stderr


def test_replay_of_the_shared_history(installed: Installed, market_dir: Path) -> None:
    days = installed.work / "days.csv"
    proc = installed.run("replay", str(market_dir), "--no-progress", "--days-csv", str(days))
    assert "cost cap held on every day: yes" in proc.stdout
    assert "COVID crash 2020" in proc.stdout  # the packaged stress windows were found
    assert days.is_file()
    # without a data directory, an installed replay run names the key and the flag
    proc = installed.run(
        "run", "--source", "replay", "--exit-at-end", expect=78, ALVH_MQTT__ENABLED="false"
    )
    assert "replay.data_dir" in proc.stderr
    assert "--data-dir" in proc.stderr


def test_sim_run_journals_where_the_docs_say_and_status_reads_it(installed: Installed) -> None:
    quick: dict[str, Any] = {
        "ALVH_MQTT__ENABLED": "false",
        "ALVH_SIM__SESSIONS": "40",
        "ALVH_SIM__SESSION_SECONDS": "0",
    }
    installed.run("run", "--source", "sim", "--exit-at-end", **quick)
    journal = installed.home / ".local" / "state" / "alvhd" / "journal-default-sim.sqlite"
    assert journal.is_file()
    # $XDG_STATE_HOME moves it; $STATE_DIRECTORY (systemd) wins over both
    xdg = installed.home / "xdg-state"
    installed.run("run", "--source", "sim", "--exit-at-end", XDG_STATE_HOME=str(xdg), **quick)
    assert (xdg / "alvhd" / "journal-default-sim.sqlite").is_file()
    unit_state = installed.home / "var-lib-alvhd"
    installed.run(
        "run", "--source", "sim", "--exit-at-end", STATE_DIRECTORY=str(unit_state), **quick
    )
    assert (unit_state / "journal-default-sim.sqlite").is_file()
    proc = installed.run("status", "--source", "sim", "--mqtt-timeout-s", "0")
    assert f"journal:     {journal} (source sim, instance default)" in proc.stdout
    assert "0 unpublished" in proc.stdout
    assert "last decisions (newest first):" in proc.stdout


def _exposure(output: str) -> float:
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match, output[-2000:]
    return float(match[1])


def test_every_shipped_unit_verifies_and_is_hardened(installed: Installed) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is required (.ci/run installs the Debian systemd package)")
    prefix = installed.home / "etc-alvhd"
    installed.run("init", "--prefix", str(prefix), "--systemd")
    shipped = sorted(p.name for p in (REPO_ROOT / "systemd").glob("*.service"))
    units = sorted((prefix / "systemd").glob("*.service"))
    assert [u.name for u in units] == shipped
    for unit in units:
        text = unit.read_text()
        assert f"ExecStart={installed.alvhd} " in text
        verify = subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0, f"{unit.name}: {verify.stderr}"
        assert unit.name not in verify.stderr, verify.stderr  # no warning about the unit
        security = subprocess.run(
            [analyze, "security", "--offline=yes", str(unit)],
            capture_output=True,
            text=True,
            check=False,
        )
        exposure = _exposure(security.stdout + security.stderr)
        print(f"{unit.name}: exposure {exposure}")
        assert exposure < MAX_EXPOSURE, f"{unit.name}: exposure {exposure}\n{security.stdout}"


@pytest.fixture
def fake_tws() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.tws", "--port", str(port), "--tick-s", "2"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not is_listening("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_listening("127.0.0.1", port), "the fake TWS did not start"
    yield port
    proc.terminate()
    proc.wait(10)


def _unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_the_unit_starts_as_systemd_would_run_it(
    installed: Installed, fake_tws: int, broker: Broker, tmp_path: Path
) -> None:
    """The generated unit's command, environment and credentials, as PID 1 would apply them.

    No systemd runs here (no sandbox); what is checked is that the files `alvhd init
    --systemd` writes are enough: ExecStart, Environment=, EnvironmentFile= (with the
    operator's two edits), LoadCredential= (the empty placeholder = anonymous),
    StateDirectory= ($STATE_DIRECTORY, the working directory) and the notify socket:
    READY=1 and WATCHDOG=1 arrive, SIGTERM exits 0 and the journal is in the state dir.
    """
    prefix = tmp_path / "etc-alvhd"
    installed.run("init", "--prefix", str(prefix), "--systemd")
    unit = (prefix / "systemd" / "alvhd.service").read_text()
    env_file = prefix / "alvhd.env"
    with env_file.open("a") as fh:  # the operator's edits: where the gateway and broker are
        fh.write(f"ALVH_IB__PORT={fake_tws}\nALVH_MQTT__PORT={broker.port}\n")
    (exec_start,) = _unit_values(unit, "ExecStart")
    (credential,) = _unit_values(unit, "LoadCredential")
    name, source = credential.split(":", 1)
    creds = tmp_path / "run-credentials"  # what systemd passes as %d
    creds.mkdir()
    shutil.copy(source, creds / name)
    state = tmp_path / "var-lib-alvhd"
    state.mkdir()
    env = installed.env(STATE_DIRECTORY=str(state), CREDENTIALS_DIRECTORY=str(creds))
    for assignment in _unit_values(unit, "Environment"):
        key, value = assignment.split("=", 1)
        env[key] = value.replace("%d", str(creds))
    (env_path,) = _unit_values(unit, "EnvironmentFile")
    for line in Path(env_path.lstrip("-")).read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    address = f"@alvhd-test-{os.getpid()}-{fake_tws}"
    env["NOTIFY_SOCKET"] = address
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0" + address[1:])
    notify.settimeout(0.5)
    log_path = tmp_path / "alvhd.log"
    heard: list[str] = []

    def listen(until: float, *, stop_when_ready: bool) -> None:
        # Keep reading like PID 1 does: an unread notify socket would block the daemon.
        while time.monotonic() < until:
            if stop_when_ready and "READY=1" in heard and heard.count("WATCHDOG=1") >= 5:
                return
            if not stop_when_ready and proc.poll() is not None:
                return
            try:
                heard.extend(notify.recv(4096).decode().splitlines())
            except TimeoutError:
                if stop_when_ready:
                    assert proc.poll() is None, log_path.read_text()[-3000:]

    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            shlex.split(exec_start), cwd=state, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            listen(time.monotonic() + 90, stop_when_ready=True)
            proc.send_signal(signal.SIGTERM)
            listen(time.monotonic() + 30, stop_when_ready=False)
        finally:
            notify.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    log = log_path.read_text(errors="replace")
    assert "READY=1" in heard, log[-3000:]
    assert "WATCHDOG=1" in heard
    assert proc.returncode == 0, log[-3000:]
    assert '"event": "mqtt_anonymous"' in log  # the empty credential placeholder
    assert (state / "journal-default-ibkr.sqlite").is_file()
    # the operator's first command, as the README says (journal from $STATE_DIRECTORY here)
    status = installed.run(
        "status",
        ALVH_CONFIG=env["ALVH_CONFIG"],
        STATE_DIRECTORY=str(state),
        ALVH_MQTT__PORT=str(broker.port),
    )
    assert f"journal:     {state / 'journal-default-ibkr.sqlite'} (source ibkr" in status.stdout
    assert "health:      offline" in status.stdout  # retained by the clean stop
