"""Feed staleness as *episodes*: one alert when data stops, one when it is back.

Issue 6 §3: a stalled feed used to raise one ``data_stale`` alert per symbol every
``stale_after_s`` (21 alerts in 30 s with a 10 s threshold). :class:`StaleWatch` folds
every symbol into one outage *episode*:

- a symbol is stale when its last valid quote (or, before its first one, the start of
  watching) is older than ``stale_after_s``;
- the first stale symbol opens the episode: one :class:`StaleEpisode` with ``is_open=True``
  listing the stale symbols (the caller alerts: critical when a required series is among
  them, else warning);
- symbols going stale while the episode is open join it silently (no new alert);
- the episode ends when no watched symbol is stale: one :class:`StaleEpisode` with
  ``is_open=False`` (the caller's "restored" alert), with the outage length.

Time is an argument in seconds on any monotonic scale (the adapter passes its monotonic
clock; the engine passes POSIX seconds of the quote and heartbeat times). A gap of more
than ``stale_after_s`` between two checks is a pause (the caller does not check outside
regular hours): silence during a pause is not staleness, so ages restart at the resume.
Pure and O(symbols) per check; never raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from daemon.core.fastinit import fast_init
from daemon.core.model import REQUIRED_SYMBOLS, Symbol

__all__ = ["StaleEpisode", "StaleWatch"]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StaleEpisode:
    """A feed outage started (``is_open``) or ended.

    Attributes:
        is_open: True at the start of the outage, False when every symbol is fresh again.
        symbols: on start: the stale symbols; on end: every symbol that was stale in it.
        has_required: a required series (SPX, IWM, VIX) is among ``symbols``.
        started_at_s: when the episode was detected, seconds (the caller's scale).
        at_s: the time of this change, seconds.
        age_s: on start: the age of the oldest stale symbol's last valid quote, seconds;
            on end: the length of the outage since detection, seconds.
        limit_s: ``stale_after_s``.
    """

    is_open: bool
    symbols: tuple[Symbol, ...]
    has_required: bool
    started_at_s: float
    at_s: float
    age_s: float
    limit_s: float

    @property
    def names(self) -> str:
        """The symbols as text: ``"SPX, IWM, VIX"``."""
        return ", ".join(s.value for s in self.symbols)


class StaleWatch:
    """Tracks the last valid quote per symbol and reports outage episodes.

    Args:
        stale_after_s: a symbol whose last valid quote is older than this is stale, s.
        symbols: the symbols watched from the start (more can be added with :meth:`watch`).
    """

    def __init__(self, stale_after_s: float, symbols: Iterable[Symbol] = ()) -> None:
        self.stale_after_s = stale_after_s
        self._watched: dict[Symbol, None] = dict.fromkeys(symbols)
        self._last_valid: dict[Symbol, float] = {}
        self._baseline_s: float | None = None
        self._last_check_s: float | None = None
        self._episode: dict[Symbol, None] | None = None
        self._episode_started_s = 0.0
        self.episodes = 0
        """Outage episodes opened since start."""

    @property
    def is_open(self) -> bool:
        """Whether an outage episode is open."""
        return self._episode is not None

    def watch(self, symbols: Iterable[Symbol]) -> None:
        """Add symbols to the watched set (e.g. once their subscription exists)."""
        for s in symbols:
            self._watched.setdefault(s, None)

    def on_valid(self, symbol: Symbol, at_s: float) -> None:
        """Record a valid quote of ``symbol`` at ``at_s`` seconds."""
        prev = self._last_valid.get(symbol)
        if prev is None or at_s > prev:
            self._last_valid[symbol] = at_s

    def stale(self, at_s: float) -> tuple[Symbol, ...]:
        """The watched symbols stale at ``at_s`` (watched order)."""
        base = self._baseline_s if self._baseline_s is not None else at_s
        limit = self.stale_after_s
        return tuple(
            s for s in self._watched if at_s - max(self._last_valid.get(s, base), base) > limit
        )

    def check(self, at_s: float) -> StaleEpisode | None:
        """Re-evaluate at ``at_s`` seconds; return the episode change, if any.

        Returns:
            ``StaleEpisode(is_open=True)`` when an outage starts, ``is_open=False`` when it
            ends, else None (including every check inside an open episode).
        """
        last = self._last_check_s
        if self._baseline_s is None or (last is not None and at_s - last > self.stale_after_s):
            self._baseline_s = at_s  # first check, or resumed after a pause
        self._last_check_s = at_s
        stale = self.stale(at_s)
        if self._episode is None:
            if not stale:
                return None
            self._episode = dict.fromkeys(stale)
            self._episode_started_s = at_s
            self.episodes += 1
            base = self._baseline_s
            oldest = min(max(self._last_valid.get(s, base), base) for s in stale)
            return StaleEpisode(
                is_open=True,
                symbols=stale,
                has_required=any(s in REQUIRED_SYMBOLS for s in stale),
                started_at_s=at_s,
                at_s=at_s,
                age_s=at_s - oldest,
                limit_s=self.stale_after_s,
            )
        for s in stale:
            self._episode.setdefault(s, None)
        if stale:
            return None
        symbols = tuple(self._episode)
        self._episode = None
        return StaleEpisode(
            is_open=False,
            symbols=symbols,
            has_required=any(s in REQUIRED_SYMBOLS for s in symbols),
            started_at_s=self._episode_started_s,
            at_s=at_s,
            age_s=at_s - self._episode_started_s,
            limit_s=self.stale_after_s,
        )
