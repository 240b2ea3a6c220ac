"""Validated configuration of ``alvhd bridge``, mirroring ``config/bridge.toml``.

A separate pydantic-settings model from the daemon's ``Settings`` (the bridge is its own
process, its own unit, its own config file). Sources, highest precedence first:

1. keyword overrides (``load_bridge_settings(**overrides)``, CLI flags),
2. environment ``ALVH_BRIDGE__<KEY>`` and ``ALVH_BRIDGE__<SECTION>__<KEY>``
   (e.g. ``ALVH_BRIDGE__DAEMON_SILENCE_S=120``, ``ALVH_BRIDGE__MQTT__PORT=8883``; lists
   such as ``ALVH_BRIDGE__TARGETS`` are JSON),
3. the secrets directory (systemd ``LoadCredential=`` → ``/run/credentials/alvhd-bridge.service``
   or ``$ALVH_SECRETS_DIR``): ``mqtt_password``, and one file per target URL named by
   the target's ``url_secret``,
4. the TOML file (``$ALVH_BRIDGE_CONFIG`` or ``<repo>/config/bridge.toml``).

Keys are written ``bridge.<key>`` in the docs; in ``bridge.toml`` they sit at the top
level, with ``[mqtt]``, ``[metrics]`` and one ``[[targets]]`` table per destination.
Every failure becomes one ``ConfigError`` line naming the key (exit 78).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.bridge.messages import KNOWN_KINDS, SEVERITY_RANK
from daemon.errors import ConfigError
from daemon.settings_sources import nest_dotted, ordered_sources, read_toml

REPO_ROOT = Path(__file__).resolve().parents[2]
_REPO_CONFIG = REPO_ROOT / "config" / "bridge.toml"
_WHEEL_CONFIG = Path(__file__).resolve().parents[1] / "_config" / "bridge.toml"
DEFAULT_BRIDGE_CONFIG = (
    _REPO_CONFIG if _REPO_CONFIG.is_file() or not _WHEEL_CONFIG.is_file() else _WHEEL_CONFIG
)
"""``<repo>/config/bridge.toml`` in a checkout, ``daemon/_config/bridge.toml`` in the wheel."""
DEFAULT_BRIDGE_SECRETS_DIR = Path("/run/credentials/alvhd-bridge.service")
"""systemd ``LoadCredential=`` directory of ``alvhd-bridge.service``."""
BRIDGE_CONFIG_ENV = "ALVH_BRIDGE_CONFIG"
SECRETS_DIR_ENV = "ALVH_SECRETS_DIR"
ENV_PREFIX = "ALVH_BRIDGE__"

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_TOPIC_PART = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")

_toml_path_var: ContextVar[Path | None] = ContextVar("bridge_toml_path", default=None)
_secrets_dir_var: ContextVar[Path | None] = ContextVar("bridge_secrets_dir", default=None)


def _cross(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("cross_field", "{message}", {"field": field, "message": message})


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BridgeMqttSection(_Section):
    """``[mqtt]``: the broker the bridge subscribes to (same tree as the daemon's).

    ``tls_ca_file`` switches TLS on (server certificate checked against that CA, and its
    host name against ``host``); ``tls_cert_file``/``tls_key_file`` add a client
    certificate. The password is the secret ``mqtt_password``.
    """

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("alvhd", pattern=_TOPIC_PART.pattern)
    client_id: str = Field("alvhd-bridge", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    username: str = ""
    keepalive_s: int = Field(30, ge=5, le=3600)
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @field_validator("tls_ca_file", "tls_cert_file", "tls_key_file", mode="before")
    @classmethod
    def _empty_path(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        check_tls_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
        return self


def check_tls_files(ca: Path | None, cert: Path | None, key: Path | None) -> None:
    """Validate a TLS file triple (shared by the daemon's and the bridge's ``[mqtt]``).

    Raises:
        PydanticCustomError: a file is missing or unreadable, or a client cert/key is
            given without a CA file, or one of cert/key without the other.
    """
    for name, path in (("tls_ca_file", ca), ("tls_cert_file", cert), ("tls_key_file", key)):
        if path is not None and not path.is_file():
            raise _cross(name, f"{path} is not a readable file")
    if (cert is None) != (key is None):
        raise _cross("tls_cert_file", "tls_cert_file and tls_key_file go together")
    if cert is not None and ca is None:
        raise _cross("tls_ca_file", "a client certificate needs tls_ca_file (TLS) too")


class MetricsSection(_Section):
    """``[metrics]``: the Prometheus endpoint (``0`` = off); loopback by default."""

    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)


class TargetSection(_Section):
    """One ``[[targets]]`` entry: an Apprise URL and what it receives.

    A message passes when its kind is not in ``exclude_kinds`` and either its severity is
    at least ``min_severity`` or its kind is listed in ``kinds``. Example, a phone:
    ``min_severity = "critical"``, ``kinds = ["layer_activated", "layer_deactivated",
    "order_proposed"]``; Slack: ``min_severity = "info"`` (everything).
    """

    name: str = Field(pattern=_NAME.pattern)
    url: SecretStr | None = None
    """Apprise URL (``ntfy://``, ``ntfys://``, ``slack://``, ``pover://``, ``tgram://`` …)."""
    url_secret: str = ""
    """Or: the name of a file in the secrets directory that holds the URL."""
    min_severity: str = "info"
    kinds: tuple[str, ...] = ()
    exclude_kinds: tuple[str, ...] = ()
    rate_limit_count: int = Field(0, ge=0, le=10_000)
    """Messages per ``rate_limit_window_s`` (0 = no limit); the excess becomes one digest."""
    rate_limit_window_s: float = Field(60.0, gt=0, le=86_400)
    quiet_start: time | None = None
    quiet_end: time | None = None
    quiet_tz: str = "UTC"

    @field_validator("quiet_start", "quiet_end", mode="before")
    @classmethod
    def _empty_time(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("min_severity")
    @classmethod
    def _check_severity(cls, value: str) -> str:
        if value not in SEVERITY_RANK:
            raise ValueError(f"must be one of {', '.join(SEVERITY_RANK)}")
        return value

    @field_validator("kinds", "exclude_kinds")
    @classmethod
    def _check_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [k for k in value if k not in KNOWN_KINDS]
        if unknown:
            raise ValueError(f"unknown kind(s) {unknown}; known: {', '.join(sorted(KNOWN_KINDS))}")
        return value

    @field_validator("quiet_tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (IANA name, e.g. Europe/Paris)") from exc
        return value

    @model_validator(mode="after")
    def _check_target(self) -> Self:
        if (self.url is None) == (not self.url_secret):
            raise _cross("url", "give exactly one of url or url_secret")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise _cross("quiet_start", "quiet_start and quiet_end go together")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise _cross("quiet_end", "quiet_end must differ from quiet_start")
        return self


class BridgeSettings(BaseSettings):
    """The bridge's configuration, frozen. Build it with :func:`load_bridge_settings`."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        validate_default=True,
    )

    instances: tuple[str, ...] = ("default",)
    """Daemon instances whose silence is watched (others are followed but not expected)."""
    daemon_silence_s: float = Field(90.0, ge=5.0, le=86_400.0)
    """No status/heartbeat for this long (by arrival and by its ``ts``) = the daemon is down."""
    link_base_url: str = ""
    """If set, every message links to ``<link_base_url>/<instance>/<decision_id>``."""
    outbox_path: Path = Path("var/alvhd-bridge.sqlite")
    max_age_s: float = Field(86_400.0, ge=60.0, le=30 * 86_400.0)
    """An undelivered message older than this is dropped (with a log line)."""
    retry_initial_s: float = Field(1.0, gt=0, le=600)
    retry_max_s: float = Field(60.0, gt=0, le=3600)
    send_timeout_s: float = Field(15.0, ge=1.0, le=300.0)
    mqtt: BridgeMqttSection = BridgeMqttSection()
    metrics: MetricsSection = MetricsSection()
    targets: tuple[TargetSection, ...] = ()

    mqtt_password: SecretStr | None = None

    _config_path: Path | None = PrivateAttr(default=None)
    _secrets_dir: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init > env > secrets dir > TOML (no dotenv)."""
        del dotenv_settings, file_secret_settings
        return ordered_sources(
            settings_cls,
            init_settings,
            env_settings,
            toml_path=_toml_path_var.get() or bridge_config_path_from_env(),
            secrets_dir=_secrets_dir_var.get() or bridge_secrets_dir_from_env(),
        )

    @field_validator("instances")
    @classmethod
    def _check_instances(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"instance {name!r} must match {_NAME.pattern}")
        return value

    @model_validator(mode="after")
    def _check_bridge(self) -> Self:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise _cross("targets", f"target names must be unique: {names}")
        if self.retry_initial_s > self.retry_max_s:
            raise _cross("retry_initial_s", "retry_initial_s must be ≤ retry_max_s")
        if self.link_base_url and not re.match(r"^https?://", self.link_base_url):
            raise _cross("link_base_url", "must start with http:// or https://")
        return self

    @property
    def config_path(self) -> Path | None:
        """The TOML file read (``None`` before loading)."""
        return self._config_path

    @property
    def outbox_file(self) -> Path:
        """Absolute outbox path (relative paths are taken from the repository root)."""
        path = self.outbox_path
        return path if path.is_absolute() else (REPO_ROOT / path).resolve()

    def target_url(self, target: TargetSection) -> str:
        """The Apprise URL of ``target`` (from the TOML/env or its secrets file).

        Raises:
            ConfigError: the ``url_secret`` file is missing or empty.
        """
        if target.url is not None:
            return target.url.get_secret_value()
        secrets = self._secrets_dir or bridge_secrets_dir_from_env()
        path = secrets / target.url_secret
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"config error: targets[{target.name}].url_secret: cannot read {path}: {exc}",
                key="targets.url_secret",
            ) from exc
        if not text:
            raise ConfigError(
                f"config error: targets[{target.name}].url_secret: {path} is empty",
                key="targets.url_secret",
            )
        return text

    def masked_dump(self) -> dict[str, Any]:
        """JSON-able effective configuration with URLs and the password masked."""
        data = self.model_dump(mode="json")
        data["mqtt_password"] = "**********" if self.mqtt_password else None
        for t in data["targets"]:
            if t.get("url"):
                t["url"] = mask_url(str(t["url"]))
        return data


def mask_url(url: str) -> str:
    """``ntfys://user:pw@host/topic`` → ``ntfys://host/…``: scheme and host only."""
    match = re.match(r"^([A-Za-z0-9+.-]+)://(?:[^@/]*@)?([^/?]*)", url)
    if match is None:
        return "**********"
    return f"{match.group(1)}://{match.group(2)}/…"


def bridge_config_path_from_env() -> Path:
    """``$ALVH_BRIDGE_CONFIG`` if set, else ``<repo>/config/bridge.toml``."""
    env = os.environ.get(BRIDGE_CONFIG_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_BRIDGE_CONFIG


def bridge_secrets_dir_from_env() -> Path:
    """``$ALVH_SECRETS_DIR`` if set, else systemd's credentials dir of the bridge unit."""
    env = os.environ.get(SECRETS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_BRIDGE_SECRETS_DIR


def load_bridge_settings(
    path: Path | None = None, *, secrets_dir: Path | None = None, **overrides: Any
) -> BridgeSettings:
    """Load, merge and validate the bridge configuration.

    Args:
        path: the TOML file; ``None`` → ``$ALVH_BRIDGE_CONFIG`` or ``config/bridge.toml``.
        secrets_dir: secrets directory; ``None`` → ``$ALVH_SECRETS_DIR`` or systemd's.
        **overrides: dotted keys (``**{"mqtt.port": 1884}``), highest precedence.

    Returns:
        The frozen ``BridgeSettings``.

    Raises:
        ConfigError: missing/unparseable TOML or an invalid value; one line that names
            the key, the value and where to set it (exit 78).
    """
    toml_path = (path or bridge_config_path_from_env()).expanduser()
    read_toml(toml_path, "bridge config file")
    secrets = secrets_dir or bridge_secrets_dir_from_env()
    tok_path = _toml_path_var.set(toml_path)
    tok_secrets = _secrets_dir_var.set(secrets)
    try:
        settings = BridgeSettings(**nest_dotted(overrides))
    except ValidationError as exc:
        raise _config_error(exc, toml_path) from exc
    except SettingsError as exc:
        raise ConfigError(
            f"config error: {exc} (ALVH_BRIDGE__ lists such as TARGETS must be JSON)"
        ) from exc
    finally:
        _toml_path_var.reset(tok_path)
        _secrets_dir_var.reset(tok_secrets)
    settings._config_path = toml_path.resolve()
    settings._secrets_dir = secrets
    for target in settings.targets:
        settings.target_url(target)  # a missing url_secret file is a config error now
    return settings


def _config_error(exc: ValidationError, toml_path: Path) -> ConfigError:
    """One line: ``bridge.<key> = <value> is invalid: <why> [set in … or env …]``."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    parts = [str(p) for p in err["loc"]]
    ctx = dict(err.get("ctx") or {})
    if err["type"] == "cross_field" and ctx.get("field"):
        parts.append(str(ctx["field"]))
    key = ".".join(parts)
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    value = err.get("input")
    shown = (
        ""
        if err["type"] in {"cross_field", "missing"} or isinstance(value, dict)
        else (f" = {value!r}")
    )
    if err["type"] == "extra_forbidden":
        why = "is not a known key"
    else:
        why = f"is invalid: {ctx.get('message') or err['msg']}"
    env_parts: list[str] = []
    for p in parts:
        if p.isdigit():
            break
        env_parts.append(p.upper())
    env = ENV_PREFIX + "__".join(env_parts)
    return ConfigError(
        f"config error: bridge.{key}{shown} {why}{more} [set in {toml_path} or env {env}]",
        key=f"bridge.{key}",
    )
