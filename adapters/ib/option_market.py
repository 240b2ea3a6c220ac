"""Streaming quotes of the listed VIX options near the money: the ``OptionMarket`` port.

The engine decides at the session close, synchronously, so the quotes it prices with must
already be there. :class:`IbOptionMarket` keeps streaming ``reqMktData`` subscriptions
(bid/ask plus IB's option-computation ticks, which carry the model IV and greeks; TWS API
"Option Greeks") for the options the ladder can pick:

* expiries: the listed VIX expiries (``reqSecDefOptParams``) 7 to 75 days out (L1/L3's
  front expiry ≥ 14 days, L2's 30–60 days, roll targets), at most three;
* strikes: the listed strikes from 0.95× to 2.6× the expiry's VX future (L1 = F + 2,
  L2 ≈ F × e^(1.5σ√T), L3 = L1 and L1 + width), at most ``max_strikes`` per expiry;
* the VIX options the account holds, whatever their expiry and strike (a roll under 7
  days or a close prices each leg from its quote).

The set is refreshed when the VX futures move more than ``refresh_move_frac`` or after a
reconnect. Only contracts that qualified are subscribed; the engine falls back to the model
(``price_source="model"``) for an option it has no quote of. Delayed or frozen data is
never a quote (the same rule as the index series).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import structlog
from ib_async import Contract, Option

from adapters.ib.contracts import OptionChain
from adapters.ib.quotes import clean
from daemon.core.listing import OptionQuote
from daemon.core.model import OptionLeg

log = structlog.get_logger(__name__)

LIVE_MARKET_DATA = 1
MIN_DTE = 7
MAX_DTE = 75
MAX_EXPIRIES = 3
LOW_FRAC = 0.95
HIGH_FRAC = 2.6
_Key = tuple[date, float, str]


def candidate_options(
    chain: OptionChain,
    futures: Mapping[date, float],
    today: date,
    *,
    max_strikes: int = 16,
) -> list[_Key]:
    """The (expiry, strike, right) of the calls the ladder can pick today.

    Args:
        chain: the listed VIX option expiries and strikes.
        futures: VX future price by expiry (the nearest one is used for other expiries).
        today: the exchange date.
        max_strikes: strikes per expiry (the nearest above 0.95 × F first).

    Returns:
        Keys, by expiry then strike.
    """
    if not futures:
        return []
    expiries = [e for e in chain.expiries if MIN_DTE <= (e - today).days <= MAX_DTE]
    out: list[_Key] = []
    for expiry in expiries[:MAX_EXPIRIES]:
        nearest = min(futures, key=lambda e: abs((e - expiry).days))
        f = futures[nearest]
        strikes = [k for k in chain.strikes if LOW_FRAC * f <= k <= HIGH_FRAC * f]
        out += [(expiry, k, "C") for k in strikes[:max_strikes]]
    return out


class IbOptionMarket:
    """Synchronous quotes of streamed VIX options (implements ``OptionMarket``).

    Args:
        ib: the connected ``ib_async.IB``.
        request_timeout_s: timeout of the contract-details requests, seconds.
        refresh_move_frac: resubscribe when a VX future moved this much (fraction).
    """

    def __init__(
        self, ib: Any, *, request_timeout_s: float = 30.0, refresh_move_frac: float = 0.05
    ) -> None:
        self.ib = ib
        self.request_timeout_s = request_timeout_s
        self.refresh_move_frac = refresh_move_frac
        self._contracts: dict[_Key, Contract] = {}
        self._tickers: dict[_Key, Any] = {}
        self._ref: dict[date, float] = {}
        self._unlisted: set[_Key] = set()
        self._rule_ids: dict[_Key, int] = {}
        self._rules: dict[int, tuple[tuple[float, float], ...]] = {}
        """Market rule id → ``(low_edge, increment)`` rows (``reqMarketRule``, once per id)."""

    # ------------------------------------------------------------------ port
    def quote(self, leg: OptionLeg) -> OptionQuote | None:
        """The latest live quote of ``leg``'s option, or None (not streamed, delayed, empty).

        Returns:
            ``OptionQuote`` with bid/ask None for an empty side and the model IV of IB's
            option computation (None when not sent yet).
        """
        key = (leg.expiry, float(leg.strike), str(leg.right))
        ticker = self._tickers.get(key)
        if ticker is None or int(ticker.marketDataType) != LIVE_MARKET_DATA:
            return None
        bid, ask = clean(ticker.bid), clean(ticker.ask)
        if bid is None and ask is None:
            return None
        greeks = ticker.modelGreeks
        iv = clean(greeks.impliedVol) if greeks is not None else None
        return OptionQuote(bid=bid, ask=ask, iv=iv, increments=self._increments_of(key))

    def increments(self, leg: OptionLeg) -> tuple[tuple[float, float], ...]:
        """The price increments of ``leg``'s option, with or without a live quote.

        Its own market rule once it qualified; else the rule every VIX option seen so
        far has (one rule for the class); ``()`` before any rule arrived.
        """
        return self._increments_of((leg.expiry, float(leg.strike), str(leg.right)))

    def _increments_of(self, key: _Key) -> tuple[tuple[float, float], ...]:
        rule_id = self._rule_ids.get(key)
        if rule_id is not None and rule_id in self._rules:
            return self._rules[rule_id]
        known = set(self._rules.values())
        return next(iter(known)) if len(known) == 1 else ()

    async def _fetch_rules(self) -> None:
        """``reqMarketRule`` once per market rule id the qualified options name.

        IB: the price increment of a contract is its market rule (``ContractDetails
        .marketRuleIds``, one id per valid exchange, → ``reqMarketRule`` →
        ``PriceIncrement(lowEdge, increment)`` rows; TWS API "Market Rule", ib_async
        ``IB.reqMarketRuleAsync``). An unanswered request leaves the rule unknown (the
        engine then uses the configured ticks; the order sink checks the rule again).
        """
        missing = sorted(set(self._rule_ids.values()) - set(self._rules))
        if not missing:
            return
        try:
            async with asyncio.timeout(self.request_timeout_s):
                rows = await asyncio.gather(*(self.ib.reqMarketRuleAsync(i) for i in missing))
        except TimeoutError:
            log.warning("ib_market_rule_unanswered", rule_ids=missing)
            return
        for rule_id, found in zip(missing, rows, strict=True):
            if found:
                self._rules[rule_id] = tuple((float(r.lowEdge), float(r.increment)) for r in found)
        log.info("ib_market_rules", rules={str(k): v for k, v in self._rules.items()})

    @property
    def streamed(self) -> list[_Key]:
        """Keys of the options currently streamed."""
        return sorted(self._tickers)

    def is_settled(self, futures: Mapping[date, float]) -> bool:
        """Streaming the right set for ``futures`` and every streamed option has quoted."""
        if self.needs_refresh(futures) or not self._tickers:
            return False
        return all(
            clean(t.bid) is not None or clean(t.ask) is not None for t in self._tickers.values()
        )

    # ------------------------------------------------------------------ refresh
    def needs_refresh(self, futures: Mapping[date, float]) -> bool:
        """True when nothing is streamed yet or a VX future moved past the threshold."""
        if not futures:
            return False
        if not self._ref:
            return True
        if any(k not in self._tickers and k not in self._unlisted for k in self.held_keys()):
            return True  # a new option held (a fill): stream it
        for expiry, price in futures.items():
            ref = self._ref.get(expiry)
            if ref is None or abs(price - ref) > self.refresh_move_frac * ref:
                return True
        return False

    def held_keys(self) -> list[_Key]:
        """(expiry, strike, right) of every VIX option the account holds (``ib.positions``)."""
        out: list[_Key] = []
        for pos in self.ib.positions():
            c = pos.contract
            if c.secType != "OPT" or c.symbol != "VIX" or not pos.position:
                continue
            ymd = str(c.lastTradeDateOrContractMonth)[:8]
            expiry = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
            out.append((expiry, float(c.strike), str(c.right)[:1]))
        return sorted(set(out))

    def forget(self) -> None:
        """Drop every subscription record (after a reconnect the tickers are dead)."""
        self._tickers.clear()
        self._ref.clear()

    async def refresh(self, chain: OptionChain, futures: Mapping[date, float], today: date) -> None:
        """Stream the candidate options, qualify new ones, cancel the rest.

        Raises:
            TimeoutError: contract details did not come within the request timeout.
        """
        candidates = candidate_options(chain, futures, today)
        # the options held stay quoted too (a roll or a close prices each leg from its
        # quote, even under 7 days or far from the money)
        held = [k for k in self.held_keys() if k not in candidates]
        wanted = [k for k in (*candidates, *held) if k not in self._unlisted]
        new = [k for k in wanted if k not in self._contracts]
        if new:
            async with asyncio.timeout(self.request_timeout_s):
                found = await asyncio.gather(
                    *(self.ib.reqContractDetailsAsync(_option(chain, k)) for k in new)
                )
            for key, details in zip(new, found, strict=True):
                if len(details) == 1 and details[0].contract is not None:
                    self._contracts[key] = details[0].contract
                    rule_ids = [x for x in str(details[0].marketRuleIds or "").split(",") if x]
                    if rule_ids:
                        self._rule_ids[key] = int(rule_ids[0])
                else:
                    self._unlisted.add(key)
            await self._fetch_rules()
        keep = {k for k in wanted if k in self._contracts}
        for key in [k for k in self._tickers if k not in keep]:
            self.ib.cancelMktData(self._contracts[key])
            del self._tickers[key]
        for key in sorted(keep - set(self._tickers)):
            self._tickers[key] = self.ib.reqMktData(self._contracts[key], "", False, False)
        self._ref = dict(futures)
        log.info(
            "ib_option_quotes_streamed",
            options=len(self._tickers),
            expiries=sorted({str(k[0]) for k in self._tickers}),
            unlisted=len(self._unlisted),
        )


def _option(chain: OptionChain, key: _Key) -> Option:
    expiry, strike, right = key
    return Option(
        "VIX",
        f"{expiry:%Y%m%d}",
        strike,
        right,
        "CBOE",
        tradingClass=chain.trading_class,
        currency="USD",
    )


def futures_by_expiry(
    prices: Mapping[Any, float], expiries: Mapping[Any, date]
) -> dict[date, float]:
    """VX future price by expiry from the followed VX1/VX2 quotes."""
    return {expiries[s]: p for s, p in prices.items() if s in expiries and p > 0.0}


__all__: Sequence[str] = ["IbOptionMarket", "candidate_options", "futures_by_expiry"]
