"""fast_init: the same values as the dataclass's own ``__init__``, only cheaper (issue 9)."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import date

import pytest

from daemon.core.fastinit import fast_init
from daemon.core.model import OptionLeg, Right, SignalReading, new_reading
from daemon.core.pnl import DayPnl, LayerPnl
from daemon.core.scenario import MarketState
from daemon.errors import InvariantViolation


@dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: float = 2.5
    tags: list[str] = field(default_factory=list)
    c: str = field(default="c", kw_only=True)


@fast_init
@dataclass(frozen=True, slots=True)
class _Fast:
    a: int
    b: float = 2.5
    tags: list[str] = field(default_factory=list)
    c: str = field(default="c", kw_only=True)


def _fields(obj: _Plain | _Fast) -> tuple[object, ...]:
    return (obj.a, obj.b, obj.tags, obj.c)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 3.0), {}), ((1,), {"b": 4.0, "c": "x"}), ((1, 2.0, ["t"]), {"c": "y"})],
)
def test_same_signature_and_values_as_the_dataclass_init(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    assert _fields(_Fast(*args, **kwargs)) == _fields(_Plain(*args, **kwargs))  # type: ignore[arg-type]


def test_default_factory_gives_a_fresh_value_each_time() -> None:
    one, two = _Fast(1), _Fast(1)
    assert one.tags == []
    assert one.tags is not two.tags


def test_the_dataclass_errors_are_kept() -> None:
    with pytest.raises(TypeError):
        _Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Fast(1, 2.0, [], "c")  # type: ignore[call-arg]  # c is keyword-only
    with pytest.raises(TypeError):
        OptionLeg(Right.CALL)  # type: ignore[call-arg]  # kw_only: no positional


def test_still_frozen_equal_hashable_and_replaceable() -> None:
    leg = OptionLeg(
        right=Right.CALL,
        strike=25.0,
        expiry=date(2026, 1, 21),
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )
    with pytest.raises(FrozenInstanceError):
        leg.strike = 30.0  # type: ignore[misc]
    twin = OptionLeg(
        right=Right.CALL,
        strike=25.0,
        expiry=date(2026, 1, 21),
        position_qty=1,
        multiplier=100,
        trading_class="VIX",
    )
    assert leg == twin
    assert hash(leg) == hash(twin)
    moved = replace(leg, strike=30.0)
    assert moved.strike == 30.0
    assert moved.expiry == leg.expiry
    assert pickle.loads(pickle.dumps(leg)) == leg  # noqa: S301 - our own bytes
    assert copy.deepcopy(leg) == leg


def test_post_init_validation_still_runs() -> None:
    with pytest.raises(InvariantViolation, match="spx"):
        MarketState(session_date=date(2026, 1, 2), spx=-1.0, iwm=200.0, vix=15.0)
    state = MarketState(session_date=date(2026, 1, 2), spx=6000.0, iwm=200.0, vix=15.0)
    assert state.vx_curve == ()
    assert state.beta_iwm_spx is None


def test_factory_defaults_of_an_engine_value() -> None:
    pnl = DayPnl(spx=6000.0, vix=15.0)
    assert pnl.sleeve == {}
    assert pnl.baseline_l1 is None
    assert pnl.condor == DayPnl(spx=1.0, vix=1.0).condor
    assert LayerPnl() == LayerPnl()


def test_refuses_a_class_it_cannot_speed_up() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = field(default=0, init=False)

    for cls in (Mutable, NoSlots, Derived):
        with pytest.raises(TypeError):
            fast_init(cls)


def test_new_reading_is_the_keyword_built_reading() -> None:
    args = ("vix_rsi_hot", 71.2, 70.0, True, "RSI = {:.1f} {} {:g}", (71.2, ">", 70.0))
    fast = new_reading(*args)
    slow = SignalReading(
        id="vix_rsi_hot",
        value=71.2,
        threshold=70.0,
        holds=True,
        detail="RSI = {:.1f} {} {:g}",
        detail_args=(71.2, ">", 70.0),
    )
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert fast.detail == "RSI = 71.2 > 70"
    assert pickle.loads(pickle.dumps(fast)) == slow  # noqa: S301 - our own bytes
    with pytest.raises(FrozenInstanceError):
        fast.holds = False
