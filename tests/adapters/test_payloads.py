"""Wire models: one JSON form for MQTT and the journal, lossless round trips."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from adapters.mqtt.payloads import (
    AlertPayload,
    decision_from_json,
    decision_to_json,
    to_payload,
)
from daemon.core.model import Decision
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
