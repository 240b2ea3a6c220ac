"""The README documents what the code does: every settings key, every alert kind, the CLI."""

from __future__ import annotations

from pydantic import BaseModel

from daemon.cli import COMMANDS
from daemon.core.model import AlertKind
from daemon.settings import Settings
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_settings_key_is_in_the_readme_config_reference() -> None:
    missing = [k for k in _keys(Settings) if "." in k and f"`{k}`" not in README]
    assert not missing, f"README config reference lacks {missing}"


def test_every_alert_kind_is_documented() -> None:
    missing = [k.value for k in AlertKind if f"`{k.value}`" not in README]
    assert not missing


def test_every_command_is_documented() -> None:
    for name in COMMANDS:
        assert f"alvhd {name}" in README
