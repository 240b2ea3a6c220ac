"""Where alvhd finds its configuration and data files, and where it keeps its state.

Two layouts are supported, decided once per process by :func:`checkout_root`:

* **Installed** (a wheel in a virtual environment): the configuration is searched in this
  order, the first existing file wins (:func:`find_config`):

  1. ``--config PATH`` on the command line,
  2. ``$ALVH_CONFIG``,
  3. ``$XDG_CONFIG_HOME/alvhd/alvhd.toml`` (``~/.config/alvhd/alvhd.toml`` when unset),
  4. ``/etc/alvhd/alvhd.toml``,
  5. the packaged defaults (``daemon/_config/alvhd.toml`` inside the wheel).

  State (the journals) lives in ``$STATE_DIRECTORY`` when systemd sets it (``StateDirectory=``),
  else in ``$XDG_STATE_HOME/alvhd`` (``~/.local/state/alvhd`` when unset).

* **Developer checkout** (the ``daemon`` package imported from a clone, i.e. its parent
  directory holds ``pyproject.toml`` and ``config/alvhd.toml``): steps 3 and 4 are skipped,
  so the repo's ``config/alvhd.toml`` is the default, as ``make demo``/``make test`` expect,
  whatever is installed on the machine; state lives in ``<repo>/var/`` (git-ignored), and the
  replay data defaults to ``<repo>/../shared/data/market``. ``$STATE_DIRECTORY`` still wins.

The XDG variables follow the XDG Base Directory specification (an unset or relative value
is ignored and the spec's default used), read directly rather than through a library.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed ``daemon`` package directory."""

CONFIG_ENV = "ALVH_CONFIG"
"""Environment variable naming the TOML file (step 2 of the search)."""

ETC_CONFIG = Path("/etc/alvhd/alvhd.toml")
"""System-wide configuration file (step 4 of the search)."""

CONFIG_NAME = "alvhd.toml"


def checkout_root() -> Path | None:
    """The repository root when running from a developer checkout, else ``None``.

    A checkout is recognised by the parent of the ``daemon`` package holding both
    ``pyproject.toml`` and ``config/alvhd.toml`` (a wheel installs ``daemon`` into
    ``site-packages``, which holds neither).
    """
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "config" / CONFIG_NAME).is_file():
        return root
    return None


def packaged_config_dir() -> Path:
    """Directory of the shipped defaults: ``<repo>/config`` or ``daemon/_config`` (wheel).

    ``pyproject.toml`` force-includes ``config/`` as ``daemon/_config`` in the wheel; it
    holds ``alvhd.toml``, ``macro_events.csv`` and ``stress_windows.csv``.
    """
    root = checkout_root()
    return root / "config" if root is not None else PACKAGE_DIR / "_config"


def packaged_systemd_dir() -> Path:
    """Directory of the shipped systemd units: ``<repo>/systemd`` or ``daemon/_systemd``."""
    root = checkout_root()
    return root / "systemd" if root is not None else PACKAGE_DIR / "_systemd"


def _xdg_dir(env_name: str, fallback: Path) -> Path:
    """An XDG base directory: ``$env_name`` if set to an absolute path, else ``fallback``."""
    value = os.environ.get(env_name, "").strip()
    if value and Path(value).is_absolute():
        return Path(value)
    return fallback


def xdg_config_home() -> Path:
    """``$XDG_CONFIG_HOME`` or ``~/.config`` (XDG Base Directory spec)."""
    return _xdg_dir("XDG_CONFIG_HOME", Path.home() / ".config")


def xdg_state_home() -> Path:
    """``$XDG_STATE_HOME`` or ``~/.local/state`` (XDG Base Directory spec)."""
    return _xdg_dir("XDG_STATE_HOME", Path.home() / ".local" / "state")


def user_config_path() -> Path:
    """Per-user configuration file: ``$XDG_CONFIG_HOME/alvhd/alvhd.toml``."""
    return xdg_config_home() / "alvhd" / CONFIG_NAME


class ConfigOrigin(StrEnum):
    """Which step of the search order supplied the TOML file."""

    FLAG = "--config"
    ENV = "$ALVH_CONFIG"
    USER = "$XDG_CONFIG_HOME"
    SYSTEM = "/etc/alvhd"
    PACKAGED = "packaged defaults"
    CHECKOUT = "repository checkout"


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundConfig:
    """The TOML file to read and why it was chosen.

    Attributes:
        path: the file (may not exist for ``FLAG``/``ENV``: the loader then refuses it).
        origin: the search step that chose it.
        searched: every candidate looked at, in order (for ``alvhd config``).
    """

    path: Path
    origin: ConfigOrigin
    searched: tuple[Path, ...]


def find_config(explicit: Path | None = None) -> FoundConfig:
    """Apply the configuration search order (module docstring).

    An explicit ``--config`` or ``$ALVH_CONFIG`` is returned even when the file is missing,
    so that the loader can refuse it by name (a typo must not fall back silently).

    Args:
        explicit: the ``--config`` value, if given.

    Returns:
        The chosen file with its origin and the candidates searched.
    """
    if explicit is not None:
        path = explicit.expanduser()
        return FoundConfig(path=path, origin=ConfigOrigin.FLAG, searched=(path,))
    env = os.environ.get(CONFIG_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        return FoundConfig(path=path, origin=ConfigOrigin.ENV, searched=(path,))
    root = checkout_root()
    if root is not None:
        path = root / "config" / CONFIG_NAME
        return FoundConfig(path=path, origin=ConfigOrigin.CHECKOUT, searched=(path,))
    searched: list[Path] = []
    for candidate, origin in (
        (user_config_path(), ConfigOrigin.USER),
        (ETC_CONFIG, ConfigOrigin.SYSTEM),
    ):
        searched.append(candidate)
        if candidate.is_file():
            return FoundConfig(path=candidate, origin=origin, searched=tuple(searched))
    packaged = packaged_config_dir() / CONFIG_NAME
    searched.append(packaged)
    return FoundConfig(path=packaged, origin=ConfigOrigin.PACKAGED, searched=tuple(searched))


def state_dir() -> Path:
    """Directory of the journals (created by the daemon when missing).

    ``$STATE_DIRECTORY`` (systemd ``StateDirectory=``; the first entry if it lists
    several), else ``<repo>/var`` in a checkout, else ``$XDG_STATE_HOME/alvhd``.
    """
    systemd = os.environ.get("STATE_DIRECTORY", "").strip()
    if systemd:
        return Path(systemd.split(":")[0])
    root = checkout_root()
    if root is not None:
        return root / "var"
    return xdg_state_home() / "alvhd"


def default_journal_name(source: str, instance: str) -> str:
    """File name of a source's default journal: ``journal-<instance>-<source>.sqlite``.

    Each source (and MQTT instance) gets its own file, so a replay never restores into a
    simulator run or the live service (issue 6 §6).
    """
    return f"journal-{instance}-{source}.sqlite"


def default_market_dir() -> Path | None:
    """Default replay data directory: ``<repo>/../shared/data/market`` in a checkout, else None."""
    root = checkout_root()
    return None if root is None else root.parent / "shared" / "data" / "market"
