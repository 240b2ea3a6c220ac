"""Shared fixtures: where the real market history lives.

The data is read in place from ``../shared/data/market`` (beside the repo) or from
``$ALVH_MARKET_DIR``; it is never copied into the repo. A missing directory fails the
test run loudly instead of skipping, so a CI without the data cannot pass by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_market_dir() -> Path:
    """Locate the shared market-data directory (env ``ALVH_MARKET_DIR`` wins)."""
    env = os.environ.get("ALVH_MARKET_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "market"
    if not (path / "spx_daily.csv").is_file():
        msg = f"market data not found at {path} (set ALVH_MARKET_DIR)"
        raise FileNotFoundError(msg)
    return path


@pytest.fixture(scope="session")
def market_dir() -> Path:
    """Directory holding spx_daily.csv, vix_daily.csv, ... (real history, read-only)."""
    return find_market_dir()


LONG_SCENARIOS = (
    "tests/e2e/test_fault_mqtt_outage.py",
    "tests/e2e/test_fault_gateway_close.py",
)
"""Fault scenarios that mostly sleep for minutes: collected first, so that pytest-xdist
(``make test``: ``-n 4 --dist loadfile``) starts them at once beside the rest of the suite
instead of last."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the long scenarios to the front (stable: the rest keeps its order)."""

    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(REPO_ROOT).as_posix()
        return LONG_SCENARIOS.index(path) if path in LONG_SCENARIOS else len(LONG_SCENARIOS)

    items.sort(key=rank)
