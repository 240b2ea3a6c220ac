"""Print the README's configuration reference, generated from config/alvhd.toml.

Usage: ``uv run python scripts/config_reference.py`` (paste the output into README.md).
``tests/unit/test_docs.py`` checks that every settings key appears in the README.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "config" / "alvhd.toml"
_KEY = re.compile(r"^(?P<key>[a-z0-9_]+)\s*=\s*(?P<value>.*?)\s*(#\s*(?P<comment>.*))?$")


def rows() -> list[tuple[str, str, str]]:
    """(dotted key, default as written, comment) for every key of the TOML, in file order."""
    section = ""
    out: list[tuple[str, str, str]] = []
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        m = _KEY.match(stripped)
        if m and section:
            out.append((f"{section}.{m['key']}", m["value"], (m["comment"] or "").strip()))
    tomllib.loads(CONFIG.read_text(encoding="utf-8"))  # it must parse, too
    return out


def main() -> None:
    """Print the markdown table."""
    print("| key | default | unit, source and allowed range |")
    print("|---|---|---|")
    for key, value, comment in rows():
        cell = comment.replace("|", "\\|")
        print(f"| `{key}` | `{value}` | {cell} |")


if __name__ == "__main__":
    main()
