"""``alvhd init``: the files an operator needs to run an installed alvhd, never overwritten.

One source of truth for the configuration reference: the packaged ``alvhd.toml``, whose
every key line reads ``key = default   # unit, source and allowed range``. From it come

* the commented starter config :func:`starter_toml` (every key commented out, so the
  built-in defaults apply until the operator un-comments one),
* the README's configuration table :func:`readme_table` (``tests/unit/test_install.py``
  checks that the README holds exactly this table; regenerate it with
  ``uv run python -m daemon.install``),
* the environment template :func:`env_template` (``ALVH_<SECTION>__<KEY>`` lines).

``--systemd`` also writes every shipped unit (``systemd/*.service``, packaged as
``daemon/_systemd``) with its paths filled in: the shipped units name the conventional
locations :data:`SHIPPED_EXECUTABLE` and :data:`SHIPPED_PREFIX`, which are replaced by
the running ``alvhd`` executable and the chosen prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from daemon import paths

SHIPPED_EXECUTABLE = "/opt/alvhd/.venv/bin/alvhd"
"""``ExecStart=`` program in the shipped units (the README's install location)."""
SHIPPED_PREFIX = "/etc/alvhd"
"""Configuration directory named by the shipped units (config, env file, credentials)."""

EXIT_CANTCREAT = 73
"""sysexits.h EX_CANTCREAT: ``alvhd init`` refuses to overwrite an existing file."""

_KEY_LINE = re.compile(r"^(?P<key>[a-z0-9_]+)\s*=\s*(?P<value>.+?)\s+#\s?(?P<doc>.*)$")
_SECTION = re.compile(r"^\[(?P<name>[a-z0-9_]+)\]\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigKey:
    """One documented key of the packaged TOML.

    Attributes:
        key: dotted name, e.g. ``ladder.l1_cover_frac``.
        default: the TOML literal of the default (``0.50``, ``"DAY"``, ``[]``).
        doc: unit, source and allowed range, as written after ``#``.
    """

    key: str
    default: str
    doc: str


def packaged_toml_text() -> str:
    """The packaged ``alvhd.toml`` (the defaults and their documentation)."""
    return (paths.packaged_config_dir() / paths.CONFIG_NAME).read_text(encoding="utf-8")


def config_keys(text: str | None = None) -> list[ConfigKey]:
    """Every ``key = value  # doc`` line of the TOML ``text``, in file order.

    Args:
        text: TOML source; default the packaged file.
    """
    keys: list[ConfigKey] = []
    section = ""
    for line in (packaged_toml_text() if text is None else text).splitlines():
        if match := _SECTION.match(line):
            section = match["name"]
        elif (match := _KEY_LINE.match(line)) and section:
            keys.append(
                ConfigKey(
                    key=f"{section}.{match['key']}",
                    default=match["value"].strip(),
                    doc=match["doc"].strip(),
                )
            )
    return keys


def readme_table(text: str | None = None) -> str:
    """The README's configuration reference table (Markdown), one row per key."""
    rows = ["| key | default | unit, source and allowed range |", "|---|---|---|"]
    for k in config_keys(text):
        doc = k.doc.replace("|", "\\|")
        rows.append(f"| `{k.key}` | `{k.default}` | {doc} |")
    return "\n".join(rows)


_STARTER_HEADER = """\
# alvhd starter configuration, written by `alvhd init`.
#
# Every key is listed with its default, unit, source and allowed range; all are commented
# out, so the built-in defaults apply. Un-comment and edit what you need. Unknown keys and
# out-of-range values are refused (exit 78) with the key named. `alvhd config` prints the
# effective values and where each came from.
#
# Precedence, highest first: command-line flags, ALVH_<SECTION>__<KEY> environment
# variables (e.g. from the env file beside this one), the secrets directory
# (mqtt_password), this file, the built-in defaults. Relative paths in this file are
# relative to this file's directory.
"""


def starter_toml(text: str | None = None) -> str:
    """A commented starter config: the packaged TOML with every key line commented out.

    Section headers stay, so un-commenting a key line is all an edit needs; the result
    loads as the built-in defaults.
    """
    out = [_STARTER_HEADER]
    body = packaged_toml_text() if text is None else text
    started = False
    for line in body.splitlines():
        if _SECTION.match(line):
            started = True
        if not started:
            continue  # the packaged file's own header
        out.append(f"# {line}" if _KEY_LINE.match(line) else line)
    return "\n".join(out) + "\n"


def env_template() -> str:
    """An environment file template (``EnvironmentFile=``), every variable commented out."""
    lines = [
        "# alvhd environment, written by `alvhd init`: ALVH_<SECTION>__<KEY>=value overrides",
        '# the TOML. Lists are JSON, e.g. ALVH_MODE__LIVE_ACCOUNT_ALLOWLIST=["U1234567"].',
        "# NO SECRETS HERE: the MQTT password goes in credentials/mqtt_password.",
        "# Unknown ALVH_* names are refused (exit 78) with a did-you-mean.",
    ]
    section = ""
    for k in config_keys():
        name, key = k.key.split(".", 1)
        if name != section:
            section = name
            lines.append(f"\n# [{name}]")
        value = k.default[1:-1] if k.default.startswith('"') else k.default
        env = "ALVH_" + k.key.upper().replace(".", "__")
        lines.append(f"# {env}={value}")
        del key
    return "\n".join(lines) + "\n"


def alvhd_executable() -> Path:
    """Absolute path of the running ``alvhd`` console script (for ``ExecStart=``)."""
    beside = Path(sys.executable).with_name("alvhd")
    if beside.is_file():
        return beside
    found = shutil.which("alvhd")
    return Path(found).absolute() if found else beside


def default_prefix() -> Path:
    """``/etc/alvhd`` for root, else ``$XDG_CONFIG_HOME/alvhd``."""
    if os.geteuid() == 0:
        return Path(SHIPPED_PREFIX)
    return paths.xdg_config_home() / "alvhd"


def unit_files() -> list[Path]:
    """Every shipped systemd unit (``*.service``), sorted by name."""
    return sorted(paths.packaged_systemd_dir().glob("*.service"))


def fill_unit(text: str, *, prefix: Path, executable: Path) -> str:
    """A shipped unit with its paths replaced in its settings (comments stay as shipped)."""
    lines = [
        line
        if line.lstrip().startswith(("#", ";"))
        else line.replace(SHIPPED_EXECUTABLE, str(executable)).replace(SHIPPED_PREFIX, str(prefix))
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitPlan:
    """What ``alvhd init`` writes: path → (content, mode); directories → mode."""

    prefix: Path
    files: dict[Path, tuple[str, int]]
    dirs: dict[Path, int]
    executable: Path


def plan(prefix: Path, *, with_systemd: bool, executable: Path | None = None) -> InitPlan:
    """The files of ``alvhd init`` under ``prefix`` (nothing written yet).

    Layout: ``alvhd.toml`` (0644), ``alvhd.env`` (0640), ``credentials/`` (0700) with an
    empty ``mqtt_password`` (0600, empty = anonymous), and with ``with_systemd`` the units
    under ``systemd/`` (0644).
    """
    prefix = prefix.expanduser().absolute()
    creds = prefix / "credentials"
    files: dict[Path, tuple[str, int]] = {
        prefix / paths.CONFIG_NAME: (starter_toml(), 0o644),
        prefix / "alvhd.env": (env_template(), 0o640),
        creds / "mqtt_password": ("", 0o600),
    }
    dirs = {prefix: 0o755, creds: 0o700}
    exe = executable or alvhd_executable()
    if with_systemd:
        dirs[prefix / "systemd"] = 0o755
        for unit in unit_files():
            text = fill_unit(unit.read_text(encoding="utf-8"), prefix=prefix, executable=exe)
            files[prefix / "systemd" / unit.name] = (text, 0o644)
    return InitPlan(prefix=prefix, files=files, dirs=dirs, executable=exe)


def existing(p: InitPlan) -> list[Path]:
    """Files of the plan that already exist (``alvhd init`` then writes nothing)."""
    return [path for path in p.files if path.exists() or path.is_symlink()]


def write(p: InitPlan) -> list[Path]:
    """Create the directories and files of ``p``; never overwrites.

    Returns:
        The files written.

    Raises:
        FileExistsError: a file appeared meanwhile (opened with ``O_EXCL``).
    """
    for directory, mode in p.dirs.items():
        existed = directory.is_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=mode)
        if not existed or mode == 0o700:  # the secrets directory is always made private
            directory.chmod(mode)
    written: list[Path] = []
    for path, (content, mode) in p.files.items():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        path.chmod(mode)  # O_CREAT's mode is filtered by the umask
        written.append(path)
    return written


def next_commands(p: InitPlan, *, with_systemd: bool) -> list[str]:
    """The three commands an operator runs after ``alvhd init``."""
    toml = p.prefix / paths.CONFIG_NAME
    if with_systemd:
        return [
            f"sudo cp {p.prefix}/systemd/*.service /etc/systemd/system/ && "
            "sudo systemctl daemon-reload",
            "sudo systemctl enable --now alvhd",
            f"sudo {p.executable} --config {toml} status",
        ]
    return [
        f"$EDITOR {toml}   # [ib] and [mqtt]; the MQTT password goes in "
        f"{p.prefix}/credentials/mqtt_password",
        f"{p.executable} --config {toml} config",
        f"ALVH_SECRETS_DIR={p.prefix}/credentials {p.executable} --config {toml} run --source ibkr",
    ]


if __name__ == "__main__":  # pragma: no cover - maintenance helper for the README
    print(readme_table())  # noqa: T201
