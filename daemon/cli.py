"""``alvhd`` command line: run, replay, demo, config, init, status and positions.

Exit codes: 0 clean stop; 1 crash; 66 (EX_NOINPUT) unusable input data; 74 (EX_IOERR) the
journal cannot be written; 78 (EX_CONFIG) configuration error — systemd's unit has
``RestartPreventExitStatus=78 74``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.errors import EXIT_CONFIG, EXIT_IOERR, ConfigError, DataError, JournalError

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from daemon.app import ReplayRun
    from daemon.core.model import Decision, MarketEvent, Symbol
    from daemon.report import DayColumns, StressWindow
    from daemon.settings import Settings

# Start-up (issue 9): this module imports only the standard library and daemon.errors at
# import time, so `alvhd --help` and `alvhd config` stay fast (tests/unit/test_startup.py).
# Each command imports what it uses (pandas, rich, ib_async, aiomqtt, exchange_calendars,
# matplotlib, apprise) inside its function; the composition root daemon.app is imported
# only by the commands that run the daemon or a replay.

SOURCES = ("sim", "replay", "ibkr")
"""``--source`` choices: the values of ``daemon.app.SourceKind`` (kept equal by a test)."""

EXIT_NOINPUT = 66
"""sysexits.h EX_NOINPUT: an input file is missing or unusable."""

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


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
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="debug, info (default for run), warning (default otherwise), error, critical",
    )
    parser = argparse.ArgumentParser(
        prog="alvhd",
        description="Adaptive Layered VIX Hedge daemon for a short SPX iron condor (paper mode "
        "by default).",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="run the daemon (supervised, MQTT, journal)")
    run.add_argument("--source", choices=SOURCES, default="ibkr")
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
    replay.add_argument(
        "--days-csv",
        type=Path,
        default=None,
        help="output CSV (default: days.csv, or DIR/days.csv with --report DIR)",
    )
    replay.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.html (self-contained) and the PNG charts into DIR",
    )
    replay.add_argument(
        "--window", metavar="NAME", help="with --report: zoom on this stress window"
    )
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.add_argument(
        "--stress-windows",
        type=Path,
        default=None,
        help="CSV name,start,end of windows to report apart (default: the packaged file)",
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
    _add_init_and_status(sub, common)

    pos = sub.add_parser(
        "positions",
        parents=[common],
        help="per-layer hedge books from the journal beside the IB account's positions",
    )
    pos.add_argument("--journal", type=Path, help="override journal.path")
    pos.add_argument("--ib-host", help="override ib.host")
    pos.add_argument("--ib-port", type=int, help="override ib.port")
    return parser


def _add_init_and_status(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """The ``init`` and ``status`` subcommands (issue 11)."""
    init = sub.add_parser(
        "init",
        parents=[common],
        help="write a starter config, env file, secrets dir (and systemd units); never overwrites",
    )
    init.add_argument(
        "--prefix",
        type=Path,
        help="directory to write into (default: /etc/alvhd as root, else $XDG_CONFIG_HOME/alvhd)",
    )
    init.add_argument(
        "--systemd", action="store_true", help="also write the systemd units, paths filled in"
    )
    status = sub.add_parser(
        "status", parents=[common], help="health, layers, last decisions and hedges of a journal"
    )
    status.add_argument("--source", choices=SOURCES, default="ibkr")
    status.add_argument("--journal", type=Path, help="the journal to read (overrides journal.path)")
    status.add_argument(
        "--mqtt-timeout-s",
        type=float,
        default=2.0,
        help="seconds to wait for the broker's retained status (0 = do not ask)",
    )
    status.add_argument("--json", action="store_true", help="one JSON object")


FLAGS: dict[str, str] = {
    "mqtt.host": "--mqtt-host",
    "mqtt.port": "--mqtt-port",
    "journal.path": "--journal",
    "ib.host": "--ib-host",
    "ib.port": "--ib-port",
    "ib.client_id": "--ib-client-id",
    "replay.data_dir": "--data-dir",
    "replay.start": "--start",
    "replay.end": "--end",
    "sim.sessions": "--sessions",
    "sim.session_seconds": "--session-seconds",
    "sim.seed": "--seed",
}
"""Dotted settings key → the command-line flag that overrides it (named in errors)."""


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


def _file_report(settings: Settings) -> dict[str, str]:
    """Every file and directory alvhd would use, resolved (``alvhd config``)."""
    files: dict[str, str] = {}
    found = settings.config_origin
    if found is not None:
        files["config file"] = f"{found.path} (from {found.origin.value})"
        if len(found.searched) > 1:
            files["config searched"] = ", ".join(str(p) for p in found.searched)
    from daemon import paths  # noqa: PLC0415
    from daemon.settings import secrets_dir_from_env  # noqa: PLC0415

    secrets = secrets_dir_from_env()
    password = settings.origins.get("mqtt_password", "default")
    files["secrets dir"] = (
        f"{secrets} ({'present' if secrets.is_dir() else 'missing'}; mqtt_password: "
        f"{'anonymous' if settings.mqtt_password is None else password})"
    )
    files["state dir"] = str(paths.state_dir())
    for key, name in (
        ("calendar.macro_events", settings.calendar.macro_events),
        ("stress windows", Path("stress_windows.csv")),
    ):
        try:
            files[key] = str(settings.data_file(key, name))
        except ConfigError as exc:
            files[key] = f"MISSING: {exc}"
    for source in SOURCES:
        files[f"journal ({source})"] = str(settings.journal_path_for(source))
    try:
        files["replay.data_dir"] = str(settings.replay_data_dir)
    except ConfigError:
        files["replay.data_dir"] = "(not set: give --data-dir DIR)"
    return files


def _toml_value(value: Any) -> str:
    """A JSON-able value rendered as TOML (``true``, ``"x"``, ``[...]``)."""
    if value is None:
        return '""'
    return json.dumps(value, ensure_ascii=False)


def _cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    """Print the effective configuration with where each value and file came from."""
    dump = settings.masked_dump()
    origins = settings.origins
    files = _file_report(settings)
    if args.json:
        print(json.dumps({**dump, "_origins": origins, "_files": files}, default=str))
        return 0
    for name, where in files.items():
        print(f"# {name:<22} {where}")
    for section, values in dump.items():
        if section.startswith("_"):
            continue
        if not isinstance(values, dict):
            print(f"{section} = {_toml_value(values)}  # {origins.get(section, 'default')}")
            continue
        print(f"\n[{section}]")
        for key, value in values.items():
            origin = origins.get(f"{section}.{key}", "default")
            print(f"{key} = {_toml_value(value)}  # {origin}")
    return 0


def _cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from daemon.app import DaemonOptions, SourceKind, run_daemon  # noqa: PLC0415

    opts = DaemonOptions(
        source=SourceKind(args.source),
        pace_s=args.pace_s,
        exit_at_end=args.exit_at_end,
        clock_start=args.clock_start,
    )
    return asyncio.run(run_daemon(settings, opts))


def _terminal_view(console: Console) -> Any:
    from daemon.core.model import (  # noqa: PLC0415
        Alert,
        AlertKind,
        LayerChange,
        ProposedOrder,
        Severity,
    )
    from daemon.report import describe_decision  # noqa: PLC0415

    styles = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red"}

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
                console.print(f"[{styles[decision.severity]}]  ! {line}[/]")

    return show


class _DemoStatus:
    """The demo's in-place status line: session, SPX/IWM/VIX closes and active layers."""

    def __init__(self, console: Console, sessions: int) -> None:
        self.status = console.status("warming up", spinner="dots")
        self.sessions = sessions
        self.done = 0
        self.prices: dict[Symbol, float] = {}  # last price per symbol
        self.layers: set[str] = set()

    def on_event(self, event: MarketEvent) -> None:
        from daemon.core.model import Quote, Symbol  # noqa: PLC0415

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
        from daemon.core.model import LayerChange  # noqa: PLC0415

        if isinstance(decision, LayerChange):
            if decision.is_active:
                self.layers.add(decision.layer.value)
            else:
                self.layers.discard(decision.layer.value)


def _cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415

    from daemon.app import DaemonOptions, SourceKind, run_daemon  # noqa: PLC0415

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


def _with_progress(run: Callable[[Callable[[date, int, int], None]], ReplayRun]) -> ReplayRun:
    """``run(on_session)`` under a rich progress bar on stderr (removed at the end).

    Args:
        run: runs the replay, calling ``on_session(day, done, total)`` after each close.
    """
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[day]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        # Each refresh renders the bar on rich's thread, holding the GIL the replay runs
        # on: 4 a second instead of 10 (issue 9: ≈ 0.05–0.1 s of a full replay on a TTY).
        refresh_per_second=4,
    )
    with progress:
        task = progress.add_task("replay", total=None, day="")

        def on_session(day: date, done: int, total: int) -> None:
            if done % 20 == 0 or done == total:
                progress.update(task, completed=done, total=total, day=day.isoformat())

        return run(on_session)


def _cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415

    from daemon.app import replay_fast  # noqa: PLC0415
    from daemon.report import (  # noqa: PLC0415
        day_columns,
        days_frame,
        load_stress_windows,
        summarize,
        summary_table,
        write_days_csv,
    )

    console = Console(width=max(Console().width, 180))
    windows_path = args.stress_windows or settings.data_file(
        "stress windows", Path("stress_windows.csv")
    )
    windows = load_stress_windows(windows_path)
    if args.window is not None:
        names = [w.name for w in windows]
        if args.report is None:
            raise ConfigError("--window NAME needs --report DIR (it zooms the report)")
        if args.window not in names:
            raise ConfigError(
                f"--window: no stress window named {args.window!r} in {windows_path} "
                f"(known: {', '.join(names)})"
            )

    def run(on_session: Callable[[date, int, int], None] | None = None) -> ReplayRun:
        return asyncio.run(
            replay_fast(
                settings, args.data_dir, start=args.start, end=args.end, on_session=on_session
            )
        )

    # --no-progress: no bar, and rich.progress is not imported (issue 9).
    result = run() if args.no_progress else _with_progress(run)
    days = result.days
    periods = summarize(days, result.decisions, windows)
    console.print(summary_table(periods))
    days_csv = args.days_csv or (
        args.report / "days.csv" if args.report is not None else Path("days.csv")
    )
    # Without --report nothing needs a DataFrame: days.csv and the P&L table are written
    # from the columns, and pandas is never imported (issue 9; the same bytes and figures).
    columns = day_columns(days)
    try:
        path = write_days_csv(columns, days_csv)
    except OSError as exc:
        flag = "--days-csv" if args.days_csv is not None else "days.csv"
        raise ConfigError(f"{flag}: cannot write {days_csv}: {exc.strerror or exc}") from exc
    frame = days_frame(columns) if args.report is not None else None
    _print_pnl(
        console, settings, columns, frame, windows, report_dir=args.report, window=args.window
    )
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
    import asyncio  # noqa: PLC0415

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


def _print_pnl(
    console: Console,
    settings: Settings,
    columns: DayColumns,
    frame: pd.DataFrame | None,
    windows: Sequence[StressWindow],
    *,
    report_dir: Path | None,
    window: str | None,
) -> None:
    """The P&L table of the replay (issue 12), and the HTML report when asked.

    Args:
        console: where the table goes.
        settings: the parameters shown in the report.
        columns: the replay's ``day_columns`` (the table is computed from them).
        frame: their ``days_frame``, given with ``report_dir`` (the charts need pandas).
        windows: the stress windows.
        report_dir: write the HTML report and its charts here.
        window: zoom the report on this stress window.
    """
    if "net_pnl_usd" not in columns:
        return
    from rich.console import Console  # noqa: PLC0415

    from daemon.report import pnl_rows, pnl_table, report_parameters  # noqa: PLC0415

    rows = pnl_rows(columns, windows, by_year=report_dir is not None)
    whole, _, win_rows = rows
    wide = Console(width=max(console.width, 300))
    wide.print(pnl_table([whole, *win_rows], "Condor vs condor + ALVH sleeve (USD)"))
    if report_dir is None or frame is None:
        return
    # matplotlib is imported only when a report is asked for (about 1 s of start-up).
    from daemon.report_html import write_report  # noqa: PLC0415

    try:
        files = write_report(
            report_dir,
            frame,
            windows=windows,
            parameters=report_parameters(settings),
            window=window,
            rows=rows,
        )
    except ValueError as exc:
        raise ConfigError(f"--window: {exc}") from exc
    console.print(f"report written to {files.html} ({len(files.pngs)} PNG charts beside it)")


def _cmd_init(_settings: Settings, args: argparse.Namespace) -> int:
    """``alvhd init``: write the starter files; refuse (73) if any exists."""
    from daemon import install  # noqa: PLC0415

    prefix = args.prefix or install.default_prefix()
    the_plan = install.plan(prefix, with_systemd=args.systemd)
    clash = install.existing(the_plan)
    if clash:
        for path in clash:
            print(f"alvhd: init: {path} exists; not overwriting it", file=sys.stderr)
        print(
            "alvhd: init: nothing written: move those files away or use --prefix DIR",
            file=sys.stderr,
        )
        return install.EXIT_CANTCREAT
    for path in install.write(the_plan):
        print(f"wrote {path} ({oct(path.stat().st_mode & 0o777)})")
    print("\nnext:")
    for number, command in enumerate(
        install.next_commands(the_plan, with_systemd=args.systemd), start=1
    ):
        print(f"  {number}. {command}")
    return 0


def _status_journal(settings: Settings, source: str) -> Path | None:
    """The journal ``alvhd status`` reads: the configured/default one, else the service's."""
    path = settings.journal_path_for(source)
    if path.is_file() or settings.journal.path is not None:
        return path if path.is_file() else None
    service = Path("/var/lib/alvhd") / path.name  # StateDirectory=alvhd of the shipped unit
    return service if service.is_file() else None


def _cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """``alvhd status``: journal + retained MQTT status; 66 when neither is available."""
    import asyncio  # noqa: PLC0415
    import sqlite3  # noqa: PLC0415

    from daemon import status  # noqa: PLC0415
    from daemon.app import read_retained_status  # noqa: PLC0415
    from daemon.errors import BrokerUnavailable  # noqa: PLC0415

    report = status.StatusReport()
    journal = _status_journal(settings, args.source)
    if journal is not None:
        try:
            status.read_journal(journal, report)
        except sqlite3.Error as exc:
            raise DataError(f"cannot read journal {journal}: {exc}") from exc
    if not settings.mqtt.enabled or args.mqtt_timeout_s <= 0:
        report.mqtt_error = "not asked (mqtt.enabled = false or --mqtt-timeout-s 0)"
    else:
        try:
            report.mqtt = asyncio.run(read_retained_status(settings, timeout_s=args.mqtt_timeout_s))
        except (BrokerUnavailable, DataError) as exc:
            report.mqtt_error = str(exc)
    if args.json:
        print(json.dumps(report.as_dict(), default=str))
    else:
        print(status.render(report, source=args.source))
    return 0 if journal is not None or report.mqtt is not None else EXIT_NOINPUT


def _cmd_positions(settings: Settings, _args: argparse.Namespace) -> int:
    """Print the reconciled books: exit 0 when the broker agrees, 1 on any difference."""
    import asyncio  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from daemon.app import positions_report  # noqa: PLC0415
    from daemon.errors import TransientError  # noqa: PLC0415

    try:
        report = asyncio.run(positions_report(settings))
    except TransientError as exc:
        print(f"alvhd: IB not reachable: {exc}", file=sys.stderr)
        return 1
    console = Console(width=160)
    console.print(f"account {report.account} — journal {settings.journal_path}")
    layers = Table(title="per-layer hedge books (journal executions by orderRef + execId)")
    for col in ("layer", "units", "legs", "premium paid USD", "opened", "orderRef"):
        layers.add_column(col)
    for h in report.hedges:
        legs = " ".join(f"{leg.position_qty:+d}x{leg.strike:g}{leg.right}" for leg in h.legs)
        layers.add_row(
            h.layer.value,
            str(h.contracts),
            f"{h.expiry} {legs}",
            f"{h.premium_paid_usd:,.2f}",
            str(h.opened_on),
            h.order_ref,
        )
    console.print(layers)
    side = Table(title="journal vs broker, per contract")
    for col in ("contract", "journal by layer", "journal", "broker", "check"):
        side.add_column(col)
    for row in report.rows:
        per = ", ".join(f"{k.value} {v:+g}" for k, v in sorted(row.by_layer.items())) or "-"
        side.add_row(
            row.description,
            per,
            f"{row.journal_qty:+g}",
            f"{row.broker_qty:+g}",
            "ok" if row.is_ok else "MISMATCH",
        )
    console.print(side)
    return 0 if all(r.is_ok for r in report.rows) else 1


QUIET_COMMANDS = frozenset({"config", "init"})
"""Commands that print their result and log nothing: no logging set-up (start-up time)."""

COMMANDS = {
    "run": _cmd_run,
    "replay": _cmd_replay,
    "demo": _cmd_demo,
    "config": _cmd_config,
    "init": _cmd_init,
    "status": _cmd_status,
    "positions": _cmd_positions,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``alvhd`` command (``argv`` as on the command line); returns the exit code."""
    return _run_command(_parser().parse_args(argv))


def _run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; ``alvhd replay`` with the garbage collector off."""
    if args.command != "replay":
        return _main(args)
    # `alvhd replay` is a one-shot batch: it runs with the cyclic garbage collector off
    # (issue 9: its collections were ≈ 0.15 s of a full-history replay, re-scanning the
    # engine's and the importers' long-lived objects, and found next to nothing: peak RSS
    # is the same with it off; tests/unit/test_replay_gc.py holds the run to that). It is
    # switched back on when the command returns (main() also runs inside test processes).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(args)
    finally:
        if was_enabled:
            gc.enable()


def _main(args: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit code."""
    # `run` logs JSON to stdout (journald); the interactive commands keep stdout for
    # their own output and log warnings and errors to stderr. `config` and `init` log
    # nothing, so they skip structlog (and the rich it imports): start-up < 0.3 s.
    from daemon.settings import load_settings  # noqa: PLC0415

    is_daemon = args.command == "run" or (
        args.command == "bridge" and not (args.test or args.print_config)
    )
    if args.command not in QUIET_COMMANDS:
        from daemon.logsetup import configure_logging  # noqa: PLC0415

        configure_logging(
            getattr(args, "log_level", "info" if is_daemon else "warning"),
            stream=sys.stdout if is_daemon else sys.stderr,
        )
    try:
        if args.command == "bridge":
            return _cmd_bridge(args)
        settings = load_settings(getattr(args, "config", None), flags=FLAGS, **_overrides(args))
        return COMMANDS[args.command](settings, args)
    except ConfigError as exc:
        print(f"alvhd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DataError as exc:
        print(f"alvhd: input data error: {exc}", file=sys.stderr)
        return EXIT_NOINPUT
    except JournalError as exc:
        print(f"alvhd: journal error: {exc}", file=sys.stderr)
        return EXIT_IOERR
    except KeyboardInterrupt:
        print("alvhd: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """``alvhd`` console script: exit with the command's code.

    ``alvhd replay`` ends the process with ``os._exit`` once stdout, stderr and the
    logging handlers are flushed (every file it wrote is closed by then): an ordinary
    exit tears the interpreter down and frees the whole run's objects one by one, about
    0.06–0.09 s of the ≈ 1.5 s a user waits for the full history (issue 9). Every other
    command, and ``main()`` called in-process (tests), exits the ordinary way.
    """
    args = _parser().parse_args()
    code = _run_command(args)
    if args.command == "replay":
        import logging  # noqa: PLC0415 - only to flush its handlers before the fast exit
        import os  # noqa: PLC0415

        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)
