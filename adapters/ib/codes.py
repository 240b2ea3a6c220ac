"""IB error and status codes grouped by what the daemon does about them.

Sources: IBKR "Message Codes" (TWS API docs) and ib_async's ``Wrapper.error``. The table:

===================  =================================================================
codes                action
===================  =================================================================
1100, 2110           connectivity TWS↔IB lost: state *degraded*, one warning alert
1101, 1102           connectivity restored: resubscribe market data (1101 lost data)
2103, 2105, 2157     a data farm broke: remember it; the next *farm OK* resubscribes
2104, 2106, 2158,    farm OK / inactive-but-available: informational (2104 after a
2107, 2108, 2119     2103 resubscribes)
354, 10167, 10168,   market data not subscribed / delayed instead / competing session:
10197                one de-duplicated alert per code and contract
200, 201, 202, 162,  per-request errors: the request fails (BrokerRejected), no retry
103, 110, 321
326                  client id in use: reconnect with the next client id
===================  =================================================================
"""

from __future__ import annotations

from enum import StrEnum

CONNECTIVITY_LOST: frozenset[int] = frozenset({1100, 2110})
CONNECTIVITY_RESTORED: frozenset[int] = frozenset({1101, 1102})
FARM_BROKEN: frozenset[int] = frozenset({2103, 2105, 2157})
FARM_OK: frozenset[int] = frozenset({2104, 2106, 2158})
INFORMATIONAL: frozenset[int] = frozenset({2104, 2106, 2107, 2108, 2119, 2158})
MARKET_DATA_NOT_SUBSCRIBED: frozenset[int] = frozenset({354, 10167, 10168, 10197})
REQUEST_ERRORS: frozenset[int] = frozenset({103, 110, 162, 200, 201, 202, 321})
CLIENT_ID_IN_USE = 326
MARKET_DATA_FARM_OK = 2104
"""After a 2103 (farm broken), this one means: resubscribe."""


class ErrorAction(StrEnum):
    """What the connection does with an IB error/status code."""

    DEGRADED = "degraded"
    RESTORED = "restored"
    FARM_BROKEN = "farm_broken"
    FARM_OK = "farm_ok"
    INFO = "info"
    NOT_SUBSCRIBED = "not_subscribed"
    REQUEST = "request"
    CLIENT_ID_IN_USE = "client_id_in_use"
    UNKNOWN = "unknown"


_TABLE: dict[int, ErrorAction] = {
    **dict.fromkeys(INFORMATIONAL, ErrorAction.INFO),
    **dict.fromkeys(FARM_OK, ErrorAction.FARM_OK),
    **dict.fromkeys(FARM_BROKEN, ErrorAction.FARM_BROKEN),
    **dict.fromkeys(CONNECTIVITY_LOST, ErrorAction.DEGRADED),
    **dict.fromkeys(CONNECTIVITY_RESTORED, ErrorAction.RESTORED),
    **dict.fromkeys(MARKET_DATA_NOT_SUBSCRIBED, ErrorAction.NOT_SUBSCRIBED),
    **dict.fromkeys(REQUEST_ERRORS, ErrorAction.REQUEST),
    CLIENT_ID_IN_USE: ErrorAction.CLIENT_ID_IN_USE,
}
WARNING_RANGE = range(2100, 2200)
"""IB's 21xx codes are warnings/status messages; unknown ones are informational."""


def classify(code: int) -> ErrorAction:
    """Map an IB error/status code to the daemon's action (see the module table)."""
    action = _TABLE.get(code)
    if action is not None:
        return action
    return ErrorAction.INFO if code in WARNING_RANGE else ErrorAction.UNKNOWN
