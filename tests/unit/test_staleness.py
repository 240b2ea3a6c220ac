"""Feed outages are episodes: one alert when data stops, one when it is back."""

from __future__ import annotations

from daemon.core.model import Symbol
from daemon.core.staleness import StaleWatch

ALL = (Symbol.SPX, Symbol.IWM, Symbol.VIX, Symbol.RVX, Symbol.VIX3M, Symbol.VX1, Symbol.VX2)


def _feed(w: StaleWatch, at_s: float, symbols: tuple[Symbol, ...] = ALL) -> None:
    for s in symbols:
        w.on_valid(s, at_s)


def test_a_60s_stall_of_seven_symbols_is_one_episode() -> None:
    w = StaleWatch(10.0, ALL)
    changes = []
    t = 0.0
    while t < 200.0:
        if not 20.0 <= t < 80.0:  # the feed stalls from 20 s to 80 s
            _feed(w, t)
        change = w.check(t)
        if change is not None:
            changes.append(change)
        t += 1.0
    assert [c.is_open for c in changes] == [True, False]
    opened, closed = changes
    assert opened.symbols == ALL
    assert opened.has_required
    assert 10.0 < opened.age_s <= 11.0
    assert closed.symbols == ALL
    assert 50.0 <= closed.age_s <= 60.0
    assert w.episodes == 1


def test_symbols_going_stale_during_an_episode_join_it_silently() -> None:
    w = StaleWatch(10.0, ALL)
    _feed(w, 0.0)
    w.check(0.0)
    _feed(w, 5.0, (Symbol.SPX, Symbol.IWM, Symbol.VIX, Symbol.VX1, Symbol.VX2))  # RVX, VIX3M stop
    assert w.check(6.0) is None
    first = w.check(12.0)
    assert first is not None
    assert first.symbols == (Symbol.RVX, Symbol.VIX3M)
    assert not first.has_required
    assert w.check(16.0) is None  # now everything is stale: the same episode
    assert set(w.stale(16.0)) == set(ALL)
    _feed(w, 20.0)
    end = w.check(20.0)
    assert end is not None
    assert not end.is_open
    assert set(end.symbols) == set(ALL)


def test_a_pause_between_checks_is_not_staleness() -> None:
    w = StaleWatch(10.0, (Symbol.SPX,))
    w.on_valid(Symbol.SPX, 0.0)
    assert w.check(1.0) is None
    # overnight: no checks; the next morning ages restart at the first check
    assert w.check(60_000.0) is None
    assert w.check(60_005.0) is None
    change = w.check(60_011.0)
    assert change is not None
    assert change.is_open


def test_never_quoted_symbols_are_stale_after_the_limit_from_the_first_check() -> None:
    w = StaleWatch(5.0)
    w.watch([Symbol.RVX])
    assert w.check(100.0) is None
    assert w.check(104.0) is None
    change = w.check(105.5)
    assert change is not None
    assert change.symbols == (Symbol.RVX,)
