"""Regenerate the README's configuration reference from config/alvhd.toml.

Usage: ``uv run python scripts/config_reference.py`` rewrites the table in README.md in
place; ``--print`` prints it instead. The table itself comes from
:func:`daemon.install.readme_table` (``tests/unit/test_install.py`` checks the README
matches it), so there is one generator.
"""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.install import readme_table

README = Path(__file__).resolve().parents[1] / "README.md"
_HEADER = "| key | default | unit, source and allowed range |"


def main(argv: list[str]) -> int:
    """Print or rewrite the table; exit 1 if the README has no table to replace."""
    table = readme_table()
    if "--print" in argv:
        print(table)
        return 0
    text = README.read_text(encoding="utf-8")
    start = text.find(_HEADER)
    if start < 0:
        print(f"{README}: no configuration table (header {_HEADER!r})", file=sys.stderr)
        return 1
    end = start
    lines = text[start:].splitlines(keepends=True)
    for line in lines:
        if not line.startswith("|"):
            break
        end += len(line)
    README.write_text(text[:start] + table + "\n" + text[end:], encoding="utf-8")
    print(f"{README}: configuration table regenerated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
