"""The IB edge: ticker/bar fields → Quote/Bar or Rejected, and the error-code table."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from adapters.ib import codes
from adapters.ib.config import IbConfig
from adapters.ib.market_data import history_duration
from adapters.ib.paper_orders import orders_allowed
from adapters.ib.parsing import (
    TickerFields,
    bar_from_ib,
    expiry_of,
    multiplier_of,
    quote_from_ticker,
)
from daemon.core.model import Bar, Quote, Rejected, Symbol

NOW = datetime(2020, 2, 24, 15, 30, tzinfo=UTC)
RECORDED = Path(__file__).with_name("data") / "tickers.json"


def parse(**kw: float) -> Quote | Rejected:
    return quote_from_ticker(TickerFields(**kw), symbol=Symbol.IWM, received_at=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"last": math.nan}, "nan"),
        ({"last": -1.0}, "sentinel"),
        ({"last": 0.0}, "non_positive"),
        ({"last": -3.5}, "non_positive"),
        ({"last": math.inf}, "not_finite"),
        ({"last": 160.0, "bid": 160.2, "ask": 160.1}, "bid_gt_ask"),
        ({"last": 160.0, "market_data_type": 3}, "delayed"),
        ({"last": 160.0, "market_data_type": 4}, "delayed"),
        ({"last": 160.0, "market_data_type": 2}, "stale"),
        ({"last": -1.0, "bid": 159.9, "ask": 160.1}, "sentinel"),
    ],
)
def test_bad_ticks_become_rejections_with_a_reason(fields: dict[str, float], reason: str) -> None:
    result = parse(**fields)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.symbol is Symbol.IWM


def test_a_valid_last_is_the_price_and_a_half_empty_book_is_dropped() -> None:
    q = parse(last=160.05, bid=-1.0, ask=160.1)
    assert isinstance(q, Quote)
    assert (q.price, q.bid, q.ask) == (160.05, None, None)
    assert q.session_date == date(2020, 2, 24)
    assert q.ts == NOW


def test_no_last_yet_falls_back_to_the_mid() -> None:
    q = parse(bid=159.9, ask=160.1)
    assert isinstance(q, Quote)
    assert q.price == pytest.approx(160.0)


def test_session_date_is_new_york_not_utc() -> None:
    late = datetime(2020, 2, 25, 1, 0, tzinfo=UTC)  # 20:00 in New York on the 24th
    q = quote_from_ticker(TickerFields(last=3225.89), symbol=Symbol.SPX, received_at=late)
    assert isinstance(q, Quote)
    assert q.session_date == date(2020, 2, 24)


def test_recorded_ib_async_tickers_parse_as_recorded() -> None:
    # values copied from real ib_async Ticker objects (fake TWS session, JSON: no pickles)
    records = json.loads(RECORDED.read_text())
    assert len(records) >= 5
    for rec in records:
        raw = rec["fields"]

        def num(key: str, raw: dict[str, float | None] = raw) -> float:
            value = raw[key]
            return math.nan if value is None else float(value)

        fields = TickerFields(
            market_data_type=int(raw["market_data_type"]),
            last=num("last"),
            bid=num("bid"),
            ask=num("ask"),
            close=num("close"),
        )
        result = quote_from_ticker(fields, symbol=Symbol(rec["symbol"]), received_at=NOW)
        if rec["expect"] == "quote":
            assert isinstance(result, Quote), rec
            assert result.price == rec["price"]
        else:
            assert isinstance(result, Rejected), rec
            assert result.reason == rec["expect"]


def test_bars_from_ib_keep_dates_and_refuse_bad_closes() -> None:
    good = bar_from_ib(
        SimpleNamespace(date=date(2020, 2, 21), open=3360.5, high=-1.0, low=3328.45, close=3337.75),
        symbol=Symbol.SPX,
    )
    assert isinstance(good, Bar)
    assert good.high == 3337.75  # a bad high is replaced by the close, never NaN
    bad = bar_from_ib(
        SimpleNamespace(date=date(2020, 2, 21), open=1.0, high=1.0, low=1.0, close=math.nan),
        symbol=Symbol.SPX,
    )
    assert isinstance(bad, Rejected)
    assert bad.reason == "nan"


def test_contract_detail_helpers() -> None:
    assert expiry_of("20200318") == date(2020, 3, 18)
    assert expiry_of("202003") is None
    assert multiplier_of("1000") == 1000
    assert multiplier_of("") == 1
    assert history_duration(200) == "300 D"
    assert history_duration(260) == "2 Y"


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (1100, codes.ErrorAction.DEGRADED),
        (2110, codes.ErrorAction.DEGRADED),
        (1101, codes.ErrorAction.RESTORED),
        (1102, codes.ErrorAction.RESTORED),
        (2103, codes.ErrorAction.FARM_BROKEN),
        (2104, codes.ErrorAction.FARM_OK),
        (2106, codes.ErrorAction.FARM_OK),
        (2158, codes.ErrorAction.FARM_OK),
        (2107, codes.ErrorAction.INFO),
        (2199, codes.ErrorAction.INFO),
        (354, codes.ErrorAction.NOT_SUBSCRIBED),
        (10167, codes.ErrorAction.NOT_SUBSCRIBED),
        (10168, codes.ErrorAction.NOT_SUBSCRIBED),
        (10197, codes.ErrorAction.NOT_SUBSCRIBED),
        (200, codes.ErrorAction.REQUEST),
        (201, codes.ErrorAction.REQUEST),
        (202, codes.ErrorAction.REQUEST),
        (326, codes.ErrorAction.CLIENT_ID_IN_USE),
        (504, codes.ErrorAction.UNKNOWN),
    ],
)
def test_error_code_table(code: int, action: codes.ErrorAction) -> None:
    assert codes.classify(code) is action


@pytest.mark.parametrize(
    ("account", "overrides", "allowed"),
    [
        ("DU1234567", {}, True),
        ("U1234567", {}, False),
        ("", {}, False),
        ("U1234567", {"paper": False}, False),
        ("U1234567", {"paper": False, "live_trading_enabled": True}, False),
        (
            "U1234567",
            {
                "paper": False,
                "live_trading_enabled": True,
                "live_account_allowlist": frozenset({"U1234567"}),
            },
            True,
        ),
        (
            "U1234567",
            {"live_trading_enabled": True, "live_account_allowlist": frozenset({"U1234567"})},
            False,  # still paper mode
        ),
    ],
)
def test_order_guard(account: str, overrides: dict[str, object], allowed: bool) -> None:
    config = dataclasses.replace(IbConfig(), **overrides)  # type: ignore[arg-type]
    ok, why = orders_allowed(account, config)
    assert ok is allowed
    assert why
