"""The skip guard's in-memory save: declared containers match the objects (issue 9).

``memento.save_all`` copies only the attributes a class names in ``MEMENTO_CONTAINERS``
(the others are shared with the saved copy). A container attribute missing from that
list would be shared, and a rolled-back close would keep its changes: these tests hold
each declaration to the engine's saved parts on a fresh engine and after the full
replay, and show that a declared container is restored after a change.
"""

from __future__ import annotations

from pathlib import Path

from daemon.app import trading_sessions
from daemon.core import memento
from daemon.core.engine import Engine
from daemon.core.hedge_book import HedgeBook
from daemon.core.model import Layer, Symbol
from daemon.core.params import EngineParams
from daemon.core.rebalance import RebalanceClock
from tests.unit.replay_run import full_replay


def _saved_parts(engine: Engine) -> list[object]:
    """The objects the engine's skip guard saves before each close."""
    _, saved = engine._save_state()
    return [obj for obj, _ in saved]


def _check_declarations(parts: list[object]) -> None:
    for obj in parts:
        declared = getattr(obj.__class__, "MEMENTO_CONTAINERS", None)
        assert declared is not None, f"{obj.__class__.__name__} declares no MEMENTO_CONTAINERS"
        # every container attribute is declared (so it is copied) ...
        assert memento.containers_of(obj) <= set(declared), obj.__class__.__name__
        # ... and every declared one exists, holding a flat container or None
        for name in declared:
            value = vars(obj)[name]
            assert value is None or isinstance(value, (dict, list, set)), (obj, name)


def test_a_fresh_engines_parts_declare_their_containers() -> None:
    engine = Engine(EngineParams(), sessions=trading_sessions(), track_baseline=True)
    _check_declarations(_saved_parts(engine))


def test_the_parts_after_the_full_replay_declare_their_containers(market_dir: Path) -> None:
    engine = full_replay(market_dir).engine
    parts = _saved_parts(engine)
    assert {type(p).__name__ for p in parts} >= {"HedgeBook", "OrderDesk", "RebalanceClock"}
    _check_declarations(parts)


def test_a_declared_container_is_restored_after_a_change() -> None:
    book = HedgeBook(1.0)
    book._paid_usd[Layer.L1] = 100.0
    clock = RebalanceClock(5)
    clock.ref = {Symbol.SPX: 6000.0, Symbol.IWM: 220.0}
    saved = memento.save_all((book, clock))
    book._paid_usd[Layer.L1] = 250.0
    clock.ref[Symbol.SPX] = 5000.0
    clock.last_index = 7
    for one in saved:
        memento.restore(one)
    assert book._paid_usd == {Layer.L1: 100.0}
    assert clock.ref == {Symbol.SPX: 6000.0, Symbol.IWM: 220.0}
    assert clock.last_index is None


def test_an_undeclared_class_is_saved_attribute_by_attribute() -> None:
    class Plain:
        def __init__(self) -> None:
            self.items = [1, 2]
            self.total = 3.0

    obj = Plain()
    (saved,) = memento.save_all((obj,))
    obj.items.append(3)
    obj.total = 4.0
    memento.restore(saved)
    assert (obj.items, obj.total) == ([1, 2], 3.0)
