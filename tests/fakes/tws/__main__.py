"""Run the fake TWS by hand: ``uv run python -m tests.fakes.tws --port 4002``.

It serves the real daily history before ``--as-of`` and, every ``--tick-s`` seconds,
pushes the next session's closes (SPX, IWM, VIX, RVX, VIX3M, VX) to every subscriber, so
``alvhd run --source ibkr --ib-port <port>`` shows quotes, ladder state and proposals.
Paper orders fill at their limit. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import date, timedelta

from tests.conftest import find_market_dir
from tests.fakes.tws.server import FakeTws, third_friday

log = logging.getLogger("fake_tws")


def seed_condor(tws: FakeTws, contracts: int = 2) -> None:
    """A short SPXW iron condor about 30 days out, strikes 5%/8% around the last close."""
    spot = tws.data.last_close_before("SPX", tws.as_of) or 3000.0
    month = tws.as_of.replace(day=1) + timedelta(days=32)
    expiry = third_friday(month.year, month.month)

    def strike(frac: float) -> float:
        return float(round(spot * frac / 5) * 5)

    for k, right, qty, cost in (
        (strike(0.92), "P", contracts, 600.0),
        (strike(0.95), "P", -contracts, 1100.0),
        (strike(1.05), "C", -contracts, 900.0),
        (strike(1.08), "C", contracts, 300.0),
    ):
        tws.add_position(tws.option("SPX", "SPXW", expiry, k, right), qty, cost)


async def serve(
    port: int,
    as_of: date,
    tick_s: float,
    account: str,
    *,
    condor: bool,
    answer_option_chain: bool = True,
) -> None:
    """Serve until cancelled, advancing one session per ``tick_s`` seconds."""
    tws = FakeTws(find_market_dir(), as_of=as_of, account=account)
    tws.port = port
    tws.answer_option_chain = answer_option_chain
    if condor:
        seed_condor(tws)
    async with tws:
        log.info(
            "fake TWS listening on 127.0.0.1:%d, account %s, as of %s", tws.port, account, as_of
        )
        day = as_of
        while True:
            await asyncio.sleep(tick_s)
            if tws.data.bar_on("SPX", day) is not None:
                sent = tws.push_session(day)
                log.info("pushed the closes of %s to %d subscriptions", day, sent)
            day += timedelta(days=1)


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.tws", description=__doc__)
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2020, 2, 24))
    parser.add_argument("--tick-s", type=float, default=2.0)
    parser.add_argument("--account", default="DU1234567")
    parser.add_argument("--no-condor", action="store_true", help="do not seed a condor")
    parser.add_argument(
        "--hang-option-chain",
        action="store_true",
        help="fault: never answer reqSecDefOptParams (the option chain request)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fake_tws %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                args.port,
                args.as_of,
                args.tick_s,
                args.account,
                condor=not args.no_condor,
                answer_option_chain=not args.hang_option_chain,
            )
        )


if __name__ == "__main__":
    main()
