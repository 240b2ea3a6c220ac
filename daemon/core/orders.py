"""Order construction helpers: deterministic ids, IB ``orderRef`` strings, tick rounding (SPEC §6).

Everything here is deterministic: the same inputs give the same ids and references, so a
restart that re-derives a day's decisions produces identical ``orderRef`` values and the
journal (and the broker) can de-duplicate them (SPEC §6: "a restart never proposes or
submits the same order twice").
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from decimal import Decimal
from functools import lru_cache

from daemon.core.model import Action, Layer, OrderIntent
from daemon.core.params import OrderParams
from daemon.errors import InvariantViolation

DECISION_ID_HEX_CHARS = 16
"""Length of a :func:`decision_id` (hex characters of a SHA-256 digest, 64 bits)."""

ORDER_REF_MAX_CHARS = 64
"""Upper bound kept for an IB ``orderRef`` (alvhd's own limit; short enough for every IB API)."""

ORDER_REF_PREFIX = "alvh"
"""First field of every ``orderRef``: marks orders that alvhd created."""

TICK_SWITCH_PRICE = 3.00
"""VIX options (Cboe): premiums at or above 3.00 trade in ``min_tick_above_3`` (0.05),
below in ``min_tick_below_3`` (0.01, penny pilot class)."""

_EPS_TICKS = 1e-9
"""Tolerance, in ticks, for prices that already sit on the grid up to float error."""


def decision_id(*parts: object) -> str:
    """Deterministic id of a decision from its defining parts.

    Example: ``decision_id(date(2020, 3, 2), "L1", "open", 0)``. Parts are joined with
    ``"|"`` after ``str()``; the same parts always give the same id (no time, no randomness).

    Args:
        *parts: the values that define the decision (session date, layer, intent, sequence).

    Returns:
        The first 16 hex characters of ``sha256("|".join(map(str, parts)))``.

    Raises:
        InvariantViolation: no parts given (an id of nothing would collide).
    """
    if not parts:
        msg = "decision_id needs at least one part"
        raise InvariantViolation(msg)
    text = "|".join(map(str, parts))  # no generator (every decision; issue 9)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DECISION_ID_HEX_CHARS]


@lru_cache(maxsize=4096)  # pure: a strike's text is asked for on every proposal (issue 9)
def format_strike(strike: float) -> str:
    """Strike as short text without a trailing ``.0`` (``22.0`` → ``"22"``, ``22.5`` → ``"22.5"``).

    Args:
        strike: strike, index points (finite, > 0).

    Returns:
        The shortest decimal text of the strike rounded to 4 decimals.

    Raises:
        InvariantViolation: non-finite or non-positive strike.
    """
    if not math.isfinite(strike) or strike <= 0.0:
        msg = f"strike must be finite and > 0, got {strike!r}"
        raise InvariantViolation(msg)
    text = f"{round(strike, 4):.4f}".rstrip("0").rstrip(".")
    return text or "0"


def order_ref(
    *,
    layer: Layer,
    intent: OrderIntent,
    expiry: date,
    strike: float,
    decision_id: str,
) -> str:
    """Deterministic IB ``orderRef``: ``"alvh:<layer>:<intent>:<yyyymmdd>:<strike>:<decision id>"``.

    Example: ``"alvh:L1:open:20200318:22:3f9a0c1d2e4b5a69"``. For a spread, pass the long
    (first) leg's strike; for a roll, the new (opening) leg. The result is the same for the
    same inputs and differs when any input differs (the fields are ``:``-separated and none
    may contain ``:``).

    Args:
        layer: the ladder layer.
        intent: open / close / resize / roll.
        expiry: option expiry.
        strike: strike of the (first) leg, index points (> 0).
        decision_id: the decision's id (normally from :func:`decision_id`).

    Returns:
        The reference, at most 64 characters.

    Raises:
        InvariantViolation: empty ``decision_id`` or one containing ``:`` or whitespace, a bad
            strike, or a result longer than 64 characters.
    """
    # a hex id (alphanumeric: non-empty, no ':' nor whitespace) skips the character scan
    if not decision_id.isalnum() and (
        not decision_id or ":" in decision_id or any(c.isspace() for c in decision_id)
    ):
        msg = f"decision_id must be non-empty without ':' or whitespace, got {decision_id!r}"
        raise InvariantViolation(msg)
    ref = ":".join(
        (
            ORDER_REF_PREFIX,
            layer,  # a StrEnum member is its value as a str (no .value property call)
            intent,
            _yyyymmdd(expiry),
            format_strike(strike),
            decision_id,
        )
    )
    if len(ref) > ORDER_REF_MAX_CHARS:
        msg = f"orderRef longer than {ORDER_REF_MAX_CHARS} chars: {ref!r}"
        raise InvariantViolation(msg)
    return ref


@lru_cache(maxsize=1024)
def _yyyymmdd(expiry: date) -> str:
    """``expiry.strftime("%Y%m%d")``, memoised (a handful of expiries; issue 9)."""
    return expiry.strftime("%Y%m%d")


Increments = tuple[tuple[float, float], ...]
"""A contract's price increments: ``(low_edge_pts, increment_pts)`` rows, ascending by
low edge (IB's market rule, ``ContractDetails.marketRuleIds`` → ``reqMarketRule``; TWS API
"Market Rule"). Empty: not known (the configured VIX option ticks apply)."""


def tick_for(price: float, params: OrderParams, increments: Increments = ()) -> float:
    """Minimum price increment for a VIX option premium.

    Args:
        price: premium per share, index points.
        params: order parameters (``min_tick_above_3``, ``min_tick_below_3``).
        increments: the contract's market rule (from the broker); empty → ``params``.

    Returns:
        With ``increments``: the increment of the last row whose low edge is ``<= price``
        (the first row's below every edge). Without: ``params.min_tick_above_3`` when
        ``price >= 3.00``, else ``params.min_tick_below_3``.
    """
    if increments:
        tick = increments[0][1]
        for low_edge, increment in increments:
            if price >= low_edge - 1e-12:
                tick = increment
        return tick
    return params.min_tick_above_3 if price >= TICK_SWITCH_PRICE else params.min_tick_below_3


def min_tick(params: OrderParams, increments: Increments = ()) -> float:
    """The smallest price a limit can have (one tick at the bottom of the grid), points."""
    return increments[0][1] if increments else params.min_tick_below_3


@lru_cache(maxsize=64)  # pure, and only a few ticks exist: no Decimal per limit (issue 9)
def _decimals(tick: float) -> int:
    """Number of decimals needed to print a tick exactly (0.05 → 2)."""
    exponent = Decimal(str(tick)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_to_tick(
    price: float, params: OrderParams, *, action: Action, increments: Increments = ()
) -> float:
    """Round a premium to the VIX option tick grid, never in the trader's favour.

    BUY rounds UP (a buy limit at or above the target), SELL rounds DOWN. The tick is the
    contract's market rule when known (``increments``), else 0.05 at or above 3.00 and
    0.01 below (from ``params``). A SELL that would round to 0 is held at one tick,
    because a limit must be > 0.

    Args:
        price: premium per share, index points (finite, > 0).
        params: order parameters (tick sizes).
        action: BUY or SELL.
        increments: the contract's market rule; empty → the configured ticks.

    Returns:
        The rounded price, per share, on the tick grid, > 0.

    Raises:
        InvariantViolation: non-finite or non-positive price (a bug upstream).
    """
    if not math.isfinite(price) or price <= 0.0:
        msg = f"price must be finite and > 0, got {price!r}"
        raise InvariantViolation(msg)
    tick = tick_for(price, params, increments)
    ticks = price / tick
    if action is Action.BUY:
        n = math.ceil(ticks - _EPS_TICKS)
    else:
        n = math.floor(ticks + _EPS_TICKS)
        n = max(n, 1)
    return round(n * tick, _decimals(tick))


def limit_price(
    mid: float, params: OrderParams, *, action: Action, increments: Increments = ()
) -> float:
    """Limit price of a proposal: the mid plus the configured offset, rounded to the tick.

    BUY: ``mid × (1 + limit_offset_frac)`` rounded up; SELL: ``mid × (1 − limit_offset_frac)``
    rounded down (SPEC §6: "limit orders at the mid (configurable offset)").

    Args:
        mid: mid price per share, index points (finite, > 0).
        params: order parameters (offset, ticks).
        action: BUY or SELL.
        increments: the contract's market rule (broker mode); empty → the configured
            VIX option ticks (replay/sim, or no rule known).

    Returns:
        The limit price per share on the tick grid, > 0.

    Raises:
        InvariantViolation: non-finite or non-positive mid.
    """
    if not math.isfinite(mid) or mid <= 0.0:
        msg = f"mid must be finite and > 0, got {mid!r}"
        raise InvariantViolation(msg)
    sign = 1.0 if action is Action.BUY else -1.0
    target = mid * (1.0 + sign * params.limit_offset_frac)
    return round_to_tick(max(target, 1e-12), params, action=action, increments=increments)
