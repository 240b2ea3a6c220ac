"""IB contracts of the SPEC §2 series: build, qualify at start, read multipliers from details.

A required series (SPX, IWM, VIX) that does not qualify is a configuration error: the
process exits 78 with the contract named. Optional series (RVX, VIX3M, VX futures) are
logged and left out. Multipliers always come from contract details, never from literals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import structlog
from ib_async import IB, Contract, ContractDetails, Future, Index, Option, Stock

from adapters.ib.parsing import expiry_of, multiplier_of
from daemon.core.model import REQUIRED_SYMBOLS, OptionLeg, Symbol
from daemon.errors import BrokerRejected, BrokerUnavailable, ConfigError

log = structlog.get_logger(__name__)

VX_SYMBOLS: tuple[Symbol, ...] = (Symbol.VX1, Symbol.VX2, Symbol.VX3, Symbol.VX4)
"""The first four listed VX futures, by expiry rank (VIX options price on their own)."""
VX_MONTHLY_TRADING_CLASS = "VX"
"""IB's trading class of the monthly VX futures; weeklies are ``VX01``…``VX53`` (the ISO
week), listed under the same symbol on CFE (Cboe VX futures contract specifications)."""
VX_EXPIRY_TOLERANCE_DAYS = 3
"""A monthly VX may expire a business day early when the SPX expiry Friday is a holiday."""


def vx_monthly_expiry(year: int, month: int) -> date:
    """CFE final settlement date of the monthly VX future of ``month``.

    The Wednesday 30 days before the third Friday of the following calendar month (Cboe VX
    futures contract specifications, *Final Settlement Date*).

    Args:
        year: contract year.
        month: contract month (1-12).

    Returns:
        The final settlement date before holiday adjustment.
    """
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    first = date(ny, nm, 1)
    third_friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
    return third_friday - timedelta(days=30)


def is_monthly_vx(trading_class: str, expiry: date | None) -> bool:
    """A monthly VX future: trading class ``VX`` and an expiry on the CFE monthly rule.

    Args:
        trading_class: IB trading class of the future.
        expiry: its last trade date.

    Returns:
        False for the weeklies (``VX09``…) and for any date off the monthly rule.
    """
    if trading_class != VX_MONTHLY_TRADING_CLASS or expiry is None:
        return False
    for offset in (0, 1):
        y, m = expiry.year, expiry.month + offset
        if m > 12:
            y, m = y + 1, m - 12
        if abs((vx_monthly_expiry(y, m) - expiry).days) <= VX_EXPIRY_TOLERANCE_DAYS:
            return True
    return False


def contract_for(symbol: Symbol) -> Contract:
    """The unqualified IB contract of a SPEC §2 series (VX1/VX2: the VX future family).

    Args:
        symbol: the series.

    Returns:
        A new ``Contract`` (SPX/VIX/RVX/VIX3M: Index on CBOE; IWM: Stock SMART, primary
        ARCA; VX1/VX2: Future VIX on CFE without a month, which lists every live expiry).
    """
    if symbol is Symbol.IWM:
        return Stock("IWM", "SMART", "USD", primaryExchange="ARCA")
    if symbol in VX_SYMBOLS:
        return Future("VIX", exchange="CFE", currency="USD")
    return Index(str(symbol), "CBOE", "USD")


def describe(contract: Contract) -> str:
    """Short human name of a contract for logs and errors."""
    return " ".join(
        x
        for x in (
            contract.secType,
            contract.symbol,
            contract.lastTradeDateOrContractMonth,
            contract.exchange,
            contract.primaryExchange,
        )
        if x
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionChain:
    """VIX (or SPX) option-chain parameters from ``reqSecDefOptParams``.

    Attributes:
        trading_class: e.g. ``"VIX"``.
        multiplier: from IB (100).
        expiries: listed expiries, ascending.
        strikes: listed strikes, ascending (index points).
    """

    trading_class: str
    multiplier: int
    expiries: tuple[date, ...]
    strikes: tuple[float, ...]


@dataclass(slots=True)
class ContractBook:
    """Qualified contracts of the followed series, with their multipliers and expiries."""

    contracts: dict[Symbol, Contract] = field(default_factory=dict)
    multipliers: dict[Symbol, int] = field(default_factory=dict)
    expiries: dict[Symbol, date] = field(default_factory=dict)
    vix_chain: OptionChain | None = None

    def symbol_of(self, con_id: int) -> Symbol | None:
        """The series a conId belongs to, if followed."""
        for symbol, contract in self.contracts.items():
            if contract.conId == con_id:
                return symbol
        return None


async def qualify_series(
    ib: IB,
    symbols: Iterable[Symbol],
    *,
    required: frozenset[Symbol] = REQUIRED_SYMBOLS,
    timeout_s: float = 30.0,
    today: date | None = None,
) -> ContractBook:
    """Qualify the series' contracts (and the VIX option chain) at start.

    Args:
        ib: a connected ``IB``.
        symbols: series to follow.
        required: series whose failure is fatal.
        timeout_s: per-request timeout, seconds.
        today: the exchange date (VX futures expired before it are not followed).

    Returns:
        The contract book.

    Raises:
        ConfigError: a required contract did not qualify (named in the message).
        BrokerUnavailable: the requests timed out or the socket dropped.
    """
    book = ContractBook()
    wanted = list(dict.fromkeys(symbols))
    plain = [s for s in wanted if s not in VX_SYMBOLS]
    try:
        async with asyncio.timeout(timeout_s):
            details = await asyncio.gather(
                *(ib.reqContractDetailsAsync(contract_for(s)) for s in plain)
            )
    except TimeoutError as exc:
        raise BrokerUnavailable("IB contract details timed out") from exc
    for symbol, found in zip(plain, details, strict=True):
        if len(found) != 1 or found[0].contract is None:
            what = describe(contract_for(symbol))
            problem = "no security definition" if not found else f"{len(found)} matches"
            if symbol in required:
                raise ConfigError(
                    f"required IB contract {what} ({symbol}) did not qualify: {problem}",
                    key=f"ib.contracts.{symbol}",
                )
            log.warning("ib_contract_not_qualified", symbol=str(symbol), contract=what)
            continue
        contract = found[0].contract
        if symbol is Symbol.IWM:
            contract.exchange = "SMART"
        book.contracts[symbol] = contract
        book.multipliers[symbol] = multiplier_of(contract.multiplier)
    vx_wanted = [s for s in wanted if s in VX_SYMBOLS]
    if vx_wanted:
        await _qualify_vx(ib, book, vx_wanted, required, timeout_s, today=today)
    if Symbol.VIX in book.contracts:
        book.vix_chain = await option_chain(ib, book.contracts[Symbol.VIX], timeout_s=timeout_s)
    return book


async def _qualify_vx(
    ib: IB,
    book: ContractBook,
    vx: list[Symbol],
    required: frozenset[Symbol],
    timeout_s: float,
    *,
    today: date | None = None,
) -> None:
    """VX1/VX2 = the two nearest *monthly* VX futures not expired before ``today``.

    IB lists the weeklies beside the monthlies under ``FUT VIX CFE``; they are skipped by
    trading class and by the CFE expiry rule (:func:`is_monthly_vx`).
    """
    try:
        async with asyncio.timeout(timeout_s):
            found = await ib.reqContractDetailsAsync(contract_for(Symbol.VX1))
    except TimeoutError as exc:
        raise BrokerUnavailable("IB VX contract details timed out") from exc
    futures = sorted(
        (
            d.contract
            for d in found
            if d.contract is not None
            and is_monthly_vx(
                str(d.contract.tradingClass), expiry_of(d.contract.lastTradeDateOrContractMonth)
            )
            and (
                today is None
                or (expiry_of(d.contract.lastTradeDateOrContractMonth) or today) >= today
            )
        ),
        key=lambda c: c.lastTradeDateOrContractMonth,
    )
    skipped = [
        d.contract.localSymbol
        for d in found
        if d.contract is not None and d.contract not in futures
    ]
    if skipped:
        log.info("ib_vx_weeklies_skipped", local_symbols=skipped)
    for rank, symbol in enumerate(VX_SYMBOLS):
        if symbol not in vx:
            continue
        if rank >= len(futures):
            if symbol in required:
                raise ConfigError(
                    f"IB VX future for {symbol} not listed", key=f"ib.contracts.{symbol}"
                )
            log.warning("ib_contract_not_qualified", symbol=str(symbol), contract="FUT VIX CFE")
            continue
        contract = futures[rank]
        book.contracts[symbol] = contract
        book.multipliers[symbol] = multiplier_of(contract.multiplier)
        expiry = expiry_of(contract.lastTradeDateOrContractMonth)
        if expiry is not None:
            book.expiries[symbol] = expiry


async def option_chain(
    ib: IB, underlying: Contract, *, timeout_s: float = 30.0
) -> OptionChain | None:
    """The option chain parameters of ``underlying`` (trading class = its symbol).

    Raises:
        BrokerUnavailable: the request timed out.
    """
    try:
        async with asyncio.timeout(timeout_s):
            chains = await ib.reqSecDefOptParamsAsync(
                underlying.symbol, "", underlying.secType, underlying.conId
            )
    except TimeoutError as exc:
        raise BrokerUnavailable("IB option chain request timed out") from exc
    for chain in chains:
        if chain.tradingClass == underlying.symbol:
            expiries = sorted(e for e in (expiry_of(x) for x in chain.expirations) if e)
            return OptionChain(
                trading_class=chain.tradingClass,
                multiplier=multiplier_of(chain.multiplier),
                expiries=tuple(expiries),
                strikes=tuple(sorted(float(k) for k in chain.strikes)),
            )
    log.warning("ib_option_chain_missing", symbol=underlying.symbol)
    return None


def option_contract(leg: OptionLeg, *, symbol: str = "VIX") -> Option:
    """The unqualified IB option of an order leg (CBOE, the leg's trading class)."""
    return Option(
        symbol,
        f"{leg.expiry:%Y%m%d}",
        leg.strike,
        str(leg.right),
        "CBOE",
        tradingClass=leg.trading_class,
        currency="USD",
    )


async def qualify_option(
    ib: IB, leg: OptionLeg, *, symbol: str = "VIX", timeout_s: float = 30.0
) -> Contract:
    """Qualify the option of ``leg`` (see :func:`qualify_option_details`); its contract."""
    details = await qualify_option_details(ib, leg, symbol=symbol, timeout_s=timeout_s)
    if details.contract is None:  # excluded by qualify_option_details
        raise BrokerRejected(f"IB option {leg.strike:g}{leg.right} did not qualify", code=200)
    return details.contract


async def qualify_option_details(
    ib: IB, leg: OptionLeg, *, symbol: str = "VIX", timeout_s: float = 30.0
) -> ContractDetails:
    """Qualify the option of ``leg``; its multiplier must match the leg's.

    Raises:
        BrokerRejected: no (or an ambiguous) security definition, or a multiplier mismatch.
        BrokerUnavailable: the request timed out.
    """
    wanted = option_contract(leg, symbol=symbol)
    try:
        async with asyncio.timeout(timeout_s):
            found = await ib.reqContractDetailsAsync(wanted)
    except TimeoutError as exc:
        raise BrokerUnavailable("IB option contract details timed out") from exc
    if len(found) != 1 or found[0].contract is None:
        raise BrokerRejected(
            f"IB option {describe(wanted)} {leg.strike:g}{leg.right} did not qualify", code=200
        )
    contract = found[0].contract
    multiplier = multiplier_of(contract.multiplier)
    if multiplier != leg.multiplier:
        raise BrokerRejected(
            f"IB multiplier {multiplier} of {contract.localSymbol} differs from the "
            f"order's {leg.multiplier}"
        )
    return found[0]
