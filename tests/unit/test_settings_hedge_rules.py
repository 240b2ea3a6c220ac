"""The issue-10 configuration keys: defaults, ranges and cross-field rules (exit 78)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ALVH_") and name != "ALVH_MARKET_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALVH_SECRETS_DIR", str(tmp_path / "no-such-credentials-dir"))


def test_defaults_follow_the_spec_and_forbid_lottery_tickets() -> None:
    s = load_settings()
    assert s.orders.min_premium_pts == 0.15
    assert s.ladder.max_otm_pts == 5.0
    assert s.ladder.l2_max_strike_sd == 2.0  # SPEC §4: 1.5–2 sd
    assert s.scenario.beta_floor_always is False  # SPEC §5.2: floor only when history is short
    params = s.to_params()
    assert params.orders.min_premium_pts == 0.15
    assert params.scenario.beta_floor_always is False


@pytest.mark.parametrize(
    ("env", "value", "key"),
    [
        ("ALVH_ORDERS__MIN_PREMIUM_PTS", "-0.1", "orders.min_premium_pts"),
        ("ALVH_LADDER__MAX_OTM_PTS", "0", "ladder.max_otm_pts"),
        ("ALVH_LADDER__L2_MAX_STRIKE_SD", "9", "ladder.l2_max_strike_sd"),
        ("ALVH_LADDER__MAX_OTM_PTS", "1.0", "ladder.max_otm_pts"),  # < l1_strike_otm_pts 2
        ("ALVH_LADDER__L2_MAX_STRIKE_SD", "1.2", "ladder.l2_max_strike_sd"),  # < l2_strike_sd
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, key: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings()


def test_the_floor_can_be_switched_off_and_the_always_on_beta_floor_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALVH_ORDERS__MIN_PREMIUM_PTS", "0")
    monkeypatch.setenv("ALVH_SCENARIO__BETA_FLOOR_ALWAYS", "true")
    params = load_settings().to_params()
    assert params.orders.min_premium_pts == 0.0
    assert params.scenario.beta_floor_always is True
