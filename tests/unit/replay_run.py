"""One full replay of ``../shared/data/market`` per test process, shared by the tests.

Not a test module. ``full_replay(market_dir)`` runs ``daemon.app.replay_fast`` with
``config/alvhd.toml`` once (about 3–8 s here) and caches the result.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from daemon.app import ReplayRun, replay_fast
from daemon.settings import DEFAULT_CONFIG_PATH, load_settings


@functools.cache
def full_replay(market_dir: Path) -> ReplayRun:
    """The whole 2007→2026 replay with the default configuration (cached)."""
    settings = load_settings(DEFAULT_CONFIG_PATH)
    return asyncio.run(replay_fast(settings, market_dir))
