"""`alvhd init` files and `alvhd status` report (issue 11 §2, §4), without processes."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tomllib
from pathlib import Path

import pytest

from daemon import install, status
from daemon.errors import ConfigError
from daemon.settings import (
    DEFAULT_CONFIG_PATH,
    check_environment,
    load_settings,
    setting_keys,
)
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ALVH_") and name != "ALVH_MARKET_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALVH_SECRETS_DIR", str(tmp_path / "no-such-credentials-dir"))


def test_readme_config_table_is_generated_from_the_packaged_toml() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = install.readme_table()
    assert table in readme, "regenerate the README table: uv run python -m daemon.install"
    documented = {k.key for k in install.config_keys()}
    assert documented == {k for k in setting_keys() if "." in k}


def test_starter_config_lists_every_key_commented_and_loads_as_the_defaults(
    tmp_path: Path,
) -> None:
    text = install.starter_toml()
    assert tomllib.loads(text) == {
        section: {} for section in tomllib.loads(DEFAULT_CONFIG_PATH.read_text()) if section
    }
    for key in install.config_keys():
        name = key.key.split(".", 1)[1]
        assert f"# {name} = {key.default}" in text, key.key
        assert key.doc in text
    path = tmp_path / "alvhd.toml"
    path.write_text(text)
    starter = load_settings(path).model_dump()
    built_in = load_settings(tmp_path / "alvhd.toml").model_dump()
    assert starter == built_in
    # un-commenting one line is all an edit needs
    path.write_text(text.replace("# l1_cover_frac = 0.50", "l1_cover_frac = 0.45"))
    assert load_settings(path).ladder.l1_cover_frac == 0.45


def test_env_template_names_only_known_variables() -> None:
    text = install.env_template()
    names = {line[2:].split("=", 1)[0] for line in text.splitlines() if line.startswith("# ALVH_")}
    assert "ALVH_IB__PORT" in names
    assert "ALVH_MQTT__HOST" in names
    assert len(names) == len(install.config_keys())
    check_environment(dict.fromkeys(names, "x"))  # raises on an unknown name


def test_init_writes_private_secrets_and_never_overwrites(tmp_path: Path) -> None:
    exe = tmp_path / "venv" / "bin" / "alvhd"
    prefix = tmp_path / "etc-alvhd"
    plan = install.plan(prefix, with_systemd=True, executable=exe)
    written = install.write(plan)
    assert prefix / "alvhd.toml" in written
    creds = prefix / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o700
    assert stat.S_IMODE((creds / "mqtt_password").stat().st_mode) == 0o600
    assert (creds / "mqtt_password").read_text() == ""
    unit = "\n".join(
        line
        for line in (prefix / "systemd" / "alvhd.service").read_text().splitlines()
        if not line.startswith("#")
    )
    assert f"ExecStart={exe} run --source ibkr" in unit
    assert f"LoadCredential=mqtt_password:{prefix}/credentials/mqtt_password" in unit
    assert f"ALVH_CONFIG={prefix}/alvhd.toml" in unit
    assert "/etc/alvhd" not in unit
    assert "/opt/alvhd" not in unit
    # a second run finds every file and writes nothing
    (prefix / "alvhd.toml").write_text("# edited by the operator\n")
    again = install.plan(prefix, with_systemd=True, executable=exe)
    assert sorted(install.existing(again)) == sorted(again.files)
    assert (prefix / "alvhd.toml").read_text() == "# edited by the operator\n"
    with pytest.raises(FileExistsError):
        install.write(again)
    commands = install.next_commands(again, with_systemd=True)
    assert len(commands) == 3
    assert "systemctl enable --now alvhd" in commands[1]


def test_empty_password_file_means_anonymous(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("")
    assert load_settings(secrets_dir=creds).mqtt_password is None
    (creds / "mqtt_password").write_text("s3cret\n")
    password = load_settings(secrets_dir=creds).mqtt_password
    assert password is not None
    assert password.get_secret_value() == "s3cret"


def test_shipped_units_use_the_documented_placeholders() -> None:
    names = [u.name for u in install.unit_files()]
    assert "alvhd.service" in names
    assert names == sorted(p.name for p in (REPO_ROOT / "systemd").glob("*.service"))
    main = (REPO_ROOT / "systemd" / "alvhd.service").read_text()
    assert f"ExecStart={install.SHIPPED_EXECUTABLE} run" in main
    assert "DynamicUser=yes" in main
    assert "StateDirectory=alvhd" in main


def _journal(path: Path) -> None:
    """A journal in the documented schema with one active layer and one hedge."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE decisions (seq INTEGER PRIMARY KEY, decision_id TEXT, kind TEXT, ts TEXT,
            session_date TEXT, payload TEXT, published INTEGER, published_at TEXT);
        CREATE TABLE snapshot (id INTEGER PRIMARY KEY, saved_at TEXT, data BLOB);
        CREATE TABLE journal_identity (id INTEGER PRIMARY KEY, source TEXT, instance TEXT,
            created_at TEXT);
        INSERT INTO journal_identity VALUES (1, 'ibkr', 'paper', '2026-01-02T00:00:00Z');
        """
    )
    change = {
        "type": "layer_change",
        "layer": "L1",
        "is_active": True,
        "session_date": "2020-02-24",
        "reasons": [
            {"id": "ratio_macd_negative", "holds": True, "detail": "MACD(12,26) of IWM/SPX < 0"}
        ],
        "exit_rule": "ratio MACD >= 0 for 3 consecutive closes",
    }
    order = {"type": "order", "session_date": "2020-02-24", "note": "L1 open: buy 66 VIX 17C"}
    for seq, (kind, payload, published) in enumerate(
        [("layer_change", change, 1), ("order", order, 0)], start=1
    ):
        db.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, '', '2020-02-24', ?, ?, NULL)",
            (seq, f"d{seq}", kind, json.dumps(payload), published),
        )
    snapshot = {
        "price_day": {"SPX": "2020-02-24", "VIX": "2020-02-24"},
        "ladder": {"l1": {"is_active": True}, "l2": {"is_active": False}},
        "hedges": [
            {
                "layer": "L1",
                "contracts": 66,
                "premium_paid_usd": 2178.0,
                "opened_on": "2020-02-24",
                "legs": [{"right": "C", "strike": 17.0, "expiry": "2020-03-18", "position_qty": 1}],
            }
        ],
    }
    db.execute(
        "INSERT INTO snapshot VALUES (1, '2020-02-24T21:00:05Z', ?)",
        (json.dumps(snapshot).encode(),),
    )
    db.commit()
    db.close()


def test_status_report_reads_layers_hedges_and_unpublished(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _journal(path)
    report = status.StatusReport()
    status.read_journal(path, report)
    assert report.owner == {
        "source": "ibkr",
        "instance": "paper",
        "created_at": "2026-01-02T00:00:00Z",
    }
    assert (report.decisions, report.unpublished) == (2, 1)
    assert report.snapshot_date == "2020-02-24"
    report.mqtt = {"state": "online", "health": "degraded", "reasons": ["ib_unreachable"]}
    text = status.render(report, source="ibkr")
    assert "online / degraded (reasons: ib_unreachable)" in text
    assert "2 decisions, 1 unpublished" in text
    assert "layer L1:    ON since 2020-02-24" in text
    assert "why:     MACD(12,26) of IWM/SPX < 0" in text
    assert "ends:    ratio MACD >= 0 for 3 consecutive closes" in text
    assert "hedge L1:    66 × +2020-03-18 17.0C, premium $2,178.00" in text
    assert "L1 open: buy 66 VIX 17C" in text


def test_unknown_env_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ALVH_SIM__SESION"):
        check_environment({"ALVH_SIM__SESION": "3"})
