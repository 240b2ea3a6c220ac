"""A bad market state is refused with its named error (the fast path of issue 9 included)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from daemon.core.scenario import MarketState
from daemon.errors import InvariantViolation

DAY = date(2020, 3, 2)
CURVE = ((date(2020, 3, 18), 20.0), (date(2020, 4, 15), 21.0))


def _state(**kw: Any) -> MarketState:
    base: dict[str, Any] = {
        "session_date": DAY,
        "spx": 3000.0,
        "iwm": 150.0,
        "vix": 20.0,
        "vx_curve": CURVE,
        "spx_pct_per_vix_pt": -0.8,
        "beta_iwm_spx": 1.1,
    }
    return MarketState(**(base | kw))


def test_a_good_state_is_accepted() -> None:
    assert _state().vx_curve == CURVE
    assert _state(spx_pct_per_vix_pt=None, beta_iwm_spx=None, vx_curve=()).vx_curve == ()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"vx_curve": ((date(2020, 3, 18), 0.0),)}, r"vx_curve\[2020-03-18\] must be finite"),
        ({"vx_curve": ((date(2020, 3, 18), math.nan),)}, r"vx_curve\[2020-03-18\]"),
        ({"vx_curve": (CURVE[1], CURVE[0])}, "sorted by expiry"),
        ({"vx_curve": (CURVE[0], CURVE[0])}, "without duplicates"),
        ({"spx_pct_per_vix_pt": math.nan}, "spx_pct_per_vix_pt must be finite or None"),
        ({"beta_iwm_spx": math.inf}, "beta_iwm_spx must be finite or None"),
        ({"spx": -1.0}, "spx must be finite and > 0"),
    ],
)
def test_a_bad_state_names_what_is_wrong(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvariantViolation, match=message):
        _state(**kw)
