"""The snapshot codec: every part round-trips; a bad or foreign snapshot is refused."""

from __future__ import annotations

import json
from datetime import date

import pytest

from daemon.core import codec
from daemon.core.engine import Engine
from daemon.core.hedge_book import HedgeBook, PendingOrder
from daemon.core.model import Action, IronCondor, Layer, OrderIntent, Satellite, Symbol
from daemon.core.params import EngineParams
from daemon.errors import InvariantViolation
from tests.unit.engine_parts import DAY, VX_APR, VX_MAR, hedge, vix_call

SPREAD = (vix_call(22.0, VX_MAR), vix_call(27.0, VX_MAR, -1))


def test_hedges_pending_and_premium_round_trip() -> None:
    book = HedgeBook()
    pending = PendingOrder(
        layer=Layer.L2,
        intent=OrderIntent.ROLL,
        legs=(vix_call(22.0, VX_MAR, -1), vix_call(30.5, VX_APR)),
        open_legs=(vix_call(30.5, VX_APR),),
        action=Action.SELL,
        contracts=7,
        limit_price=0.35,
        new_leg_price=1.2,
        session_date=DAY,
    )
    book.load(
        hedges=[hedge(Layer.L3, SPREAD, 12, 1234.5)],
        pending={"ref": pending},
        premium_paid_to_date_usd=9876.25,
    )
    d = json.loads(json.dumps(codec.book_to_dict(book)))
    back = HedgeBook()
    codec.load_book(back, d)
    assert back.hedges == book.hedges
    assert dict(back.pending) == {"ref": pending}
    assert back.premium_paid_to_date_usd == 9876.25


def test_condor_and_satellite_round_trip() -> None:
    c = IronCondor(
        short_put_strike=2800.0,
        long_put_strike=2750.0,
        short_call_strike=3125.0,
        long_call_strike=3175.0,
        expiry=date(2020, 4, 17),
        contracts=10,
        net_credit=12.3,
        multiplier=100,
        trading_class="SPX",
        opened_on=DAY,
    )
    assert codec.condor_from_dict(codec.condor_to_dict(c)) == c
    sat = Satellite(symbol=Symbol.IWM, notional_usd=1e5)
    assert codec.satellite_from_dict(codec.satellite_to_dict(sat)) == sat
    assert codec.satellite_from_dict(codec.satellite_to_dict(None)) is None


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\xff\xfe", "unreadable"),
        (b"{not json", "unreadable"),
        (b"[1, 2]", "not an object"),
        (b'{"version": 99}', "version 99"),
        (b"{}", "version None"),
    ],
)
def test_decode_refuses_garbage_and_other_versions(blob: bytes, message: str) -> None:
    with pytest.raises(InvariantViolation, match=message):
        codec.decode(blob)


def test_a_fresh_engine_snapshot_restores_to_the_same_bytes() -> None:
    eng = Engine(EngineParams(), sessions=[DAY])
    blob = eng.snapshot()
    assert json.loads(blob)["version"] == codec.SNAPSHOT_VERSION
    other = Engine(EngineParams(), sessions=[DAY])
    other.restore(blob)
    assert other.snapshot() == blob


def test_a_snapshot_missing_a_field_is_refused_by_name() -> None:
    d = json.loads(Engine(EngineParams(), sessions=[DAY]).snapshot())
    del d["pending"]
    with pytest.raises(InvariantViolation, match="pending"):
        Engine(EngineParams(), sessions=[DAY]).restore(json.dumps(d).encode())


def test_a_snapshot_from_before_the_pnl_accounting_still_restores() -> None:
    d = json.loads(Engine(EngineParams(), sessions=[DAY]).snapshot())
    del d["sleeve_pnl"]
    del d["condor_pnl"]
    eng = Engine(EngineParams(), sessions=[DAY])
    eng.restore(json.dumps(d).encode())
    assert eng.hedges == ()
    assert json.loads(eng.snapshot())["sleeve_pnl"] == {
        "paid": {},
        "realised": {},
        "fees": {},
        "settle_vix": {},
    }
