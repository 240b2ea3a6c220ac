"""Validated configuration of alvhd (STYLE.md §2.8), mirroring ``config/alvhd.toml``.

``Settings`` is a frozen pydantic-settings model with one nested section per TOML table.
Every SPEC default and allowed range is declared here once, as ``Field(ge=…, le=…)``;
cross-field rules (ascending layers, hysteresis, paper/live guard) are model validators.

Sources, highest precedence first (``Settings.settings_customise_sources``):

1. init keyword arguments (``load_settings(**overrides)``),
2. environment variables ``ALVH_<SECTION>__<KEY>`` (``env_nested_delimiter="__"``),
3. the secrets directory (systemd ``LoadCredential=`` → ``/run/credentials/alvhd.service``,
   or ``$ALVH_SECRETS_DIR``): one file per top-level secret, named after the field
   (``mqtt_password``); a missing directory is fine,
4. the TOML file, found by :func:`daemon.paths.find_config` (``--config``, ``$ALVH_CONFIG``,
   ``$XDG_CONFIG_HOME/alvhd/alvhd.toml``, ``/etc/alvhd/alvhd.toml``, the packaged defaults).

Relative paths resolve against where they were written: a value in a TOML file against
that file's directory (a data file not found there is taken from the packaged defaults),
a value from the command line or the environment against the working directory. Unset
paths have defaults from :mod:`daemon.paths` (journal: one file per source in the state
directory). Every variable named ``ALVH_*`` must be a known setting or one of
:data:`EXTRA_ENV`; anything else is refused (exit 78) with a did-you-mean.

``load_settings`` is the entry point: it turns any failure (missing or unparseable TOML,
pydantic ``ValidationError``, a bad macro-calendar row) into one ``ConfigError`` whose
message names the dotted key, the bad value and the allowed range.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import os
import re
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon import paths
from daemon.core.params import (
    AccountingParams,
    CondorTemplate,
    EngineParams,
    LadderParams,
    MacroEvent,
    MacroEventKind,
    OrderParams,
    QualityParams,
    ScenarioParams,
    SignalParams,
)
from daemon.errors import ConfigError
from daemon.settings_sources import nest_dotted, ordered_sources, read_toml

DEFAULT_CONFIG_PATH = paths.packaged_config_dir() / paths.CONFIG_NAME
"""The packaged default TOML: ``<repo>/config/alvhd.toml`` in a checkout,
``daemon/_config/alvhd.toml`` in the wheel (``pyproject.toml`` force-includes ``config/``)."""

DEFAULT_SECRETS_DIR = Path("/run/credentials/alvhd.service")
"""systemd ``LoadCredential=`` directory of the ``alvhd.service`` unit."""

CONFIG_ENV = paths.CONFIG_ENV
SECRETS_DIR_ENV = "ALVH_SECRETS_DIR"
EXTRA_ENV = frozenset({CONFIG_ENV, SECRETS_DIR_ENV, "ALVH_MARKET_DIR", "ALVH_CACHE_DIR"})
"""``ALVH_*`` variables that are not settings: the config file, the secrets directory and
the market-data directory of the tests and benches. ``ALVH_TEST_*`` is reserved for tests."""
MASK = "**********"

_MACRO_HEADER = ("date", "kind", "note")

_toml_path_var: ContextVar[Path | None] = ContextVar("alvh_toml_path", default=None)
_secrets_dir_var: ContextVar[Path | None] = ContextVar("alvh_secrets_dir", default=None)


def _default(cls: type[Any], name: str) -> Any:
    """Default of field ``name`` of the (slotted) params dataclass ``cls``."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(name)  # pragma: no cover - programming error caught by tests


def _spec(note: str) -> dict[str, Any]:
    """``json_schema_extra`` carrying the SPEC range note quoted in error messages."""
    return {"spec": note}


def _empty_to_none(value: Any) -> Any:
    """Map ``""`` (TOML has no null) to ``None`` for optional fields."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _password_or_none(value: Any) -> Any:
    """A secret without surrounding whitespace; empty → ``None`` (anonymous)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


OptionalDate = Annotated[date | None, BeforeValidator(_empty_to_none)]
OptionalPath = Annotated[Path | None, BeforeValidator(_empty_to_none)]


def _cross(field: str, message: str) -> PydanticCustomError:
    """A cross-field validation error attributed to ``field`` of the validated section."""
    return PydanticCustomError("cross_field", "{message}", {"field": field, "message": message})


class _Section(BaseModel):
    """Base of every TOML section: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- sections


class ModeSection(_Section):
    """``[mode]``: paper/live guard (SPEC §6)."""

    paper: bool = True
    live_trading_enabled: bool = False
    live_account_allowlist: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_live_guard(self) -> Self:
        if self.live_trading_enabled and self.paper:
            raise _cross(
                "live_trading_enabled",
                "live_trading_enabled = true requires paper = false (SPEC §6)",
            )
        if self.live_trading_enabled and not self.live_account_allowlist:
            raise _cross(
                "live_account_allowlist",
                "live trading requires a non-empty live_account_allowlist (SPEC §6)",
            )
        if not self.paper and not self.live_trading_enabled:
            raise _cross(
                "paper",
                "paper = false requires live_trading_enabled = true and an account allow-list "
                "(SPEC §6: paper mode is the default)",
            )
        return self


class SignalsSection(_Section):
    """``[signals]``: SPEC §3 periods and thresholds (→ ``SignalParams``)."""

    macd_fast: int = Field(
        _default(SignalParams, "macd_fast"), ge=2, le=50, json_schema_extra=_spec("SPEC §3: 12")
    )
    macd_slow: int = Field(
        _default(SignalParams, "macd_slow"), ge=3, le=100, json_schema_extra=_spec("SPEC §3: 26")
    )
    macd_signal: int = Field(
        _default(SignalParams, "macd_signal"), ge=2, le=50, json_schema_extra=_spec("SPEC §3: 9")
    )
    rsi_period: int = Field(
        _default(SignalParams, "rsi_period"), ge=2, le=50, json_schema_extra=_spec("SPEC §3: 14")
    )
    vix_rsi_hot: float = Field(
        _default(SignalParams, "vix_rsi_hot"), ge=50, le=95, json_schema_extra=_spec("SPEC §3: 70")
    )
    ratio_rsi_weak: float = Field(
        _default(SignalParams, "ratio_rsi_weak"),
        ge=5,
        le=50,
        json_schema_extra=_spec("SPEC §3: 30"),
    )
    iv_spread_mean_days: int = Field(
        _default(SignalParams, "iv_spread_mean_days"),
        ge=10,
        le=250,
        json_schema_extra=_spec("SPEC §3: 90 days"),
    )
    iv_spread_blowout_frac: float = Field(
        _default(SignalParams, "iv_spread_blowout_frac"),
        ge=0.05,
        le=1.0,
        json_schema_extra=_spec("SPEC §3: 25%"),
    )
    iwm_sma_fast_days: int = Field(
        _default(SignalParams, "iwm_sma_fast_days"),
        ge=5,
        le=150,
        json_schema_extra=_spec("SPEC §3: 50"),
    )
    iwm_sma_slow_days: int = Field(
        _default(SignalParams, "iwm_sma_slow_days"),
        ge=20,
        le=400,
        json_schema_extra=_spec("SPEC §3: 200"),
    )
    big_move_pct: float = Field(
        _default(SignalParams, "big_move_pct"),
        ge=0.5,
        le=20,
        json_schema_extra=_spec("SPEC §3: 3%"),
    )
    event_window_days: int = Field(
        _default(SignalParams, "event_window_days"),
        ge=0,
        le=10,
        json_schema_extra=_spec("SPEC §3: 2 days"),
    )
    backwardation_ratio: float = Field(
        _default(SignalParams, "backwardation_ratio"),
        ge=0.8,
        le=1.2,
        json_schema_extra=_spec("SPEC §3: 1.0"),
    )
    ad_divergence_days: int = Field(
        _default(SignalParams, "ad_divergence_days"),
        ge=1,
        le=30,
        json_schema_extra=_spec("SPEC §3: 5 sessions"),
    )

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.macd_fast >= self.macd_slow:
            raise _cross(
                "macd_fast", f"macd_fast ({self.macd_fast}) must be < macd_slow ({self.macd_slow})"
            )
        if self.iwm_sma_fast_days >= self.iwm_sma_slow_days:
            raise _cross(
                "iwm_sma_fast_days",
                f"iwm_sma_fast_days ({self.iwm_sma_fast_days}) must be < iwm_sma_slow_days "
                f"({self.iwm_sma_slow_days})",
            )
        return self


class LadderSection(_Section):
    """``[ladder]``: SPEC §4 layer rules (→ ``LadderParams``)."""

    l1_exit_closes: int = Field(
        _default(LadderParams, "l1_exit_closes"), ge=1, le=10, json_schema_extra=_spec("SPEC §4: 3")
    )
    l2_exit_vix_rsi_below: float = Field(
        _default(LadderParams, "l2_exit_vix_rsi_below"),
        ge=20,
        le=69,
        json_schema_extra=_spec("SPEC §4: 50"),
    )
    l3_exit_spread_frac: float = Field(
        _default(LadderParams, "l3_exit_spread_frac"),
        ge=0.0,
        le=0.5,
        json_schema_extra=_spec("SPEC §4: 10%"),
    )
    min_hold_days: int = Field(
        _default(LadderParams, "min_hold_days"), ge=1, le=10, json_schema_extra=_spec("SPEC §4: 2")
    )
    rebalance_every_days: int = Field(
        _default(LadderParams, "rebalance_every_days"),
        ge=5,
        le=10,
        json_schema_extra=_spec("SPEC §4: 5–10"),
    )
    rebalance_band_frac: float = Field(
        _default(LadderParams, "rebalance_band_frac"),
        ge=0.0,
        le=1.0,
        json_schema_extra=_spec("operational, not in the SPEC: no-trade band, fraction of held"),
    )
    roll_dte: int = Field(
        _default(LadderParams, "roll_dte"), ge=1, le=30, json_schema_extra=_spec("SPEC §4: 7")
    )
    cost_cap_frac: float = Field(
        _default(LadderParams, "cost_cap_frac"),
        gt=0.0,
        le=1.0,
        json_schema_extra=_spec("SPEC §4: 40%"),
    )
    l1_min_dte: int = Field(
        _default(LadderParams, "l1_min_dte"), ge=2, le=60, json_schema_extra=_spec("SPEC §4: 14")
    )
    l2_min_dte: int = Field(
        _default(LadderParams, "l2_min_dte"),
        ge=7,
        le=120,
        json_schema_extra=_spec("SPEC §4: 30–60"),
    )
    l2_max_dte: int = Field(
        _default(LadderParams, "l2_max_dte"),
        ge=14,
        le=180,
        json_schema_extra=_spec("SPEC §4: 30–60"),
    )
    l1_cover_frac: float = Field(
        _default(LadderParams, "l1_cover_frac"),
        ge=0.40,
        le=0.60,
        json_schema_extra=_spec("SPEC §4: 0.40–0.60"),
    )
    l1_vega_multiplier: float = Field(
        _default(LadderParams, "l1_vega_multiplier"),
        gt=0.0,
        le=1.5,
        json_schema_extra=_spec("SPEC §4: 0.6"),
    )
    l2_cover_frac: float = Field(
        _default(LadderParams, "l2_cover_frac"),
        gt=0.0,
        le=1.5,
        json_schema_extra=_spec("SPEC §4: 0.85"),
    )
    l2_vega_multiplier: float = Field(
        _default(LadderParams, "l2_vega_multiplier"),
        gt=0.0,
        le=1.5,
        json_schema_extra=_spec("SPEC §4: 0.85"),
    )
    l2_strike_sd: float = Field(
        _default(LadderParams, "l2_strike_sd"),
        ge=1.5,
        le=2.0,
        json_schema_extra=_spec("SPEC §4: 1.5–2"),
    )
    l3_notional_add_frac: float = Field(
        _default(LadderParams, "l3_notional_add_frac"),
        ge=0.10,
        le=0.20,
        json_schema_extra=_spec("SPEC §4: 10–20%"),
    )
    l3_max_missing_closes: int = Field(
        _default(LadderParams, "l3_max_missing_closes"),
        ge=1,
        le=60,
        json_schema_extra=_spec("sessions without RVX before L3 closes (fail-safe)"),
    )
    l3_spread_width_pts: float = Field(
        _default(LadderParams, "l3_spread_width_pts"),
        gt=0.0,
        le=50.0,
        json_schema_extra=_spec("VIX points"),
    )
    l1_strike_otm_pts: float = Field(
        _default(LadderParams, "l1_strike_otm_pts"),
        ge=0.0,
        le=20.0,
        json_schema_extra=_spec("VIX points"),
    )
    max_otm_pts: float = Field(
        _default(LadderParams, "max_otm_pts"),
        gt=0.0,
        le=50.0,
        json_schema_extra=_spec("VIX points above the own VX future; issue 10: 5"),
    )
    l2_max_strike_sd: float = Field(
        _default(LadderParams, "l2_max_strike_sd"),
        ge=1.0,
        le=5.0,
        json_schema_extra=_spec("standard deviations; SPEC §4 1.5–2"),
    )
    intraday_confirm: bool = _default(LadderParams, "intraday_confirm")

    @model_validator(mode="after")
    def _check_ascending(self) -> Self:
        if self.l2_min_dte >= self.l2_max_dte:
            raise _cross(
                "l2_min_dte",
                f"l2_min_dte ({self.l2_min_dte}) must be < l2_max_dte ({self.l2_max_dte})",
            )
        if self.l1_cover_frac >= self.l2_cover_frac:
            raise _cross(
                "l2_cover_frac",
                f"l2_cover_frac ({self.l2_cover_frac}) must be > l1_cover_frac "
                f"({self.l1_cover_frac}): layers are cumulative (SPEC §4)",
            )
        if self.l1_vega_multiplier > self.l2_vega_multiplier:
            raise _cross(
                "l2_vega_multiplier",
                f"l2_vega_multiplier ({self.l2_vega_multiplier}) must be ≥ l1_vega_multiplier "
                f"({self.l1_vega_multiplier}): L2 raises it (SPEC §4)",
            )
        if self.max_otm_pts < self.l1_strike_otm_pts:
            raise _cross(
                "max_otm_pts",
                f"max_otm_pts ({self.max_otm_pts}) must be ≥ l1_strike_otm_pts "
                f"({self.l1_strike_otm_pts}), or every fresh L1 strike is out of rule",
            )
        if self.l2_max_strike_sd < self.l2_strike_sd:
            raise _cross(
                "l2_max_strike_sd",
                f"l2_max_strike_sd ({self.l2_max_strike_sd}) must be ≥ l2_strike_sd "
                f"({self.l2_strike_sd}), or every fresh L2 strike is out of rule",
            )
        if self.roll_dte >= self.l1_min_dte:
            raise _cross(
                "roll_dte",
                f"roll_dte ({self.roll_dte}) must be < l1_min_dte ({self.l1_min_dte}), "
                "or a fresh L1 hedge would be rolled at once",
            )
        return self


class ScenarioSection(_Section):
    """``[scenario]``: SPEC §5 scenario and pricing inputs (→ ``ScenarioParams``)."""

    vix_shock_pts: float = Field(
        _default(ScenarioParams, "vix_shock_pts"),
        ge=5.0,
        le=7.0,
        json_schema_extra=_spec("SPEC §5: 5–7"),
    )
    beta_days: int = Field(
        _default(ScenarioParams, "beta_days"), ge=20, le=500, json_schema_extra=_spec("SPEC §5: 90")
    )
    beta_short_days: int = Field(
        _default(ScenarioParams, "beta_short_days"),
        ge=10,
        le=250,
        json_schema_extra=_spec("SPEC §1: 30"),
    )
    spx_pct_per_vix_pt_floor: float = Field(
        _default(ScenarioParams, "spx_pct_per_vix_pt_floor"),
        ge=-5.0,
        lt=0.0,
        json_schema_extra=_spec("SPEC §5: −0.5…−1"),
    )
    vx_beta_to_spot: float = Field(
        _default(ScenarioParams, "vx_beta_to_spot"),
        gt=0.0,
        le=1.5,
        json_schema_extra=_spec("SPEC §5: 0.7"),
    )
    iv_shift_per_vix_pt: float = Field(
        _default(ScenarioParams, "iv_shift_per_vix_pt"),
        ge=0.0,
        le=0.05,
        json_schema_extra=_spec("SPEC §5: Δ/100"),
    )
    risk_free_rate: float = Field(
        _default(ScenarioParams, "risk_free_rate"),
        ge=-0.02,
        le=0.20,
        json_schema_extra=_spec("decimal/yr"),
    )
    spx_dividend_yield: float = Field(
        _default(ScenarioParams, "spx_dividend_yield"),
        ge=0.0,
        le=0.10,
        json_schema_extra=_spec("decimal/yr"),
    )
    vix_option_iv: float = Field(
        _default(ScenarioParams, "vix_option_iv"),
        ge=0.05,
        le=5.0,
        json_schema_extra=_spec("decimal"),
    )
    vix_strike_step_pts: float = Field(
        _default(ScenarioParams, "vix_strike_step_pts"),
        gt=0.0,
        le=5.0,
        json_schema_extra=_spec("VIX points"),
    )
    beta_floor_always: bool = _default(ScenarioParams, "beta_floor_always")

    @model_validator(mode="after")
    def _check_windows(self) -> Self:
        if self.beta_short_days >= self.beta_days:
            raise _cross(
                "beta_short_days",
                f"beta_short_days ({self.beta_short_days}) must be < beta_days ({self.beta_days})",
            )
        return self


class OrdersSection(_Section):
    """``[orders]``: SPEC §6 order construction (→ ``OrderParams``)."""

    limit_offset_frac: float = Field(
        _default(OrderParams, "limit_offset_frac"),
        ge=0.0,
        le=0.2,
        json_schema_extra=_spec("SPEC §6: mid"),
    )
    tif: Literal["DAY", "GTC"] = _default(OrderParams, "tif")
    vix_option_multiplier: int = Field(
        _default(OrderParams, "vix_option_multiplier"),
        ge=1,
        le=1000,
        json_schema_extra=_spec("USD per point"),
    )
    min_tick_above_3: float = Field(
        _default(OrderParams, "min_tick_above_3"), gt=0.0, le=1.0, json_schema_extra=_spec("points")
    )
    min_tick_below_3: float = Field(
        _default(OrderParams, "min_tick_below_3"), gt=0.0, le=1.0, json_schema_extra=_spec("points")
    )
    min_premium_pts: float = Field(
        _default(OrderParams, "min_premium_pts"),
        ge=0.0,
        le=5.0,
        json_schema_extra=_spec("points per share; 0 = no floor; issue 10"),
    )
    max_spread_frac: float = Field(
        _default(OrderParams, "max_spread_frac"),
        gt=0.0,
        le=5.0,
        json_schema_extra=_spec("(ask − bid) / mid, fraction; not in the SPEC"),
    )


class CondorSection(_Section):
    """``[condor]``: the template condor of replay/sim (→ ``CondorTemplate``)."""

    dte_days: int = Field(
        _default(CondorTemplate, "dte_days"), ge=7, le=120, json_schema_extra=_spec("calendar days")
    )
    roll_at_dte: int = Field(
        _default(CondorTemplate, "roll_at_dte"),
        ge=0,
        le=60,
        json_schema_extra=_spec("calendar days"),
    )
    short_put_otm_pct: float = Field(
        _default(CondorTemplate, "short_put_otm_pct"),
        ge=0.5,
        le=30,
        json_schema_extra=_spec("percent"),
    )
    short_call_otm_pct: float = Field(
        _default(CondorTemplate, "short_call_otm_pct"),
        ge=0.5,
        le=30,
        json_schema_extra=_spec("percent"),
    )
    wing_width_pts: float = Field(
        _default(CondorTemplate, "wing_width_pts"),
        ge=5,
        le=500,
        json_schema_extra=_spec("SPX points"),
    )
    strike_step_pts: float = Field(
        _default(CondorTemplate, "strike_step_pts"),
        gt=0,
        le=100,
        json_schema_extra=_spec("SPX points"),
    )
    contracts: int = Field(
        _default(CondorTemplate, "contracts"), ge=1, le=1000, json_schema_extra=_spec("condors")
    )
    multiplier: int = Field(
        _default(CondorTemplate, "multiplier"),
        ge=1,
        le=1000,
        json_schema_extra=_spec("USD per point"),
    )

    @model_validator(mode="after")
    def _check_roll(self) -> Self:
        if self.roll_at_dte >= self.dte_days:
            raise _cross(
                "roll_at_dte",
                f"roll_at_dte ({self.roll_at_dte}) must be < dte_days ({self.dte_days})",
            )
        return self


class AccountingSection(_Section):
    """``[accounting]``: fees and the condor's marking skew for the P&L (→ ``AccountingParams``).

    Never changes a decision: only the replay report's and ``days.csv``'s P&L figures.
    """

    fee_per_contract_usd: float = Field(
        _default(AccountingParams, "fee_per_contract_usd"),
        ge=0.0,
        le=100.0,
        json_schema_extra=_spec("USD per option contract per leg, each trade"),
    )
    condor_put_skew_pts: float = Field(
        _default(AccountingParams, "condor_put_skew_pts"),
        ge=-20.0,
        le=40.0,
        json_schema_extra=_spec("vol points added to VIX for the condor's put legs"),
    )
    condor_call_skew_pts: float = Field(
        _default(AccountingParams, "condor_call_skew_pts"),
        ge=-20.0,
        le=40.0,
        json_schema_extra=_spec("vol points added to VIX for the condor's call legs"),
    )


class SatelliteSection(_Section):
    """``[satellite]``: SPEC §1 long small-cap exposure in replay/sim."""

    notional_usd: float = Field(
        100_000.0, ge=0.0, le=1e9, json_schema_extra=_spec("SPEC §1: $100,000")
    )


class ServiceSection(_Section):
    """``[service]``: shell timing and buffers."""

    eval_debounce_ms: int = Field(250, ge=0, le=60_000, json_schema_extra=_spec("ms"))
    eval_interval_s: float = Field(60.0, ge=1.0, le=3600.0, json_schema_extra=_spec("s"))
    heartbeat_s: float = Field(1.0, ge=0.1, le=60.0, json_schema_extra=_spec("s"))
    stale_after_s: float = Field(120.0, ge=5.0, le=3600.0, json_schema_extra=_spec("s"))
    market_every_s: float = Field(10.0, ge=1.0, le=3600.0, json_schema_extra=_spec("s"))
    outbox_size: int = Field(1000, ge=10, le=100_000, json_schema_extra=_spec("decisions"))
    shutdown_timeout_s: float = Field(10.0, ge=1.0, le=60.0, json_schema_extra=_spec("s"))
    status_every_s: float = Field(30.0, ge=1.0, le=3600.0, json_schema_extra=_spec("s"))
    signals_every_s: float = Field(1.0, ge=0.1, le=3600.0, json_schema_extra=_spec("s"))
    mqtt_backlog_after: int = Field(10, ge=1, le=100_000, json_schema_extra=_spec("decisions"))

    @model_validator(mode="after")
    def _check_heartbeat(self) -> Self:
        if self.heartbeat_s >= self.stale_after_s:
            raise _cross(
                "heartbeat_s",
                f"heartbeat_s ({self.heartbeat_s}) must be < stale_after_s ({self.stale_after_s})",
            )
        return self


_TOPIC_PART = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
_INSTANCE = re.compile(r"^[A-Za-z0-9_-]+$")


class MqttSection(_Section):
    """``[mqtt]``: broker connection; the password is the top-level secret ``mqtt_password``."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535, json_schema_extra=_spec("TCP port"))
    topic_prefix: str = Field("alvhd", pattern=_TOPIC_PART.pattern)
    instance: str = Field("default", pattern=_INSTANCE.pattern)
    client_id: str = ""
    username: str = ""
    keepalive_s: int = Field(60, ge=5, le=3600, json_schema_extra=_spec("s"))
    enabled: bool = True
    tls_ca_file: Annotated[Path | None, BeforeValidator(_empty_to_none)] = None
    """CA of the broker's certificate: set → TLS (hostname checked); relative to the repo."""
    tls_cert_file: Annotated[Path | None, BeforeValidator(_empty_to_none)] = None
    """Optional client certificate (PEM), with ``tls_key_file``."""
    tls_key_file: Annotated[Path | None, BeforeValidator(_empty_to_none)] = None

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        files = {
            "tls_ca_file": self.tls_ca_file,
            "tls_cert_file": self.tls_cert_file,
            "tls_key_file": self.tls_key_file,
        }
        for name, path in files.items():
            # relative paths are checked where they resolve (Settings.data_file, at start)
            if path is not None and path.is_absolute() and not path.is_file():
                raise _cross(name, f"{path} is not a readable file")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise _cross("tls_cert_file", "tls_cert_file and tls_key_file go together")
        if self.tls_cert_file is not None and self.tls_ca_file is None:
            raise _cross("tls_ca_file", "a client certificate needs tls_ca_file (TLS) too")
        return self

    @property
    def effective_client_id(self) -> str:
        """``client_id``, or ``"alvhd-<instance>"`` when empty."""
        return self.client_id or f"alvhd-{self.instance}"


class MetricsSection(_Section):
    """``[metrics]``: the Prometheus endpoint (``daemon/metrics.py``); port 0 = off."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(0, ge=0, le=65535, json_schema_extra=_spec("TCP port; 0 = off"))


class OpsSection(_Section):
    """``[ops]``: the dead-man's switch (an outside service alerts when pings stop)."""

    deadman_url: str = Field("", pattern=r"^(https?://\S+)?$")
    """Healthchecks.io-style ping URL (``GET`` every ``deadman_every_s``); "" = off."""
    deadman_every_s: float = Field(60.0, ge=10.0, le=3600.0, json_schema_extra=_spec("s"))


class JournalSection(_Section):
    """``[journal]``: SQLite write-ahead journal.

    ``path`` unset (``""``) → one journal per source and instance in the state directory
    (:func:`daemon.paths.state_dir`), e.g. ``journal-default-ibkr.sqlite``.
    """

    path: OptionalPath = None


class IbSection(_Section):
    """``[ib]``: Interactive Brokers gateway connection."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(4002, ge=1, le=65535, json_schema_extra=_spec("TCP port"))
    client_id: int = Field(17, ge=0, le=999_999, json_schema_extra=_spec("IB clientId"))
    market_data_type: int = Field(
        1, ge=1, le=4, json_schema_extra=_spec("1 live, 2 frozen, 3 delayed, 4 delayed-frozen")
    )
    connect_timeout_s: float = Field(10.0, ge=1.0, le=120.0, json_schema_extra=_spec("s"))
    request_timeout_s: float = Field(30.0, ge=1.0, le=300.0, json_schema_extra=_spec("s"))
    read_only: bool = False
    account: str = ""


class ReplaySection(_Section):
    """``[replay]``: daily CSV replay (``adapters/replay.py``)."""

    data_dir: OptionalPath = None
    start: OptionalDate = None
    end: OptionalDate = None
    warmup_days: int = Field(
        250, ge=200, le=2000, json_schema_extra=_spec("SPEC §2: ≥ 200 trading days")
    )

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise _cross("start", f"start ({self.start}) must be ≤ end ({self.end})")
        return self


class QualitySection(_Section):
    """``[quality]``: the plausibility filter of quotes (issue 6 §3; core ``plausibility``)."""

    spx_max_move_frac: float = Field(
        _default(QualityParams, "spx_max_move_frac"),
        gt=0.0,
        le=5.0,
        json_schema_extra=_spec("fraction vs last valid price and previous close"),
    )
    iwm_max_move_frac: float = Field(
        _default(QualityParams, "iwm_max_move_frac"),
        gt=0.0,
        le=5.0,
        json_schema_extra=_spec("fraction"),
    )
    vix_max_move_frac: float = Field(
        _default(QualityParams, "vix_max_move_frac"),
        gt=0.0,
        le=20.0,
        json_schema_extra=_spec("fraction; VIX rose 116% on 2018-02-05"),
    )
    rvx_max_move_frac: float = Field(
        _default(QualityParams, "rvx_max_move_frac"),
        gt=0.0,
        le=20.0,
        json_schema_extra=_spec("fraction"),
    )
    vix3m_max_move_frac: float = Field(
        _default(QualityParams, "vix3m_max_move_frac"),
        gt=0.0,
        le=20.0,
        json_schema_extra=_spec("fraction"),
    )
    vx_max_move_frac: float = Field(
        _default(QualityParams, "vx_max_move_frac"),
        gt=0.0,
        le=20.0,
        json_schema_extra=_spec("fraction, VX1 and VX2"),
    )
    confirm_ticks: int = Field(
        _default(QualityParams, "confirm_ticks"),
        ge=2,
        le=50,
        json_schema_extra=_spec("consecutive new consistent prints"),
    )
    confirm_band_frac: float = Field(
        _default(QualityParams, "confirm_band_frac"),
        gt=0.0,
        le=1.0,
        json_schema_extra=_spec("fraction between consecutive suspect prints"),
    )


class SimSection(_Section):
    """``[sim]``: the seeded market simulator (``adapters/sim.py``)."""

    seed: int = Field(7, ge=0)
    session_seconds: float = Field(
        2.0, ge=0.0, le=60.0, json_schema_extra=_spec("wall seconds per session")
    )
    ticks_per_session: int = Field(12, ge=1, le=1000, json_schema_extra=_spec("quotes per symbol"))
    sessions: int = Field(160, ge=20, le=10_000, json_schema_extra=_spec("sessions"))
    start: date = date(2025, 1, 2)


class CalendarSection(_Section):
    """``[calendar]``: the macro-event calendar of SPEC §3 ``event_window``."""

    macro_events: Path = Path("macro_events.csv")
    warn_days: int = Field(60, ge=0, le=365, json_schema_extra=_spec("days"))


# --------------------------------------------------------------------------- settings


class Settings(BaseSettings):
    """The whole configuration, frozen. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="ALVH_",
        env_nested_delimiter="__",
        case_sensitive=False,
        validate_default=True,
    )

    mode: ModeSection = ModeSection()
    signals: SignalsSection = SignalsSection()
    ladder: LadderSection = LadderSection()
    scenario: ScenarioSection = ScenarioSection()
    orders: OrdersSection = OrdersSection()
    condor: CondorSection = CondorSection()
    satellite: SatelliteSection = SatelliteSection()
    accounting: AccountingSection = AccountingSection()
    service: ServiceSection = ServiceSection()
    mqtt: MqttSection = MqttSection()
    journal: JournalSection = JournalSection()
    metrics: MetricsSection = MetricsSection()
    ops: OpsSection = OpsSection()
    ib: IbSection = IbSection()
    replay: ReplaySection = ReplaySection()
    sim: SimSection = SimSection()
    calendar: CalendarSection = CalendarSection()
    quality: QualitySection = QualitySection()

    mqtt_password: Annotated[SecretStr | None, BeforeValidator(_password_or_none)] = None
    """MQTT password: secrets file ``mqtt_password`` (preferred) or env ``ALVH_MQTT_PASSWORD``
    (the one spelling). Surrounding whitespace (a trailing newline) is dropped; an empty
    file (``alvhd init``'s placeholder) means anonymous."""

    _config_path: Path | None = PrivateAttr(default=None)
    _found: paths.FoundConfig | None = PrivateAttr(default=None)
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _cwd: Path = PrivateAttr(default_factory=Path.cwd)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init > env > secrets dir > TOML (no dotenv).

        The TOML path and the secrets directory come from :func:`load_settings` (through
        context variables) or, for a bare ``Settings()``, from the environment/defaults.
        """
        del dotenv_settings, file_secret_settings
        return ordered_sources(
            settings_cls,
            init_settings,
            env_settings,
            toml_path=_toml_path_var.get() or config_path_from_env(),
            secrets_dir=_secrets_dir_var.get() or secrets_dir_from_env(),
        )

    @model_validator(mode="after")
    def _check_accounts(self) -> Self:
        account = self.ib.account
        ladder, signals = self.ladder, self.signals
        if self.mode.paper and account and not account.startswith("DU"):
            raise _cross(
                "ib.account",
                f"{account!r} is not a paper account: paper mode needs an id starting with "
                "'DU' (SPEC §6)",
            )
        if self.mode.live_trading_enabled and account not in self.mode.live_account_allowlist:
            raise _cross(
                "ib.account",
                f"{account!r} is not in mode.live_account_allowlist (live submission needs "
                "the account allow-listed, SPEC §6)",
            )
        if ladder.l2_exit_vix_rsi_below >= signals.vix_rsi_hot:
            raise _cross(
                "ladder.l2_exit_vix_rsi_below",
                f"{ladder.l2_exit_vix_rsi_below} must be < signals.vix_rsi_hot "
                f"({signals.vix_rsi_hot}) (hysteresis, SPEC §4)",
            )
        if ladder.l3_exit_spread_frac >= signals.iv_spread_blowout_frac:
            raise _cross(
                "ladder.l3_exit_spread_frac",
                f"{ladder.l3_exit_spread_frac} must be < signals.iv_spread_blowout_frac "
                f"({signals.iv_spread_blowout_frac}) (hysteresis, SPEC §4)",
            )
        return self

    # ----------------------------------------------------------------- derived values

    @property
    def config_path(self) -> Path | None:
        """The TOML file these settings were read from (``None`` if none was read)."""
        return self._config_path

    @property
    def config_origin(self) -> paths.FoundConfig | None:
        """How the TOML file was found (search step and candidates); ``None`` if not loaded."""
        return self._found

    @property
    def origins(self) -> dict[str, str]:
        """Where each dotted key's value came from (a copy).

        Values: ``default``, ``toml``, ``env ALVH_…``, ``secrets <file>`` or
        ``command line --flag``.
        """
        return dict(self._origins)

    def _resolve_key(self, key: str, path: Path) -> Path:
        """Resolve a configured ``path`` of ``key`` against where it was written.

        Absolute stays; from the TOML (or a relative built-in default) → the TOML file's
        directory; from the command line or the environment → the working directory at
        load time.
        """
        path = path.expanduser()
        if path.is_absolute():
            return path
        origin = self._origins.get(key, "default")
        if origin in ("toml", "default") and self._config_path is not None:
            return (self._config_path.parent / path).resolve()
        return (self._cwd / path).resolve()

    def resolve(self, path: Path) -> Path:
        """Resolve a path relative to the configuration file's directory (absolute stays)."""
        base = self._config_path.parent if self._config_path is not None else self._cwd
        return path if path.is_absolute() else (base / path).resolve()

    def data_file(self, key: str, path: Path) -> Path:
        """Resolve a shipped data file (``calendar.macro_events``, stress windows).

        A relative path is looked up where it was written (see :meth:`_resolve_key`) and,
        when not there, in the packaged defaults, so a TOML copied elsewhere keeps working.

        Raises:
            ConfigError: found in neither place; the message names ``key`` and both paths.
        """
        first = self._resolve_key(key, path)
        if first.is_file():
            return first
        tried = [first]
        if not path.is_absolute():
            packaged = paths.packaged_config_dir() / path
            if packaged.is_file():
                return packaged
            tried.append(packaged)
        where = " or ".join(str(p) for p in tried)
        raise ConfigError(
            f"config error: {key} = {str(path)!r}: file not found (looked for {where}) "
            f"[{self.where(key)}]",
            key=key,
        )

    def where(self, key: str) -> str:
        """Human hint of where ``key`` is set (for error messages)."""
        origin = self._origins.get(key, "default")
        if origin.startswith("command line"):
            return f"given on the {origin}"
        if origin.startswith("env "):
            return f"set by {origin.removeprefix('env ')}"
        toml = self._config_path or DEFAULT_CONFIG_PATH
        return f"set it in {toml} or env {_env_name(key)}"

    @property
    def macro_events_path(self) -> Path:
        """Absolute path of the macro calendar (see :meth:`data_file`).

        Raises:
            ConfigError: the file is missing (message names ``calendar.macro_events``).
        """
        return self.data_file("calendar.macro_events", self.calendar.macro_events)

    def journal_path_for(self, source: str) -> Path:
        """Absolute path of the journal of ``source`` (``sim``, ``replay``, ``ibkr``).

        ``journal.path`` when set (resolved as in :meth:`_resolve_key`), else
        ``<state dir>/journal-<instance>-<source>.sqlite`` (:mod:`daemon.paths`).
        """
        if self.journal.path is not None:
            return self._resolve_key("journal.path", self.journal.path)
        return paths.state_dir() / paths.default_journal_name(source, self.mqtt.instance)

    @property
    def journal_path(self) -> Path:
        """The journal of the service (``--source ibkr``); see :meth:`journal_path_for`."""
        return self.journal_path_for("ibkr")

    @property
    def replay_data_dir(self) -> Path:
        """Absolute directory of the replay CSVs.

        Raises:
            ConfigError: unset and no default (an installed program has no market data).
        """
        if self.replay.data_dir is not None:
            return self._resolve_key("replay.data_dir", self.replay.data_dir)
        default = paths.default_market_dir()
        if default is None:
            raise ConfigError(
                "config error: replay.data_dir is not set: give the directory of the daily "
                "CSVs with --data-dir DIR, env ALVH_REPLAY__DATA_DIR or [replay] data_dir",
                key="replay.data_dir",
            )
        return default

    def to_params(self) -> EngineParams:
        """Build the frozen core parameters, loading and validating the macro calendar.

        Returns:
            ``EngineParams`` with the SPEC §3–§6 sections, the condor template, the
            satellite notional (USD), ``stale_after_s`` and the sorted macro events.

        Raises:
            ConfigError: the macro calendar file is missing or has a bad row (file:line).
        """
        return EngineParams(
            signals=SignalParams(**self.signals.model_dump()),
            ladder=LadderParams(**self.ladder.model_dump()),
            scenario=ScenarioParams(**self.scenario.model_dump()),
            orders=OrderParams(**self.orders.model_dump()),
            condor_template=CondorTemplate(**self.condor.model_dump()),
            quality=QualityParams(**self.quality.model_dump()),
            satellite_notional_usd=self.satellite.notional_usd,
            stale_after_s=self.service.stale_after_s,
            calendar_warn_days=self.calendar.warn_days,
            macro_events=load_macro_events(self.macro_events_path),
            accounting=AccountingParams(**self.accounting.model_dump()),
        )

    def masked_dump(self) -> dict[str, Any]:
        """The effective configuration as JSON-able dict for ``alvhd config``.

        Secrets are shown as ``"**********"`` when set (``None`` when not set); paths,
        dates and tuples become strings and lists.
        """
        data = self.model_dump(mode="json")
        for name, info in type(self).model_fields.items():
            if info.annotation is not None and "SecretStr" in str(info.annotation):
                data[name] = MASK if getattr(self, name) is not None else None
        data["_config_path"] = str(self._config_path) if self._config_path else None
        return data


# --------------------------------------------------------------------------- loading


def config_path_from_env() -> Path:
    """The TOML file the search order picks without ``--config`` (:func:`paths.find_config`)."""
    return paths.find_config().path


def secrets_dir_from_env() -> Path:
    """The secrets directory: ``$ALVH_SECRETS_DIR`` if set, else systemd's credentials dir.

    Under systemd, ``$CREDENTIALS_DIRECTORY`` (set when the unit loads credentials) is used
    when ``$ALVH_SECRETS_DIR`` is not set.
    """
    env = (
        os.environ.get(SECRETS_DIR_ENV, "").strip()
        or os.environ.get("CREDENTIALS_DIRECTORY", "").strip()
    )
    return Path(env).expanduser() if env else DEFAULT_SECRETS_DIR


def setting_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """Every dotted settings key (``ladder.l1_cover_frac``), top-level secrets included."""
    keys: list[str] = []
    for name, info in (model or Settings).model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += setting_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def known_env_names() -> frozenset[str]:
    """Every ``ALVH_*`` name that means something: settings keys, sections, :data:`EXTRA_ENV`."""
    names = set(EXTRA_ENV)
    for key in setting_keys():
        names.add(_env_name(key))
        if "." in key:
            names.add(_env_name(key.split(".")[0]))  # a whole section as JSON
    return frozenset(names)


def check_environment(environ: dict[str, str] | None = None) -> None:
    """Refuse unknown ``ALVH_*`` variables, as unknown TOML keys are refused.

    Args:
        environ: the environment to check (default ``os.environ``).

    Raises:
        ConfigError: an ``ALVH_*`` variable (case-insensitive, as pydantic-settings reads
            them) is neither a setting nor in :data:`EXTRA_ENV` nor ``ALVH_TEST_*``; the
            message names it and the closest known name.
    """
    env = os.environ if environ is None else environ
    known = known_env_names()
    for raw in sorted(env):
        name = raw.upper()
        if not name.startswith("ALVH_") or name in known or name.startswith("ALVH_TEST_"):
            continue
        if name == "ALVH_MQTT__PASSWORD":
            hint = (
                "the MQTT password has one spelling, ALVH_MQTT_PASSWORD (top-level secret), "
                "or better a file mqtt_password in the secrets directory"
            )
        else:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "no setting has that name"
        raise ConfigError(
            f"config error: unknown environment variable {raw}: {hint} "
            "(settings are ALVH_<SECTION>__<KEY>; see `alvhd config`)",
            key=raw,
        )


def _flatten(data: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted keys present in a nested dict (``{"a": {"b": 1}}`` → ``{"a.b"}``)."""
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _origins(
    toml_data: dict[str, Any],
    nested_overrides: dict[str, Any],
    flags: dict[str, str],
    secrets_dir: Path,
) -> dict[str, str]:
    """Where each dotted key comes from, by precedence (init > env > secrets > TOML)."""
    env_upper = {name.upper(): name for name in os.environ}
    from_toml = _flatten(toml_data)
    from_cli = _flatten(nested_overrides)
    origins: dict[str, str] = {}
    for key in setting_keys():
        section = key.split(".")[0]
        if key in from_cli or (section in nested_overrides and "." not in key):
            flag = flags.get(key)
            origins[key] = f"command line {flag}" if flag else "command line"
        elif _env_name(key) in env_upper:
            origins[key] = f"env {env_upper[_env_name(key)]}"
        elif "." in key and _env_name(section) in env_upper:
            origins[key] = f"env {env_upper[_env_name(section)]}"
        elif "." not in key and (secrets_dir / key).is_file():
            origins[key] = f"secrets {secrets_dir / key}"
        elif key in from_toml:
            origins[key] = "toml"
        else:
            origins[key] = "default"
    return origins


def load_settings(
    path: Path | None = None,
    *,
    secrets_dir: Path | None = None,
    flags: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load, merge and validate the configuration.

    Args:
        path: the TOML file (``--config``); ``None`` → the search order of
            :func:`daemon.paths.find_config`.
        secrets_dir: directory of secret files; ``None`` → ``$ALVH_SECRETS_DIR``,
            ``$CREDENTIALS_DIRECTORY`` or ``/run/credentials/alvhd.service``. A missing
            directory is fine.
        flags: dotted key → command-line flag that supplied it (``{"mqtt.port":
            "--mqtt-port"}``), so that an error names the flag.
        **overrides: highest-precedence values, as sections (``ladder={"l1_cover_frac": 0.45}``)
            or dotted keys (``**{"ladder.l1_cover_frac": 0.45}``).

    Returns:
        The frozen ``Settings``.

    Raises:
        ConfigError: the TOML file is missing or unparseable, an ``ALVH_*`` variable is
            unknown, or a value is invalid. The message is one line naming the dotted key
            (or the variable or flag), the bad value and the allowed range.
    """
    check_environment()
    found = paths.find_config(path)
    toml_path = found.path
    try:
        toml_data = read_toml(toml_path)
    except ConfigError as exc:
        raise ConfigError(f"{exc} ({found.origin})") from exc

    secrets = secrets_dir or secrets_dir_from_env()
    nested = nest_dotted(overrides)
    origins = _origins(toml_data, nested, flags or {}, secrets)
    tok_path = _toml_path_var.set(toml_path)
    tok_secrets = _secrets_dir_var.set(secrets)
    try:
        settings = Settings(**nested)
    except ValidationError as exc:
        raise _config_error_from(exc, toml_path, origins) from exc
    except SettingsError as exc:
        raise ConfigError(
            f"config error: {exc} (ALVH_<SECTION>__<KEY> variables: lists must be JSON, "
            "e.g. ALVH_MODE__LIVE_ACCOUNT_ALLOWLIST='[\"U123\"]')"
        ) from exc
    except OSError as exc:  # an unreadable secrets file
        raise ConfigError(f"config error: cannot read a settings source: {exc}") from exc
    finally:
        _toml_path_var.reset(tok_path)
        _secrets_dir_var.reset(tok_secrets)
    settings._config_path = toml_path.resolve()
    settings._found = found
    settings._origins = origins
    settings._cwd = Path.cwd()
    return settings


# --------------------------------------------------------------------------- error messages


def _field_info(loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The ``FieldInfo`` at a pydantic error location, walking the section models."""
    model: Any = Settings
    info: FieldInfo | None = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not isinstance(part, str) or fields is None or part not in fields:
            return info if isinstance(part, int) else None
        info = fields[part]
        model = info.annotation
    return info


def _bounds(info: FieldInfo | None) -> str:
    """Human range of a field from its ``ge/gt/le/lt`` constraints (``"0.4 ≤ x ≤ 0.6"``)."""
    if info is None:
        return ""
    low = high = ""
    for meta in info.metadata:
        for attr, text in (("ge", "≤"), ("gt", "<")):
            if getattr(meta, attr, None) is not None:
                low = f"{getattr(meta, attr)} {text} "
        for attr, text in (("le", "≤"), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                high = f" {text} {getattr(meta, attr)}"
    return f"{low}x{high}" if (low or high) else ""


def _spec_note(info: FieldInfo | None) -> str:
    extra = info.json_schema_extra if info is not None else None
    if isinstance(extra, dict):
        note = extra.get("spec")
        if isinstance(note, str):
            return note
    return ""


def _show(value: Any) -> str:
    """Render a bad input: numbers and booleans bare, strings quoted."""
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return repr(value)
        return value
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPE_WORDS: dict[Any, str] = {
    float: "a number",
    int: "an integer",
    bool: "true or false",
    str: "a string",
    date: "an ISO date YYYY-MM-DD",
    OptionalDate: 'an ISO date YYYY-MM-DD or ""',
    date | None: 'an ISO date YYYY-MM-DD or ""',
    Path: "a path",
}


def _env_name(key: str) -> str:
    return "ALVH_" + key.upper().replace(".", "__")


def _describe(err: ErrorDetails) -> tuple[str, str]:
    """One-line description (and dotted key) of a single pydantic error."""
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    info = _field_info(loc)

    if kind == "cross_field":
        field = str(ctx.get("field", ""))
        if field:
            key = field if "." in field or not key else f"{key}.{field}"
        return key, f"{key}: {ctx.get('message', err['msg'])}"
    if kind == "extra_forbidden":
        parent = _field_info(loc[:-1]) if len(loc) > 1 else None
        model: Any = parent.annotation if parent is not None else Settings
        known = sorted(getattr(model, "model_fields", {}))
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
        return key, f"{key} is not a known key{hint}"

    bound_words = {
        "less_than_equal": ("le", "≤"),
        "less_than": ("lt", "<"),
        "greater_than_equal": ("ge", "≥"),
        "greater_than": ("gt", ">"),
    }
    if kind in bound_words:
        attr, sign = bound_words[kind]
        rng = _bounds(info)
        spec = _spec_note(info)
        extra = "; ".join(part for part in (f"allowed {rng}" if rng else "", spec) if part)
        suffix = f" ({extra})" if extra else ""
        return (
            key,
            f"{key} = {_show(value)} is out of range: must be {sign} {ctx.get(attr)}{suffix}",
        )
    if kind == "missing":
        return key, f"{key} is required"
    annotation = getattr(info, "annotation", None) if info is not None else None
    type_name = _TYPE_WORDS.get(annotation, "") if annotation is not None else ""
    type_hint = f" (expected {type_name})" if type_name else ""
    return key, f"{key} = {_show(value)} is invalid: {err['msg']}{type_hint}"


def _config_error_from(
    exc: ValidationError, toml_path: Path, origins: dict[str, str] | None = None
) -> ConfigError:
    """Format a pydantic ``ValidationError`` as one ``ConfigError`` line (first error first).

    The hint in brackets says where to fix it: the command-line flag or the environment
    variable that supplied the value, else the TOML file or the variable to set.
    """
    errors = exc.errors(include_url=False)
    key, text = _describe(errors[0])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    origin = (origins or {}).get(key, "")
    if origin.startswith("command line"):
        where = f" [given on the {origin}]"
    elif origin.startswith("env "):
        where = f" [set by {origin.removeprefix('env ')}]"
    elif key:
        where = f" [set in {toml_path} or env {_env_name(key)}]"
    else:
        where = ""
    return ConfigError(f"config error: {text}{more}{where}", key=key or None)


# --------------------------------------------------------------------------- macro calendar


def load_macro_events(path: Path) -> tuple[MacroEvent, ...]:
    """Read and validate the macro calendar CSV (``date,kind,note``; SPEC §3 ``event_window``).

    Rules: header exactly ``date,kind,note``; ISO dates on weekdays; ``kind`` one of
    FOMC/CPI/PPI; rows sorted by date; no duplicate (date, kind); at least one row.

    Args:
        path: the CSV file.

    Returns:
        The events, sorted by day.

    Raises:
        ConfigError: missing file, bad header, or a bad row (message names ``file:line``).
    """
    if not path.is_file():
        raise ConfigError(
            f"config error: macro calendar not found: {path}", key="calendar.macro_events"
        )
    events: list[MacroEvent] = []
    seen: set[tuple[date, MacroEventKind]] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != _MACRO_HEADER:
            raise ConfigError(
                f"config error: {path}:1: header must be 'date,kind,note', got {header!r}",
                key="calendar.macro_events",
            )
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            events.append(
                _parse_macro_row(path, line, row, events[-1].day if events else None, seen)
            )
    if not events:
        raise ConfigError(
            f"config error: {path}: macro calendar has no events", key="calendar.macro_events"
        )
    return tuple(events)


def _parse_macro_row(
    path: Path,
    line: int,
    row: list[str],
    previous: date | None,
    seen: set[tuple[date, MacroEventKind]],
) -> MacroEvent:
    """Validate one calendar row (helper of :func:`load_macro_events`)."""

    def bad(why: str) -> ConfigError:
        return ConfigError(
            f"config error: {path}:{line}: {why}: {','.join(row)!r}", key="calendar.macro_events"
        )

    if len(row) not in (2, 3):
        raise bad("expected 3 columns date,kind,note")
    try:
        day = date.fromisoformat(row[0].strip())
    except ValueError:
        raise bad("date is not ISO YYYY-MM-DD") from None
    if day.weekday() >= 5:  # Saturday=5, Sunday=6
        raise bad("date falls on a weekend")
    try:
        kind = MacroEventKind(row[1].strip())
    except ValueError:
        raise bad(f"kind must be one of {', '.join(k.value for k in MacroEventKind)}") from None
    if previous is not None and day < previous:
        raise bad(f"rows must be sorted by date ({day} after {previous})")
    if (day, kind) in seen:
        raise bad("duplicate event")
    seen.add((day, kind))
    note = row[2].strip() if len(row) == 3 else ""
    return MacroEvent(day=day, kind=kind, note=note)
