"""Wire models: one JSON form for MQTT and the journal, lossless round trips."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from adapters.mqtt.payloads import (
    AlertPayload,
    OrderPayload,
    OrderStatusPayload,
    decision_from_json,
    decision_to_json,
    to_payload,
)
from daemon.core.model import Decision, OrderState, OrderStatusReport
from daemon.errors import DataError
from tests.fakes.decisions import MACD, alert, change, order


@pytest.mark.parametrize("decision", [order("o1"), alert("a1"), change("c1")])
def test_round_trip_is_lossless(decision: Decision) -> None:
    text = decision_to_json(decision)
    assert decision_from_json(text) == decision
    assert decision_from_json(text.encode()) == decision
    body = json.loads(text)
    assert body["v"] == (2 if body["type"] == "order" else 1)  # orders: v2 (issue 10)
    assert body["decision_id"] == decision.decision_id
    assert body["ts"] == "2020-02-24T21:00:00Z"


def test_order_payload_carries_what_the_operator_needs() -> None:
    body = json.loads(decision_to_json(order("o1")))
    assert body["type"] == "order"
    assert body["legs"] == [
        {
            "right": "C",
            "strike": 22.0,
            "expiry": "2020-03-18",
            "position_qty": 1,
            "multiplier": 100,
            "trading_class": "VIX",
        }
    ]
    assert body["reasons"][0] == {
        "id": "ratio_macd_negative",
        "value": MACD.value,
        "threshold": 0.0,
        "holds": True,
        "detail": "MACD < 0",
    }
    assert body["scenario"]["cover_frac"] == 0.53
    assert body["break_evens"] == [23.35]
    assert body["order_ref"] == "alvh:L1:open:20200318:22:o1"


def test_unknown_version_or_type_is_a_data_error() -> None:
    body = json.loads(decision_to_json(alert("a1")))
    with pytest.raises(DataError, match="v=2"):
        decision_from_json(json.dumps({**body, "v": 2}))
    o = json.loads(decision_to_json(order("o1")))
    with pytest.raises(DataError, match="v=3"):
        decision_from_json(json.dumps({**o, "v": 3}))
    # a v1 order (no inputs) journalled by an older build still reads
    assert decision_from_json(json.dumps({**o, "v": 1})) == order("o1")
    with pytest.raises(DataError):
        decision_from_json(json.dumps({**body, "type": "memo"}))
    with pytest.raises(DataError):
        decision_from_json("not json")


def test_nan_never_reaches_the_wire() -> None:
    with pytest.raises(ValidationError):
        AlertPayload.model_validate(
            {**to_payload(alert("a1")).model_dump(), "reasons": [{**MACD_DICT, "value": math.nan}]}
        )


MACD_DICT = {"id": MACD.id, "value": MACD.value, "threshold": MACD.threshold, "holds": True}


def test_order_status_payload_is_versioned_and_round_trips() -> None:
    report = OrderStatusReport(
        order_ref="alvh:L1:open:20200318:23:83859bd1aa7809cc",
        decision_id="83859bd1aa7809cc",
        status=OrderState.REJECTED,
        filled_qty=0.0,
        remaining_qty=0.0,
        avg_price=None,
        limit_price=1.35,
        error_code=201,
        error_text="Order rejected - reason:",
        init_margin_change_usd=None,
        ts=datetime(2020, 2, 24, 21, 15, tzinfo=UTC),
    )
    wire = json.loads(OrderStatusPayload.of(report).model_dump_json())
    assert wire["v"] == 1
    assert wire["type"] == "order_status"
    assert (wire["status"], wire["error_code"]) == ("rejected", 201)
    assert OrderStatusPayload.model_validate(wire).to_core() == report


def test_a_proposal_names_where_its_price_came_from() -> None:
    o = order()
    assert json.loads(OrderPayload.of(o).model_dump_json())["price_source"] == "model"
    market = replace(o, price_source="market")
    wire = json.loads(OrderPayload.of(market).model_dump_json())
    assert wire["price_source"] == "market"
    assert OrderPayload.model_validate(wire).to_core() == market
