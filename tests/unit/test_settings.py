"""Configuration: SPEC defaults, ranges, env/secrets sources and the macro calendar."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from daemon import paths
from daemon.core.params import (
    CondorTemplate,
    EngineParams,
    LadderParams,
    MacroEventKind,
    OrderParams,
    ScenarioParams,
    SignalParams,
)
from daemon.errors import ConfigError
from daemon.settings import DEFAULT_CONFIG_PATH, MASK, load_macro_events, load_settings

MACRO_CSV = DEFAULT_CONFIG_PATH.parent / "macro_events.csv"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ALVH_* variable from the developer's shell leaks in; no real credentials dir."""
    for name in list(os.environ):
        if name.startswith("ALVH_") and name != "ALVH_MARKET_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALVH_SECRETS_DIR", str(tmp_path / "no-such-credentials-dir"))


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alvhd.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults


def test_shipped_toml_equals_spec_defaults() -> None:
    params = load_settings().to_params()
    spec = EngineParams()
    assert params.signals == SignalParams()
    assert params.ladder == LadderParams()
    assert params.scenario == ScenarioParams()
    assert params.orders == OrderParams()
    assert params.condor_template == CondorTemplate()
    assert params.satellite_notional_usd == spec.satellite_notional_usd
    assert params.stale_after_s == spec.stale_after_s
    assert params.calendar_warn_days == spec.calendar_warn_days


def test_spec_numbers_that_matter() -> None:
    s = load_settings()
    assert s.mode.paper is True
    assert s.mode.live_trading_enabled is False
    assert s.ladder.l1_cover_frac == 0.50
    assert s.ladder.l1_vega_multiplier == 0.60
    assert s.ladder.l2_vega_multiplier == 0.85
    assert s.ladder.l2_strike_sd == 1.5
    assert s.ladder.l3_notional_add_frac == 0.15
    assert s.ladder.cost_cap_frac == 0.40
    assert s.ladder.rebalance_every_days == 5
    assert s.ladder.min_hold_days == 2
    assert s.ladder.roll_dte == 7
    assert s.scenario.vix_shock_pts == 6.0
    assert s.signals.vix_rsi_hot == 70.0
    assert s.signals.event_window_days == 2
    assert (s.ib.host, s.ib.port, s.ib.client_id) == ("127.0.0.1", 4002, 17)
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.topic_prefix) == ("127.0.0.1", 1883, "alvhd")
    assert s.sim.seed == 7
    assert s.sim.sessions == 160
    assert s.sim.start == date(2025, 1, 2)
    assert s.replay.end is None


def test_toml_and_code_defaults_agree(tmp_path: Path) -> None:
    """Every key of the shipped TOML repeats the built-in default (no drift)."""
    empty = _toml(tmp_path, "# nothing set\n")
    built_in = load_settings(empty).model_dump()
    shipped = load_settings().model_dump()
    # Deliberate difference: the shipped file starts the replay at 2007-01-03 (the first
    # year with VIX3M/VX history); the built-in default (None) means "after warm-up".
    built_in["replay"].pop("start")
    shipped["replay"].pop("start")
    assert built_in == shipped


def test_config_paths_resolve_against_repo_and_config_dir() -> None:
    s = load_settings()
    assert s.config_path == DEFAULT_CONFIG_PATH.resolve()
    assert s.macro_events_path == MACRO_CSV.resolve()
    var = DEFAULT_CONFIG_PATH.parents[1] / "var"
    assert s.journal_path_for("sim") == var / "journal-default-sim.sqlite"
    assert s.journal_path_for("replay") == var / "journal-default-replay.sqlite"
    assert s.journal_path == var / "journal-default-ibkr.sqlite"
    assert (s.replay_data_dir / "spx_daily.csv").is_file()


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.ladder.l1_cover_frac = 0.45  # type: ignore[misc]


# --------------------------------------------------------------------------- sources


def test_env_override_nested_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_LADDER__L1_COVER_FRAC", "0.45")
    monkeypatch.setenv("ALVH_MQTT__PORT", "18830")
    s = load_settings()
    assert s.ladder.l1_cover_frac == 0.45
    assert s.mqtt.port == 18830
    assert s.ladder.l2_cover_frac == 0.85  # the rest of the section still from the TOML


def test_env_beats_toml_and_overrides_beat_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _toml(tmp_path, "[ladder]\nl1_cover_frac = 0.42\n")
    assert load_settings(path).ladder.l1_cover_frac == 0.42
    monkeypatch.setenv("ALVH_LADDER__L1_COVER_FRAC", "0.55")
    assert load_settings(path).ladder.l1_cover_frac == 0.55
    dotted: dict[str, Any] = {"ladder.l1_cover_frac": 0.58}
    assert load_settings(path, **dotted).ladder.l1_cover_frac == 0.58
    assert load_settings(path, ladder={"l1_cover_frac": 0.41}).ladder.l1_cover_frac == 0.41


def test_alvh_config_env_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, '[mqtt]\ninstance = "lab"\n')
    monkeypatch.setenv("ALVH_CONFIG", str(path))
    s = load_settings()
    assert s.mqtt.instance == "lab"
    assert s.mqtt.effective_client_id == "alvhd-lab"
    assert s.config_path == path.resolve()


def test_secrets_dir_supplies_and_masks_the_password(tmp_path: Path) -> None:
    secrets = tmp_path / "creds"
    secrets.mkdir()
    (secrets / "mqtt_password").write_text("s3cret-pw\n", encoding="utf-8")
    s = load_settings(secrets_dir=secrets)
    assert s.mqtt_password is not None
    assert s.mqtt_password.get_secret_value() == "s3cret-pw"
    dumped = s.masked_dump()
    assert dumped["mqtt_password"] == MASK
    text = json.dumps(dumped)
    assert "s3cret-pw" not in text
    assert "s3cret-pw" not in repr(s)
    assert dumped["ladder"]["l1_cover_frac"] == 0.5


def test_secrets_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "creds"
    secrets.mkdir()
    (secrets / "mqtt_password").write_text("pw2", encoding="utf-8")
    monkeypatch.setenv("ALVH_SECRETS_DIR", str(secrets))
    s = load_settings()
    assert s.mqtt_password is not None
    assert s.mqtt_password.get_secret_value() == "pw2"


def test_missing_secrets_dir_is_fine() -> None:
    s = load_settings()  # ALVH_SECRETS_DIR points at a missing dir (fixture); no warning
    assert s.mqtt_password is None
    assert s.masked_dump()["mqtt_password"] is None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("overrides", "key", "fragments"),
    [
        (
            {"ladder.l1_cover_frac": 0.9},
            "ladder.l1_cover_frac",
            ["ladder.l1_cover_frac = 0.9", "out of range", "≤ 0.6", "SPEC §4: 0.40–0.60"],
        ),
        ({"ladder.l2_strike_sd": 2.5}, "ladder.l2_strike_sd", ["= 2.5", "≤ 2.0", "1.5–2"]),
        ({"ladder.l3_notional_add_frac": 0.05}, "ladder.l3_notional_add_frac", ["≥ 0.1", "10–20%"]),
        ({"scenario.vix_shock_pts": 8}, "scenario.vix_shock_pts", ["= 8", "≤ 7.0", "5–7"]),
        ({"ladder.rebalance_every_days": 3}, "ladder.rebalance_every_days", ["= 3", "≥ 5"]),
        ({"ladder.cost_cap_frac": 0}, "ladder.cost_cap_frac", ["= 0", "> 0.0"]),
        ({"ladder.l1_vega_multiplier": 1.6}, "ladder.l1_vega_multiplier", ["= 1.6", "≤ 1.5"]),
        ({"mqtt.port": 70000}, "mqtt.port", ["= 70000", "≤ 65535"]),
        ({"ladder.l1_cover_frac": "lots"}, "ladder.l1_cover_frac", ["'lots'", "a number"]),
        ({"orders.tif": "IOC"}, "orders.tif", ["'IOC'", "'DAY' or 'GTC'"]),
        ({"sim.start": "2025-13-01"}, "sim.start", ["'2025-13-01'", "ISO date"]),
        ({"signals.macd_fast": 30}, "signals.macd_fast", ["must be < macd_slow (26)"]),
        (
            {"signals.iwm_sma_fast_days": 120, "signals.iwm_sma_slow_days": 100},
            "signals.iwm_sma_fast_days",
            ["<"],
        ),
        ({"ladder.l2_min_dte": 60}, "ladder.l2_min_dte", ["must be < l2_max_dte (60)"]),
        (
            {"ladder.l2_cover_frac": 0.45},
            "ladder.l2_cover_frac",
            ["must be > l1_cover_frac", "cumulative"],
        ),
        (
            {"ladder.l2_exit_vix_rsi_below": 69, "signals.vix_rsi_hot": 60},
            "ladder.l2_exit_vix_rsi_below",
            ["hysteresis"],
        ),
        ({"mode.paper": False}, "mode.paper", ["requires live_trading_enabled"]),
        (
            {"mode.live_trading_enabled": True},
            "mode.live_trading_enabled",
            ["requires paper = false"],
        ),
        (
            {"mode": {"paper": False, "live_trading_enabled": True}},
            "mode.live_account_allowlist",
            ["non-empty live_account_allowlist"],
        ),
        (
            {
                "mode": {
                    "paper": False,
                    "live_trading_enabled": True,
                    "live_account_allowlist": ["U1"],
                },
                "ib.account": "U2",
            },
            "ib.account",
            ["'U2' is not in mode.live_account_allowlist"],
        ),
        ({"ib.account": "U1234567"}, "ib.account", ["not a paper account", "'DU'"]),
        (
            {"replay": {"start": "2021-01-01", "end": "2020-01-01"}},
            "replay.start",
            ["must be ≤ end"],
        ),
    ],
)
def test_invalid_value_names_key_value_and_range(
    overrides: dict[str, object], key: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.key == key
    assert message.startswith(f"config error: {key}")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_live_mode_accepted_when_fully_allowed() -> None:
    s = load_settings(
        mode={"paper": False, "live_trading_enabled": True, "live_account_allowlist": ["U7"]},
        ib={"account": "U7"},
    )
    assert s.mode.paper is False
    assert s.mode.live_trading_enabled is True


def test_env_value_out_of_range_names_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_LADDER__L1_COVER_FRAC", "0.95")
    with pytest.raises(
        ConfigError,
        match=r"ladder\.l1_cover_frac = 0\.95 is out of range.*ALVH_LADDER__L1_COVER_FRAC",
    ):
        load_settings()


def test_out_of_range_in_toml_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[ladder]\nl1_cover_frac = 0.9\n")
    with pytest.raises(
        ConfigError, match=r"ladder\.l1_cover_frac = 0\.9 is out of range: must be ≤ 0\.6"
    ) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_unknown_key_is_rejected_by_name(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[ladder]\nl1_cover_fracc = 0.5\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "ladder.l1_cover_fracc"
    assert "ladder.l1_cover_fracc is not a known key" in str(info.value)
    assert "did you mean 'l1_cover_frac'" in str(info.value)


def test_unknown_section_is_rejected_by_name(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[ladderz]\nx = 1\n")
    with pytest.raises(
        ConfigError, match=r"ladderz is not a known key \(did you mean 'ladder'\?\)"
    ):
        load_settings(path)


def test_missing_toml_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_settings(missing)
    assert str(missing) in str(info.value)


def test_unparseable_toml_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[ladder\nl1_cover_frac = 0.5\n")
    with pytest.raises(ConfigError, match=r"cannot parse .*alvhd\.toml: .*line 1"):
        load_settings(path)


def test_bad_list_in_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_MODE__LIVE_ACCOUNT_ALLOWLIST", "U1,U2")
    with pytest.raises(ConfigError, match="lists must be JSON"):
        load_settings()


# --------------------------------------------------------------------------- macro calendar


def test_macro_calendar_is_sorted_weekdays_and_complete() -> None:
    events = load_macro_events(MACRO_CSV)
    days = [e.day for e in events]
    assert days == sorted(days)
    assert all(d.weekday() < 5 for d in days)
    assert days[0] >= date(2018, 1, 1)
    assert days[-1] >= date(2027, 12, 1)
    assert days[-1] <= date(2027, 12, 31)
    per_year = Counter((e.day.year, e.kind) for e in events)
    for year in range(2018, 2028):
        assert per_year[(year, MacroEventKind.FOMC)] == 8, year
        assert 11 <= per_year[(year, MacroEventKind.CPI)] <= 12, year
        assert 10 <= per_year[(year, MacroEventKind.PPI)] <= 13, year


def test_macro_calendar_known_dates() -> None:
    events = {(e.day, e.kind) for e in load_macro_events(MACRO_CSV)}
    for day, kind in [
        (date(2020, 3, 3), MacroEventKind.FOMC),  # emergency cut
        (date(2024, 9, 18), MacroEventKind.FOMC),
        (date(2025, 12, 10), MacroEventKind.FOMC),
        (date(2027, 6, 9), MacroEventKind.FOMC),  # tentative 2027 schedule
        (date(2019, 8, 13), MacroEventKind.CPI),
        (date(2025, 10, 24), MacroEventKind.CPI),  # rescheduled in the 2025 shutdown
    ]:
        assert (day, kind) in events


def test_to_params_carries_the_calendar() -> None:
    params = load_settings().to_params()
    assert len(params.macro_events) == len(load_macro_events(MACRO_CSV))
    assert params.macro_events[0].day == date(2018, 1, 11)


@pytest.mark.parametrize(
    ("rows", "line", "fragment"),
    [
        (["2024-01-11,CPI,ok", "2024-01-13,CPI,saturday"], 3, "weekend"),
        (["2024-01-11,CPI,ok", "2024-01-12,GDP,x"], 3, "kind must be one of FOMC, CPI, PPI"),
        (["2024-01-11,CPI,ok", "2024-01-10,PPI,x"], 3, "sorted"),
        (["2024-01-11,CPI,ok", "11/01/2024,PPI,x"], 3, "ISO"),
        (["2024-01-11,CPI,ok", "2024-01-11,CPI,again"], 3, "duplicate"),
        (["2024-01-11"], 2, "3 columns"),
    ],
)
def test_bad_calendar_row_names_file_and_line(
    tmp_path: Path, rows: list[str], line: int, fragment: str
) -> None:
    path = tmp_path / "macro.csv"
    path.write_text("date,kind,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_macro_events(path)
    assert f"{path}:{line}" in str(info.value)
    assert fragment in str(info.value)


def test_bad_calendar_stops_to_params(tmp_path: Path) -> None:
    (tmp_path / "macro.csv").write_text("when,what\n2024-01-11,CPI\n", encoding="utf-8")
    path = _toml(tmp_path, '[calendar]\nmacro_events = "macro.csv"\n')
    settings = load_settings(path)
    with pytest.raises(ConfigError, match=r"macro\.csv:1: header must be 'date,kind,note'"):
        settings.to_params()


# --------------------------------------------------------------------------- paths (issue 11)


def _installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Pretend to run from a wheel: no checkout, XDG dirs under ``tmp_path``."""
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setattr(paths, "ETC_CONFIG", tmp_path / "etc" / "alvhd" / "alvhd.toml")
    monkeypatch.setattr(paths, "packaged_config_dir", lambda: DEFAULT_CONFIG_PATH.parent)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    return tmp_path


def test_config_search_order_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _installed(monkeypatch, tmp_path)
    user = tmp_path / "xdg-config" / "alvhd" / "alvhd.toml"
    etc = tmp_path / "etc" / "alvhd" / "alvhd.toml"
    # nothing installed: the packaged defaults, after looking at the user and system files
    found = paths.find_config()
    assert found.origin is paths.ConfigOrigin.PACKAGED
    assert found.searched == (user, etc, DEFAULT_CONFIG_PATH)
    etc.parent.mkdir(parents=True)
    etc.write_text('[mqtt]\ninstance = "etc"\n')
    assert load_settings().mqtt.instance == "etc"
    user.parent.mkdir(parents=True)
    user.write_text('[mqtt]\ninstance = "user"\n')
    assert load_settings().mqtt.instance == "user"
    env = _toml(tmp_path, '[mqtt]\ninstance = "env"\n')
    monkeypatch.setenv("ALVH_CONFIG", str(env))
    assert load_settings().mqtt.instance == "env"
    flag = tmp_path / "flag.toml"
    flag.write_text('[mqtt]\ninstance = "flag"\n')
    s = load_settings(flag)
    assert s.mqtt.instance == "flag"
    assert s.config_origin is not None
    assert s.config_origin.origin is paths.ConfigOrigin.FLAG


def test_checkout_uses_the_repo_config_whatever_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "xdg-config" / "alvhd" / "alvhd.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[mqtt]\ninstance = "user"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    s = load_settings()
    assert s.mqtt.instance == "default"
    assert s.config_path == DEFAULT_CONFIG_PATH
    assert s.config_origin is not None
    assert s.config_origin.origin is paths.ConfigOrigin.CHECKOUT


def test_state_dir_systemd_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, tmp_path)
    s = load_settings()
    assert s.journal_path_for("sim") == (
        tmp_path / "xdg-state" / "alvhd" / "journal-default-sim.sqlite"
    )
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/alvhd:/var/lib/other")
    assert s.journal_path == Path("/var/lib/alvhd/journal-default-ibkr.sqlite")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.state_dir() == tmp_path / "home" / ".local" / "state" / "alvhd"


def test_each_source_and_instance_has_its_own_default_journal() -> None:
    s = load_settings(mqtt={"instance": "lab"})
    names = {s.journal_path_for(src).name for src in ("sim", "replay", "ibkr")}
    assert names == {
        "journal-lab-sim.sqlite",
        "journal-lab-replay.sqlite",
        "journal-lab-ibkr.sqlite",
    }
    # an explicit journal.path is used as given, for every source
    fixed = Path("/srv/alvhd/x.sqlite")
    over: dict[str, Any] = {"journal.path": fixed}
    one = load_settings(**over)
    assert one.journal_path_for("sim") == one.journal_path_for("ibkr") == fixed


def test_copied_toml_resolves_relative_paths_against_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    copied = elsewhere / "alvhd.toml"
    copied.write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = load_settings(copied)
    # the calendar is not beside the copy: the packaged one is used, and the run can start
    assert s.macro_events_path == MACRO_CSV
    assert len(s.to_params().macro_events) > 50
    # a calendar beside the copy wins; journal/data paths written there are relative to it
    (elsewhere / "macro_events.csv").write_text(MACRO_CSV.read_text(encoding="utf-8"))
    copied.write_text(
        '[journal]\npath = "state/j.sqlite"\n[replay]\ndata_dir = "data"\n', encoding="utf-8"
    )
    s = load_settings(copied)
    assert s.macro_events_path == elsewhere / "macro_events.csv"
    assert s.journal_path_for("sim") == elsewhere / "state" / "j.sqlite"
    assert s.replay_data_dir == elsewhere / "data"
    # the same relative value from the command line or env is relative to the cwd
    over: dict[str, Any] = {"journal.path": Path("cli.sqlite")}
    s = load_settings(copied, **over)
    assert s.journal_path_for("sim") == tmp_path / "cli.sqlite"


def test_missing_calendar_names_its_config_key(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[calendar]\nmacro_events = "my_events.csv"\n')
    s = load_settings(path)
    with pytest.raises(ConfigError) as err:
        s.to_params()
    text = str(err.value)
    assert err.value.key == "calendar.macro_events"
    assert "calendar.macro_events" in text
    assert str(tmp_path / "my_events.csv") in text


def test_replay_data_dir_unset_when_installed_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _installed(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match=r"replay\.data_dir.*--data-dir"):
        _ = load_settings().replay_data_dir


# --------------------------------------------------------------------------- env (issue 6 §6)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("ALVH_LADDR__L1_COVER_FRAC", "ALVH_LADDER__L1_COVER_FRAC"),
        ("ALVH_LADDER_L1_COVER_FRAC", "ALVH_LADDER__L1_COVER_FRAC"),
        ("ALVH_MQTT__PASSWORD", "ALVH_MQTT_PASSWORD"),
        ("alvh_mqtt__prot", "ALVH_MQTT__PORT"),
    ],
)
def test_unknown_alvh_variable_is_refused_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch, name: str, suggestion: str
) -> None:
    monkeypatch.setenv(name, "0.5")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in str(err.value)
    assert suggestion in str(err.value)


def test_known_and_reserved_alvh_variables_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "ALVH_LADDER__L1_COVER_FRAC": "0.45",
        "ALVH_MQTT_PASSWORD": "pw",
        "ALVH_MARKET_DIR": str(tmp_path),
        "ALVH_TEST_IB_PORT": "4002",
        "ALVH_MQTT": '{"port": 1884}',
    }.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.ladder.l1_cover_frac == 0.45
    assert s.mqtt.port == 1884
    assert s.mqtt_password is not None
    assert s.mqtt_password.get_secret_value() == "pw"
    assert s.origins["mqtt_password"] == "env ALVH_MQTT_PASSWORD"  # noqa: S105
    assert s.origins["ladder.l1_cover_frac"] == "env ALVH_LADDER__L1_COVER_FRAC"


def test_origins_name_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, "[ladder]\nl1_cover_frac = 0.42\n")
    secrets = tmp_path / "creds"
    secrets.mkdir()
    (secrets / "mqtt_password").write_text("pw")
    monkeypatch.setenv("ALVH_MQTT__PORT", "1884")
    s = load_settings(
        path, secrets_dir=secrets, flags={"ib.port": "--ib-port"}, **{"ib.port": 4102}
    )
    assert s.origins["ladder.l1_cover_frac"] == "toml"
    assert s.origins["mqtt.port"] == "env ALVH_MQTT__PORT"
    assert s.origins["ib.port"] == "command line --ib-port"
    assert s.origins["mqtt_password"] == f"secrets {secrets / 'mqtt_password'}"
    assert s.origins["ladder.l2_cover_frac"] == "default"


def test_command_line_error_names_the_flag_not_the_toml() -> None:
    over: dict[str, Any] = {"mqtt.port": 70000}
    with pytest.raises(ConfigError) as err:
        load_settings(flags={"mqtt.port": "--mqtt-port"}, **over)
    text = str(err.value)
    assert "--mqtt-port" in text
    assert "set in" not in text
    assert "alvhd.toml" not in text
