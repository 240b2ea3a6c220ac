"""check_quote's one-test path for the usual quote gives the full rules' verdicts (issue 9)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

from daemon.core.model import Quote, Symbol
from daemon.core.quality import _rules, check_quote


class _Stamp(datetime):
    """A datetime subclass (as pandas' Timestamp is): not the usual exact type."""


PRICES: tuple[object, ...] = (
    18.5,
    1,
    0.0,
    -2.0,
    float("nan"),
    float("inf"),
    True,
    "18.5",
)
SIDES: tuple[tuple[float | None, float | None], ...] = (
    (None, None),
    (18.4, 18.6),
    (18.6, 18.4),
    (None, 18.6),
    (-1.0, None),
    (float("nan"), 18.6),
)
STAMPS: tuple[object, ...] = (
    datetime(2020, 3, 2, 21, tzinfo=UTC),
    datetime(2020, 3, 2, 16, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2020, 3, 2, 21),  # noqa: DTZ001 - naive on purpose
    _Stamp(2020, 3, 2, 21, tzinfo=UTC),
    _Stamp(2020, 3, 2, 21),
    date(2020, 3, 2),
)


def test_every_verdict_is_the_rules_verdict() -> None:
    seen = set()
    for price, (bid, ask), ts in itertools.product(PRICES, SIDES, STAMPS):
        quote = Quote(
            symbol=Symbol.VIX,
            price=price,  # type: ignore[arg-type]
            ts=ts,  # type: ignore[arg-type]
            session_date=date(2020, 3, 2),
            bid=bid,
            ask=ask,
        )
        got, want = check_quote(quote), _rules(quote)
        assert got == want, (price, bid, ask, ts)
        seen.add(None if want is None else want.reason)
    # the grid reaches every verdict, the good one included
    assert seen == {None, "nan", "non_positive", "bad_bid_ask", "bid_gt_ask", "naive_ts"}
