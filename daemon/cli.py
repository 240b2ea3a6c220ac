"""``alvhd`` command line: ``run``, ``replay``, ``demo`` and ``config``.

Exit codes: 0 clean stop; 1 crash; 66 (EX_NOINPUT) unusable input data; 78 (EX_CONFIG)
configuration error — systemd's unit has ``RestartPreventExitStatus=78``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from daemon.app import DaemonOptions, SourceKind, replay_fast, run_daemon
from daemon.core.model import (
    Alert,
    AlertKind,
    Decision,
    LayerChange,
    MarketEvent,
    ProposedOrder,
    Quote,
    Severity,
    Symbol,
)
from daemon.errors import EXIT_CONFIG, ConfigError, DataError
from daemon.logsetup import configure_logging
from daemon.report import (
    describe_decision,
    load_stress_windows,
    summarize,
    summary_table,
    write_days_csv,
)
from daemon.settings import DEFAULT_CONFIG_PATH, Settings, load_settings

EXIT_NOINPUT = 66
"""sysexits.h EX_NOINPUT: an input file is missing or unusable."""

log = structlog.get_logger(__name__)


def _aware_datetime(text: str) -> datetime:
    """Argparse type: an ISO datetime with a UTC offset."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        msg = f"{text!r} has no UTC offset (e.g. 2020-02-24T16:14:30-05:00)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML config file")
    common.add_argument(
        "--log-level", default=argparse.SUPPRESS, help="debug, info (default), warning, error"
    )
    parser = argparse.ArgumentParser(
        prog="alvhd",
        description="Adaptive Layered VIX Hedge daemon for a short SPX iron condor (paper mode "
        "by default).",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="run the daemon (supervised, MQTT, journal)")
    run.add_argument("--source", choices=[k.value for k in SourceKind], default="ibkr")
    run.add_argument("--start", type=date.fromisoformat, help="replay: first session")
    run.add_argument("--end", type=date.fromisoformat, help="replay: last session")
    run.add_argument("--data-dir", type=Path, help="replay: directory of the daily CSVs")
    run.add_argument("--pace-s", type=float, default=0.0, help="replay: seconds per session")
    run.add_argument("--exit-at-end", action="store_true", help="replay/sim: exit when done")
    run.add_argument("--mqtt-host", help="override mqtt.host")
    run.add_argument("--mqtt-port", type=int, help="override mqtt.port")
    run.add_argument("--journal", type=Path, help="override journal.path")
    run.add_argument("--ib-host", help="override ib.host")
    run.add_argument("--ib-port", type=int, help="override ib.port")
    run.add_argument("--ib-client-id", type=int, help="override ib.client_id")
    run.add_argument(
        "--clock-start",
        type=_aware_datetime,
        help="rehearsal (paper mode only): start the daemon's clock at this ISO instant, "
        "e.g. 2020-02-24T16:14:30-05:00, to run against the fake TWS or a replayed feed",
    )

    replay = sub.add_parser(
        "replay", parents=[common], help="replay a history directory as fast as possible"
    )
    replay.add_argument("data_dir", type=Path, help="directory of the daily CSVs")
    replay.add_argument("--start", type=date.fromisoformat, help="first session (ISO date)")
    replay.add_argument("--end", type=date.fromisoformat, help="last session (ISO date)")
    replay.add_argument("--days-csv", type=Path, default=Path("days.csv"), help="output CSV")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.add_argument(
        "--stress-windows",
        type=Path,
        default=DEFAULT_CONFIG_PATH.parent / "stress_windows.csv",
        help="CSV name,start,end of windows to report apart",
    )

    demo = sub.add_parser(
        "demo", parents=[common], help="simulator + live terminal view (+ MQTT if a broker)"
    )
    demo.add_argument("--sessions", type=int, help="simulated sessions (default from config)")
    demo.add_argument("--session-seconds", type=float, help="wall seconds per session")
    demo.add_argument("--seed", type=int, help="simulator seed")

    cfg = sub.add_parser(
        "config", parents=[common], help="print the effective configuration, secrets masked"
    )
    cfg.add_argument("--json", action="store_true", help="compact JSON on one line")

    bridge = sub.add_parser(
        "bridge",
        parents=[common],
        help="deliver alerts and proposals to phones and Slack (Apprise), watch the daemon",
    )
    bridge.add_argument(
        "--bridge-config", type=Path, help="bridge TOML (default config/bridge.toml)"
    )
    bridge.add_argument(
        "--test", action="store_true", help="send one test message to every target and exit"
    )
    bridge.add_argument(
        "--print-config", action="store_true", help="print the effective bridge configuration"
    )
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """CLI flags → dotted settings overrides (only those given)."""
    pairs = {
        "mqtt.host": getattr(args, "mqtt_host", None),
        "mqtt.port": getattr(args, "mqtt_port", None),
        "journal.path": getattr(args, "journal", None),
        "ib.host": getattr(args, "ib_host", None),
        "ib.port": getattr(args, "ib_port", None),
        "ib.client_id": getattr(args, "ib_client_id", None),
        "replay.data_dir": getattr(args, "data_dir", None),
        "replay.start": getattr(args, "start", None),
        "replay.end": getattr(args, "end", None),
        "sim.sessions": getattr(args, "sessions", None),
        "sim.session_seconds": getattr(args, "session_seconds", None),
        "sim.seed": getattr(args, "seed", None),
    }
    return {k: v for k, v in pairs.items() if v is not None}


# --------------------------------------------------------------------------- commands


def _cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    dump = settings.masked_dump()
    print(json.dumps(dump, indent=None if args.json else 2, default=str))
    return 0


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    opts = DaemonOptions(
        source=SourceKind(args.source),
        pace_s=args.pace_s,
        exit_at_end=args.exit_at_end,
        clock_start=args.clock_start,
    )
    return asyncio.run(run_daemon(settings, opts))


_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red"}


def _terminal_view(console: Console) -> Any:
    def show(decision: Decision) -> None:
        line = describe_decision(decision)
        match decision:
            case LayerChange(is_active=True):
                console.print(f"[bold green]▲ {line}[/]")
                for reading in decision.reasons:
                    if reading.holds:
                        console.print(f"    [green]why:[/] {reading.detail}")
                console.print(f"    [dim]ends when: {decision.exit_rule}[/]")
            case LayerChange():
                console.print(f"[bold magenta]▼ {line}[/]")
            case ProposedOrder():
                console.print(f"[white]  ⇢ {line}[/]")
            case Alert(kind=AlertKind.LAYER_ACTIVATED | AlertKind.LAYER_DEACTIVATED):
                pass  # the LayerChange line above already says it, with its reasons
            case Alert():
                console.print(f"[{_STYLE[decision.severity]}]  ! {line}[/]")

    return show


class _DemoStatus:
    """The demo's in-place status line: session, SPX/IWM/VIX closes and active layers."""

    def __init__(self, console: Console, sessions: int) -> None:
        self.status = console.status("warming up", spinner="dots")
        self.sessions = sessions
        self.done = 0
        self.prices: dict[Symbol, float] = {}
        self.layers: set[str] = set()

    def on_event(self, event: MarketEvent) -> None:
        if isinstance(event, Quote):
            self.prices[event.symbol] = event.price
            return
        self.done += 1
        p = self.prices
        layers = "+".join(sorted(self.layers)) or "none"
        self.status.update(
            f"session {self.done}/{self.sessions} {event.session_date}  "
            f"SPX {p.get(Symbol.SPX, 0):,.0f}  IWM {p.get(Symbol.IWM, 0):.2f}  "
            f"VIX {p.get(Symbol.VIX, 0):.2f}  layers {layers}"
        )

    def on_decision(self, decision: Decision) -> None:
        if isinstance(decision, LayerChange):
            if decision.is_active:
                self.layers.add(decision.layer.value)
            else:
                self.layers.discard(decision.layer.value)


def _cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    console = Console()
    status = _DemoStatus(console, settings.sim.sessions)
    view = _terminal_view(console)

    def on_decision(decision: Decision) -> None:
        status.on_decision(decision)
        view(decision)

    opts = DaemonOptions(
        source=SourceKind.SIM,
        exit_at_end=True,
        use_embedded_broker=True,
        fresh_journal=True,
        on_decision=on_decision,
        on_event=status.on_event,
        on_started=lambda notes: console.print(*(f"[dim]{n}[/]" for n in notes), sep="\n"),
    )
    sim = settings.sim
    console.rule("[bold]alvhd demo[/]: simulator → ALVH engine → alerts (paper mode)")
    console.print(
        f"{sim.sessions} simulated sessions at {sim.session_seconds:g} s each "
        f"(≈ {sim.sessions * sim.session_seconds / 60:.1f} min), seed {sim.seed}. "
        "Ctrl-C stops cleanly."
    )
    with status.status:
        code = asyncio.run(run_daemon(settings, opts))
    console.rule(f"demo finished (exit {code})")
    return code


def _cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    console = Console(width=max(Console().width, 180))
    windows = load_stress_windows(args.stress_windows)
    progress = Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[day]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=args.no_progress,
        transient=True,
    )
    with progress:
        task = progress.add_task("replay", total=None, day="")

        def on_session(day: date, done: int, total: int) -> None:
            if done % 20 == 0 or done == total:
                progress.update(task, completed=done, total=total, day=day.isoformat())

        result = asyncio.run(
            replay_fast(
                settings,
                args.data_dir,
                start=args.start,
                end=args.end,
                on_session=on_session,
            )
        )
    days = result.engine.days
    periods = summarize(days, result.decisions, windows)
    console.print(summary_table(periods))
    path = write_days_csv(days, args.days_csv)
    whole = periods[0]
    console.print(
        f"{result.sessions} sessions {whole.start} → {whole.end}, {result.quotes} quotes "
        f"({result.rejected_quotes} rejected), {result.rejected_rows} bad input rows skipped; "
        f"cost cap held on every day: {'yes' if whole.cost_cap_held else 'NO'}"
    )
    console.print(f"days.csv written to {path}")
    return 0 if whole.cost_cap_held else 1


def _cmd_bridge(args: argparse.Namespace) -> int:
    """``alvhd bridge``: run the alert bridge, or ``--test`` every target once.

    Separate from the daemon's commands: it reads ``config/bridge.toml`` (or
    ``--bridge-config`` / ``$ALVH_BRIDGE_CONFIG``), not the daemon's settings.
    """
    from daemon.bridge.app import format_test_results, run_bridge, run_test  # noqa: PLC0415
    from daemon.bridge.settings import load_bridge_settings  # noqa: PLC0415

    settings = load_bridge_settings(args.bridge_config)
    if args.print_config:
        print(json.dumps(settings.masked_dump(), indent=2, default=str))
        return 0
    if args.test:
        results = asyncio.run(run_test(settings))
        if not results:
            print("alvhd bridge: no [[targets]] configured", file=sys.stderr)
            return 1
        for line in format_test_results(results):
            print(line)
        return 0 if all(err is None for _, err in results) else 1
    return asyncio.run(run_bridge(settings))


COMMANDS = {"run": _cmd_run, "replay": _cmd_replay, "demo": _cmd_demo, "config": _cmd_config}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alvhd`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    # `run` logs JSON to stdout (journald); the interactive commands keep stdout for
    # their own output and log warnings and errors to stderr.
    is_daemon = args.command == "run" or (
        args.command == "bridge" and not (args.test or args.print_config)
    )
    configure_logging(
        getattr(args, "log_level", "info" if is_daemon else "warning"),
        stream=sys.stdout if is_daemon else sys.stderr,
    )
    try:
        if args.command == "bridge":
            return _cmd_bridge(args)
        settings = load_settings(getattr(args, "config", None), **_overrides(args))
        return COMMANDS[args.command](settings, args)
    except ConfigError as exc:
        print(f"alvhd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DataError as exc:
        print(f"alvhd: input data error: {exc}", file=sys.stderr)
        return EXIT_NOINPUT
    except KeyboardInterrupt:
        print("alvhd: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """``alvhd`` console script: exit with ``main()``'s code."""
    sys.exit(main())
