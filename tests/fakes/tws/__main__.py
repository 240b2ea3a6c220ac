"""Run the fake TWS by hand: ``uv run python -m tests.fakes.tws --port 4002``.

It serves the real daily history before ``--as-of`` (plus ``--as-of``'s unfinished bar once
it traded, as IB does) and, every ``--tick-s`` seconds, pushes the next session's closes
(SPX, IWM, VIX, RVX, VIX3M, VX) to every subscriber — ``--sessions N`` stops after N — so
``alvhd run --source ibkr --ib-port <port>`` shows quotes, ladder state and proposals.
VIX options are quoted with bid/ask and greeks; paper orders fill only when marketable, at
the quote. Stop with Ctrl-C.

Fault scripting (for the end-to-end fault tests): ``--hold-day`` pushes the closes of
``--as-of`` itself every tick (a steady market) instead of advancing a session per tick;
``--control-stdin`` reads commands from standard input, one per line:

- ``stall SECONDS``: the feed sends no tick for that long (:meth:`FakeTws.stall`);
- ``push KEY PRICE``: one last-price tick of series ``KEY`` (``SPX``, ``VIX``...), e.g. a
  bad print ``push SPX 30``.

Each command is acknowledged on stdout as ``ok <command>`` (``error <reason>`` if refused).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from datetime import date, timedelta

from tests.conftest import find_market_dir
from tests.fakes.tws.server import FakeTws, third_friday

log = logging.getLogger("fake_tws")


def seed_condor(tws: FakeTws, contracts: int = 10) -> None:
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


def run_command(tws: FakeTws, line: str) -> str:
    """Apply one control command (``stall SECONDS`` or ``push KEY PRICE``); return the ack."""
    parts = line.split()
    try:
        match parts:
            case ["stall", seconds]:
                tws.stall(float(seconds))
            case ["push", key, price]:
                tws.push_price(key, float(price))
            case _:
                return f"error unknown command {line!r}"
    except ValueError as exc:
        return f"error {exc}"
    log.info("control: %s", line)
    return f"ok {line}"


async def control_from_stdin(tws: FakeTws) -> None:
    """Read control commands from stdin (a pipe) until it closes; ack each on stdout."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while raw := await reader.readline():
        line = raw.decode().strip()
        if line:
            sys.stdout.write(run_command(tws, line) + "\n")
            sys.stdout.flush()


async def serve(
    port: int,
    as_of: date,
    tick_s: float,
    account: str,
    *,
    condor: bool,
    hold_day: bool = False,
    control: bool = False,
    sessions: int | None = None,
    condor_contracts: int = 10,
    answer_option_chain: bool = True,
    spread_frac: float | None = None,
) -> None:
    """Serve until cancelled, advancing one session per ``tick_s`` seconds (``sessions`` max).

    With ``hold_day`` every tick pushes the closes of ``as_of`` again; with ``control``
    commands are read from stdin (see the module docstring).
    """
    tws = FakeTws(find_market_dir(), as_of=as_of, account=account)
    tws.port = port
    tws.answer_option_chain = answer_option_chain
    if spread_frac is not None:
        tws.spread_frac = spread_frac
    if condor:
        seed_condor(tws, condor_contracts)
    async with tws, asyncio.TaskGroup() as group:
        if control:
            group.create_task(control_from_stdin(tws), name="fake_tws.control")
        log.info(
            "fake TWS listening on 127.0.0.1:%d, account %s, as of %s", tws.port, account, as_of
        )
        day = as_of
        pushed = 0
        while True:
            await asyncio.sleep(tick_s)
            if sessions is not None and pushed >= sessions:
                continue
            if tws.data.bar_on("SPX", day) is not None:
                sent = tws.push_session(day)
                pushed += 1
                log.info("pushed the closes of %s to %d subscriptions", day, sent)
            if not hold_day:
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
        "--hold-day", action="store_true", help="push the closes of --as-of on every tick"
    )
    parser.add_argument(
        "--control-stdin", action="store_true", help="read stall/push commands from stdin"
    )
    parser.add_argument(
        "--sessions", type=int, default=None, help="push at most this many sessions' closes"
    )
    parser.add_argument("--condor-contracts", type=int, default=10, help="condors seeded")
    parser.add_argument(
        "--hang-option-chain",
        action="store_true",
        help="fault: never answer reqSecDefOptParams (the option chain request)",
    )
    parser.add_argument(
        "--spread-frac",
        type=float,
        default=None,
        help="option bid/ask width as a fraction of value (default 0.06; 1.0 = wide markets)",
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
                hold_day=args.hold_day,
                control=args.control_stdin,
                sessions=args.sessions,
                condor_contracts=args.condor_contracts,
                answer_option_chain=not args.hang_option_chain,
                spread_frac=args.spread_frac,
            )
        )


if __name__ == "__main__":
    main()
