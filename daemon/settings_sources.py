"""What the daemon's and the bridge's settings share: source order, TOML reading, overrides.

``alvhd`` (:mod:`daemon.settings`) and ``alvhd bridge`` (:mod:`daemon.bridge.settings`)
are separate processes with separate config files, but they load them the same way:
keyword overrides > environment > secrets directory (systemd ``LoadCredential=``) > the
TOML file, no dotenv. pydantic-settings does the merging; this module only orders its
sources (pydantic-settings docs, "Customise settings sources") and turns the failures
into one-line ``ConfigError`` messages (exit 78).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

from daemon.errors import ConfigError


def ordered_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    *,
    toml_path: Path,
    secrets_dir: Path,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of a ``settings_customise_sources``, highest precedence first.

    Args:
        settings_cls: the settings class being built.
        init_settings: keyword arguments (CLI flags, test overrides).
        env_settings: the class's environment source (its ``env_prefix``).
        toml_path: the TOML file (read by ``TomlConfigSettingsSource``).
        secrets_dir: one file per secret field, named after the field (``mqtt_password``);
            skipped when the directory does not exist.

    Returns:
        ``(init, env[, secrets], toml)``.
    """
    sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
    if secrets_dir.is_dir():
        # env_prefix="" → the credential file is named after the field ("mqtt_password").
        sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir, env_prefix=""))
    sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
    return tuple(sources)


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """Parse a TOML config file.

    Args:
        path: the file.
        what: how the message names it (``"config file"``, ``"bridge config file"``).

    Returns:
        The parsed document.

    Raises:
        ConfigError: the file is missing, unreadable or not valid TOML (one line, with the
            path and the parser's position).
    """
    if not path.is_file():
        raise ConfigError(f"config error: {what} not found: {path}")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error: cannot parse {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config error: cannot read {path}: {exc}") from exc


def nest_dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted (or ``__``-joined) override keys into nested dicts.

    ``{"ladder.l1_cover_frac": 0.45, "mqtt": {"port": 1884}}`` →
    ``{"ladder": {"l1_cover_frac": 0.45}, "mqtt": {"port": 1884}}``; a section given both
    ways is merged.

    Raises:
        ConfigError: a key uses a scalar as a section (``{"a": 1, "a.b": 2}``).
    """
    nested: dict[str, Any] = {}
    for raw_key, value in overrides.items():
        parts = raw_key.replace("__", ".").split(".")
        node = nested
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"config error: override {raw_key!r} conflicts with {part!r}", key=raw_key
                )
            node = child
        last = node.get(parts[-1])
        if isinstance(last, dict) and isinstance(value, dict):
            last.update(value)
        else:
            node[parts[-1]] = value
    return nested
