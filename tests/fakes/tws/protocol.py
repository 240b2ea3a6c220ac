"""TWS API wire format, as ib_async's ``client.py``/``decoder.py`` speak it.

Framing (both directions, after the handshake): a 4-byte big-endian length, then the
payload: text fields, each terminated by NUL. The client opens with the raw bytes
``API\\0`` followed by one length-prefixed, *un*-terminated version range
``v157..178``; the server answers with two fields: its version and its connection time.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable

# ----------------------------------------------------------------- incoming (client → TWS)
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCT_DATA = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DATA = 9
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_HISTORICAL_DATA = 20
CANCEL_HISTORICAL_DATA = 25
REQ_CURRENT_TIME = 49
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_SEC_DEF_OPT_PARAMS = 78
REQ_MARKET_RULE = 91
REQ_COMPLETED_ORDERS = 99

# ----------------------------------------------------------------- outgoing (TWS → client)
TICK_PRICE = 1
TICK_SIZE = 2
ORDER_STATUS = 3
ERR_MSG = 4
OPEN_ORDER = 5
NEXT_VALID_ID = 9
CONTRACT_DATA = 10
EXECUTION_DATA = 11
MANAGED_ACCTS = 15
HISTORICAL_DATA = 17
CURRENT_TIME = 49
CONTRACT_DATA_END = 52
OPEN_ORDER_END = 53
ACCT_DOWNLOAD_END = 54
EXECUTION_DATA_END = 55
MARKET_DATA_TYPE = 58
COMMISSION_REPORT = 59
POSITION_DATA = 61
POSITION_END = 62
ACCOUNT_SUMMARY_END = 64
ACCOUNT_UPDATE_MULTI_END = 74
SECURITY_DEFINITION_OPTION_PARAMETER = 75
SECURITY_DEFINITION_OPTION_PARAMETER_END = 76
TICK_OPTION_COMPUTATION = 21
MARKET_RULE = 93
COMPLETED_ORDER = 101
COMPLETED_ORDERS_END = 102

# tick types (https://interactivebrokers.github.io/tws-api/tick_types.html)
TICK_BID = 1
TICK_ASK = 2
TICK_LAST = 4
TICK_CLOSE = 9
TICK_BID_OPTION = 10
TICK_ASK_OPTION = 11
TICK_LAST_OPTION = 12
TICK_MODEL_OPTION = 13
TICK_DELAYED_BID = 66
TICK_DELAYED_ASK = 67
TICK_DELAYED_LAST = 68
TICK_DELAYED_CLOSE = 75

UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

Field = str | int | float | bool | None


def fmt(value: Field) -> str:
    """Render one field the way TWS does (bools as 1/0, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)
    return str(value)


def frame(fields: Iterable[Field]) -> bytes:
    """One length-prefixed message of NUL-terminated fields."""
    payload = "".join(fmt(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


async def read_raw(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed payload (raises IncompleteReadError at EOF)."""
    head = await reader.readexactly(4)
    (size,) = struct.unpack(">I", head)
    return await reader.readexactly(size)


async def read_fields(reader: asyncio.StreamReader) -> list[str]:
    """Read one message and split it into its text fields."""
    payload = await read_raw(reader)
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_version_range(text: str) -> tuple[int, int]:
    """``"v157..178 +PACEAPI"`` → (157, 178)."""
    head = text.split(" ", 1)[0]
    if not head.startswith("v") or ".." not in head:
        msg = f"bad API version range: {text!r}"
        raise ValueError(msg)
    low, high = head[1:].split("..", 1)
    return int(low), int(high)
