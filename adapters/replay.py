"""Daily-bar replay of the real market history (a ``MarketDataSource``).

Reads the CSV files of ``shared/data/market`` (see its PROVENANCE.md):

=============================  ========  ==========================================
file                           series    columns used
=============================  ========  ==========================================
``spx_daily.csv``              SPX       date, open, high, low, close (required)
``iwm_daily.csv``              IWM       same (required)
``vix_daily.csv``              VIX       same (required)
``rvx_daily.csv``              RVX       same (optional)
``vix3m_daily.csv``            VIX3M     same (optional)
``vix_futures_front4_daily.csv`` VX1–VX4  date, rank, expiry, settle (optional, long
                                         format: the first 4 listed monthlies per day,
                                         rank 1 = nearest expiry after the date)
``vix_futures_f1f2_daily.csv`` VX1, VX2  date, f1_expiry, f1_settle, f2_expiry, f2_settle
                                         (optional; read only when the front-4 file is
                                         absent)
=============================  ========  ==========================================

VX quotes are the daily settlement, with the contract's expiry. The front-4 file is
preferred because every VIX option must be priced on the VX future of its own expiry
(issue 10): an L2 option 64 days out is the third listed future, which F1/F2 lack.

Alignment: a session is a date present in all three required series (inner join on the
SPX dates, as PROVENANCE.md recommends: Cboe publishes VIX on some NYSE holidays). Optional
series appear only on their own dates within those sessions; their values on other dates
are ignored (a calendar difference, not bad data).

Bad input is a value, not an exception (STYLE.md §2.6): a malformed row (wrong field
count, blank line, unparseable date or number), a NaN/blank, zero or negative price, or a
duplicated date becomes ONE counted :class:`Rejected` per row (logged at debug with
``file:line`` and every bad cell; one summary warning per file) and the row is dropped.
A missing *required* file is a :class:`DataError` naming the path; a missing optional
file is logged at info, except ``rvx_daily.csv``, whose absence is a warning saying that
L3 cannot activate (an empty file is a :class:`DataError`, like any unreadable input).

Reading (issue 9): the ``csv`` module and whole-column ``float``/``date.fromisoformat``
passes (a column with a bad cell is then parsed cell by cell to name it), not pandas, so a
replay does not import pandas (≈ 0.2 s). The rows, rejections and their details are those
of the pandas loader it replaced (``tests/adapters/test_replay_loader_cells.py``), except
that a line with an unbalanced quote is now one rejected row (pandas raised a
``ParserError`` for the whole file).

Intraday replay (``intraday/spx_5m.csv`` …) is not implemented: every session streams one
quote per available symbol at its daily close.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import math
from collections.abc import AsyncGenerator, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

import structlog

from daemon.core.model import (
    REQUIRED_SYMBOLS,
    Bar,
    MarketEvent,
    Quote,
    Rejected,
    SessionClose,
    Symbol,
)
from daemon.errors import DataError

log = structlog.get_logger(__name__)

CLOSE_TIME_UTC = time(21, 0, tzinfo=UTC)
"""Timestamp given to a replayed daily close (the contract's "21:00 UTC of the date")."""

DAILY_FILES: Mapping[Symbol, str] = {
    Symbol.SPX: "spx_daily.csv",
    Symbol.IWM: "iwm_daily.csv",
    Symbol.VIX: "vix_daily.csv",
    Symbol.RVX: "rvx_daily.csv",
    Symbol.VIX3M: "vix3m_daily.csv",
}
VX_FILE = "vix_futures_f1f2_daily.csv"
VX_FRONT4_FILE = "vix_futures_front4_daily.csv"
_VX_RANKS: Mapping[int, Symbol] = {1: Symbol.VX1, 2: Symbol.VX2, 3: Symbol.VX3, 4: Symbol.VX4}
_OHLC = ("open", "high", "low", "close")
_VX_COLUMNS: Mapping[Symbol, tuple[str, str]] = {
    Symbol.VX1: ("f1_expiry", "f1_settle"),
    Symbol.VX2: ("f2_expiry", "f2_settle"),
}
_NAN_WORDS = ("nan", "na", "n/a", "null", "none", "inf", "-inf", "+inf", "infinity", "-infinity")
_REASON_ORDER = ("malformed_row", "nan", "non_positive")
"""When a row has several bad cells, the reported reason is the first of these present."""
STREAM_ORDER: tuple[Symbol, ...] = (
    Symbol.SPX,
    Symbol.IWM,
    Symbol.VIX,
    Symbol.RVX,
    Symbol.VIX3M,
    Symbol.VX1,
    Symbol.VX2,
    Symbol.VX3,
    Symbol.VX4,
)


class _Series:
    """One loaded series: valid rows only, sorted by date, indexed by session date.

    Held as columns (issue 9): a :class:`Bar` is built only when asked for (the warm-up
    history), and streaming reads the close and expiry straight from the columns, so
    loading does not build ~75,000 frozen objects the replay never looks at.

    Args:
        symbol: the series.
        rows: ``(date, open, high, low, close, expiry)`` per valid row, any date order,
            one row per date.
    """

    __slots__ = ("_rows", "symbol")

    def __init__(
        self,
        symbol: Symbol,
        rows: Iterable[tuple[date, float, float, float, float, date | None]],
    ) -> None:
        self.symbol = symbol
        # One row per date: the tuples sort by their date alone (no key function).
        self._rows = {row[0]: row for row in sorted(rows)}

    def __contains__(self, day: date) -> bool:
        return day in self._rows

    def days(self) -> set[date]:
        """The dates of the series."""
        return set(self._rows)

    def close(self, day: date) -> tuple[float, date | None] | None:
        """``(close, expiry)`` on ``day``, or None when the series has no row that day."""
        row = self._rows.get(day)
        return None if row is None else (row[4], row[5])

    def bar(self, day: date) -> Bar | None:
        """The bar of ``day``, or None."""
        row = self._rows.get(day)
        return None if row is None else self._bar(row)

    def _bar(self, row: tuple[date, float, float, float, float, date | None]) -> Bar:
        day, o, h, lo, c, exp = row
        return Bar(
            symbol=self.symbol, session_date=day, open=o, high=h, low=lo, close=c, expiry=exp
        )


class _FileReader:
    """Reads one CSV into validated rows, turning every bad row into a ``Rejected``."""

    def __init__(self, path: Path, rejections: list[Rejected]) -> None:
        self.path = path
        self.rejections = rejections
        self.file_rejections = 0

    def reject(self, reason: str, symbol: Symbol | None, line: int, detail: str) -> None:
        """Record one bad row (debug log with ``file:line``)."""
        where = f"{self.path.name}:{line}"
        self.rejections.append(Rejected(reason=reason, symbol=symbol, detail=f"{where}: {detail}"))
        self.file_rejections += 1
        log.debug(
            "replay_row_rejected", file=str(self.path), line=line, reason=reason, detail=detail
        )

    def read(
        self, columns: Sequence[str], symbol: Symbol | None
    ) -> tuple[dict[str, list[str]], list[int]]:
        """Read ``date`` and ``columns`` as text, dropping structurally bad lines.

        A blank line, one with the wrong number of fields or an unbalanced quote is one
        ``malformed_row`` rejection; the other lines are parsed by the ``csv`` module
        (quotes removed, spaces kept), each on its own.

        Returns:
            The cells of each column (one per kept line) and the 1-based file line
            number of each kept line.

        Raises:
            DataError: the file cannot be read or lacks a required column.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read {self.path}: {exc}"
            raise DataError(msg) from exc
        lines = text.splitlines()
        if not lines:
            msg = f"{self.path} is empty"
            raise DataError(msg)
        header = [h.strip() for h in lines[0].split(",")]
        missing = [c for c in columns if c not in header]
        if missing or "date" not in header:
            msg = f"{self.path}: missing column(s) {missing or ['date']} (header: {lines[0]!r})"
            raise DataError(msg)
        n_fields = len(header)
        body = lines[1:]
        if '"' in text:  # quoted cells: the csv module reads each line on its own
            rows = [next(csv.reader([raw]), []) for raw in body]
        else:  # no quotes (the usual case): a plain split is what the csv module reads
            rows = [raw.split(",") for raw in body]
            if set(map(len, rows)) <= {n_fields}:  # every line well formed: no line loop
                return _columns(rows, header, columns), list(range(2, len(body) + 2))
        kept: list[list[str]] = []
        line_numbers: list[int] = []
        for idx, (raw, cells) in enumerate(zip(body, rows, strict=True), start=2):
            if not raw.strip():
                self.reject("malformed_row", symbol, idx, "blank line")
            elif raw.count(",") + 1 != n_fields:
                detail = f"expected {n_fields} fields: {raw!r}"
                self.reject("malformed_row", symbol, idx, detail)
            elif len(cells) != n_fields:  # a quote left open swallowed a separator
                self.reject("malformed_row", symbol, idx, f"unbalanced quote: {raw!r}")
            else:
                kept.append(cells)
                line_numbers.append(idx)
        return _columns(kept, header, columns), line_numbers

    @staticmethod
    def date_problems(
        raw: Sequence[str], what: str
    ) -> tuple[list[date | None], dict[int, list[tuple[str, str]]]]:
        """Parse ISO dates (``YYYY-MM-DD``, surrounding spaces allowed).

        Returns:
            The parsed dates (None where bad) and ``{row: [("malformed_row", detail)]}``.
        """
        # The whole column in one C-level pass when every cell is a plain ISO date (issue
        # 9); only a column with a bad or padded cell is parsed cell by cell. The forms
        # ``date.fromisoformat`` reads are at most 10 characters long and the only other
        # 10-character one has a "W" (2020-W01-1): all 10 long and no "W" is YYYY-MM-DD.
        joined = "".join(raw)
        if len(joined) == _ISO_LEN * len(raw) and "W" not in joined:
            try:
                return list(map(date.fromisoformat, raw)), {}
            except ValueError:
                pass
        parsed = [_iso_date(c) for c in raw]
        problems = {
            pos: [("malformed_row", f"bad {what} {raw[pos]!r}")]
            for pos, day in enumerate(parsed)
            if day is None
        }
        return parsed, problems

    @staticmethod
    def price_problems(
        raw: Sequence[str], what: str, problems: dict[int, list[tuple[str, str]]]
    ) -> list[float]:
        """Parse prices; adds each bad cell to ``problems`` and returns the values (NaN if bad).

        A blank or NaN-like cell (or ±inf) is ``"nan"``, unparseable text ``"malformed_row"``,
        a zero or negative price ``"non_positive"``.
        """
        try:
            values = list(map(float, raw))  # one C-level pass for a column of numbers
        except ValueError:
            values = [_number(c) for c in raw]
        else:
            if "_" in "".join(raw):  # float() reads "1_000"; a CSV number has no "_"
                values = [_number(c) for c in raw]
        if (
            values
            and not any(map(math.isnan, values))
            and 0.0 < min(values) <= max(values) < math.inf
        ):
            return values  # every price good: checked without a Python loop
        inf = math.inf
        for pos in [pos for pos, value in enumerate(values) if not 0.0 < value < inf]:
            value = values[pos]
            text = raw[pos].strip()
            if text.lower() in _NAN_WORDS or not text or math.isinf(value):
                reason = "nan"
            elif math.isnan(value):
                reason = "malformed_row"
            else:
                reason = "non_positive"
            problems.setdefault(pos, []).append((reason, f"{what} = {raw[pos]!r}"))
        return values

    def reject_rows(
        self,
        problems: dict[int, list[tuple[str, str]]],
        lines: Sequence[int],
        symbol: Symbol | None,
    ) -> None:
        """One ``Rejected`` per bad row: the worst reason, every bad cell in the detail."""
        for pos in sorted(problems):
            found = problems[pos]
            reasons = {reason for reason, _ in found}
            reason = next(r for r in _REASON_ORDER if r in reasons)
            self.reject(reason, symbol, lines[pos], "; ".join(d for _, d in found))

    def summarize(self) -> None:
        """One warning per file with rejections (the details are at debug)."""
        if self.file_rejections:
            log.warning("replay_rows_rejected", file=str(self.path), count=self.file_rejections)


_ISO_LEN = len("2020-01-02")


def _columns(
    rows: Sequence[Sequence[str]], header: Sequence[str], columns: Sequence[str]
) -> dict[str, list[str]]:
    """The cells of ``date`` and ``columns`` from rows of ``len(header)`` cells."""
    return {c: [row[i] for row in rows] for c in ("date", *columns) for i in [header.index(c)]}


def _iso_date(cell: str) -> date | None:
    """``YYYY-MM-DD`` (spaces around allowed, one-digit month or day too), else None."""
    try:
        return datetime.strptime(cell.strip(), "%Y-%m-%d").date()  # noqa: DTZ007 - a date
    except ValueError:
        return None


def _number(cell: str) -> float:
    """A CSV number as pandas' ``to_numeric`` reads it; NaN when it is not one."""
    if "_" in cell:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return math.nan


def _load_daily(path: Path, symbol: Symbol, rejections: list[Rejected]) -> _Series:
    """Load one OHLC daily file into validated bars (one rejection per bad row)."""
    reader = _FileReader(path, rejections)
    frame, lines = reader.read(_OHLC, symbol)
    dates, problems = reader.date_problems(frame["date"], "date")
    values = {col: reader.price_problems(frame[col], col, problems) for col in _OHLC}
    reader.reject_rows(problems, lines, symbol)
    rows = _unique_rows(reader, dates, problems, lines=lines, symbols=[symbol] * len(dates))
    series = _bars(
        symbol,
        dates,
        rows,
        values["close"],
        opens=values["open"],
        highs=values["high"],
        lows=values["low"],
    )
    reader.summarize()
    return series


def _unique_rows(
    reader: _FileReader,
    keys: Sequence[Hashable],
    bad: Mapping[int, object],
    *,
    lines: Sequence[int],
    symbols: Sequence[Symbol | None],
    dates: Sequence[date | None] | None = None,
) -> list[int]:
    """The positions of rows not in ``bad`` whose key was not seen in an earlier such row.

    Each repeat is a ``duplicate_date`` rejection, in file order (the first row of a key
    wins); ``dates`` (default: the keys) names the repeated date.
    """
    if not bad and len(set(keys)) == len(keys):
        return list(range(len(keys)))  # every row good and unique (the usual file)
    seen: set[Hashable] = set()
    rows: list[int] = []
    for pos, key in enumerate(keys):
        if pos in bad:
            continue
        if key in seen:
            day = (keys if dates is None else dates)[pos]
            reader.reject("duplicate_date", symbols[pos], lines[pos], f"date {day} repeated")
            continue
        seen.add(key)
        rows.append(pos)
    return rows


def _bars(
    symbol: Symbol,
    dates: Sequence[date | None],
    rows: Sequence[int],
    closes: Sequence[float],
    *,
    opens: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    expiries: Sequence[date | None] | None = None,
) -> _Series:
    """The series of ``rows`` (valid: a date, positive prices; one row per date).

    A settlement file (no ``opens``) gives open = high = low = close, with the contract's
    expiry.
    """
    days = [dates[i] for i in rows]
    close = [closes[i] for i in rows]
    expiry = [expiries[i] for i in rows] if expiries is not None else [None] * len(rows)
    if opens is None or highs is None or lows is None:
        return _Series(symbol, zip(days, close, close, close, close, expiry, strict=True))
    return _Series(
        symbol,
        zip(
            days,
            [opens[i] for i in rows],
            [highs[i] for i in rows],
            [lows[i] for i in rows],
            close,
            expiry,
            strict=True,
        ),
    )


def _load_vx(path: Path, rejections: list[Rejected]) -> dict[Symbol, _Series]:
    """Load the VX F1/F2 file into VX1/VX2 bars (price = settlement, with expiry).

    A bad trade date drops the row for both contracts (one rejection, no symbol); a bad
    expiry or settlement drops it for that contract only (one rejection per contract).
    """
    reader = _FileReader(path, rejections)
    columns = [c for pair in _VX_COLUMNS.values() for c in pair]
    frame, lines = reader.read(columns, None)
    day_values, date_problems = reader.date_problems(frame["date"], "date")
    reader.reject_rows(date_problems, lines, None)
    out: dict[Symbol, _Series] = {}
    for symbol, (expiry_col, settle_col) in _VX_COLUMNS.items():
        expiry_values, problems = reader.date_problems(frame[expiry_col], expiry_col)
        settles = reader.price_problems(frame[settle_col], settle_col, problems)
        for pos, (day, expiry) in enumerate(zip(day_values, expiry_values, strict=True)):
            if (
                day is not None
                and expiry is not None
                and expiry <= day
                and pos not in problems
                and pos not in date_problems
            ):
                problems[pos] = [("malformed_row", f"{expiry_col} {expiry} ≤ date")]
        for pos in date_problems:
            problems.pop(pos, None)
        reader.reject_rows(problems, lines, symbol)
        bad = {**problems, **date_problems}
        rows = _unique_rows(
            reader, day_values, bad, lines=lines, symbols=[symbol] * len(day_values)
        )
        out[symbol] = _bars(symbol, day_values, rows, settles, expiries=expiry_values)
    reader.summarize()
    return out


def _log_missing_optional(path: Path, symbol: Symbol) -> None:
    """Log a missing optional file: info, but a warning for RVX (L3 then cannot activate)."""
    if symbol is Symbol.RVX:
        # L3 (SPEC §3 iv_spread_blowout) needs RVX: say so, do not go quiet.
        log.warning(
            "replay_rvx_missing",
            file=str(path),
            detail=f"{path} not found: layer L3 cannot activate in this replay "
            "(its signal is RVX − VIX)",
        )
    else:
        log.info("replay_optional_file_missing", file=str(path), symbol=symbol.value)


def _load_vx_front4(path: Path, rejections: list[Rejected]) -> dict[Symbol, _Series]:
    """Load the long-format front-4 VX file into VX1–VX4 bars (price = settlement).

    One row per (date, rank). A bad date, rank (not 1–4), expiry (not after the date) or
    settlement drops that row only (one rejection, the rank's symbol when known); a
    repeated (date, rank) is a ``duplicate_date`` rejection.
    """
    reader = _FileReader(path, rejections)
    frame, lines = reader.read(["rank", "expiry", "settle"], None)
    dates, problems = reader.date_problems(frame["date"], "date")
    expiries, expiry_problems = reader.date_problems(frame["expiry"], "expiry")
    for pos, found in expiry_problems.items():
        problems.setdefault(pos, []).extend(found)
    settles = reader.price_problems(frame["settle"], "settle", problems)
    rank_of = _ranks(frame["rank"])
    symbols: list[Symbol | None] = [_VX_RANKS.get(r) for r in rank_of]
    for pos, rank in enumerate(rank_of):
        if not rank:
            problems.setdefault(pos, []).append(
                ("malformed_row", f"rank = {frame['rank'][pos]!r} (1-4)")
            )
    # An expiry on or before its trade date (rows otherwise good).
    expired = [
        pos
        for pos, (day, expiry) in enumerate(zip(dates, expiries, strict=True))
        if day is not None and expiry is not None and expiry <= day
    ]
    for pos in expired:
        if rank_of[pos] and pos not in problems:
            problems[pos] = [("malformed_row", f"expiry {expiries[pos]} ≤ date")]
    for pos in sorted(problems):
        found = problems[pos]
        reasons = {reason for reason, _ in found}
        reason = next(r for r in _REASON_ORDER if r in reasons)
        reader.reject(reason, symbols[pos], lines[pos], "; ".join(d for _, d in found))
    keys = list(zip(dates, rank_of, strict=True))
    rows = _unique_rows(reader, keys, problems, lines=lines, symbols=symbols, dates=dates)
    by_rank: dict[int, list[int]] = {rank: [] for rank in _VX_RANKS}
    for pos in rows:
        by_rank[rank_of[pos]].append(pos)
    out = {
        symbol: _bars(symbol, dates, by_rank[rank], settles, expiries=expiries)
        for rank, symbol in _VX_RANKS.items()
    }
    reader.summarize()
    return out


def _ranks(cells: Sequence[str]) -> list[int]:
    """The rank 1–4 of each front-4 row, 0 where the cell is not one (``"2.0"`` is 2)."""
    try:
        ranks = list(map(int, cells))  # one C-level pass for a column of small integers
    except ValueError:
        pass
    else:
        if set(ranks) <= _RANKS and "_" not in "".join(cells):
            return ranks
    values = [_number(cell) for cell in cells]
    return [int(v) if v in _RANK_VALUES else 0 for v in values]


_RANKS = frozenset({1, 2, 3, 4})
_RANK_VALUES = frozenset({1.0, 2.0, 3.0, 4.0})


def _load_series(data_dir: Path, rejections: list[Rejected]) -> dict[Symbol, _Series]:
    """Read every series file of ``data_dir`` (rejected rows appended to ``rejections``).

    Raises:
        DataError: a required file is missing, unreadable or lacks a column.
    """
    series: dict[Symbol, _Series] = {}
    for symbol, name in DAILY_FILES.items():
        path = data_dir / name
        if not path.is_file():
            if symbol in REQUIRED_SYMBOLS:
                msg = f"required replay file missing: {path}"
                raise DataError(msg)
            _log_missing_optional(path, symbol)
            continue
        series[symbol] = _load_daily(path, symbol, rejections)
    front4 = data_dir / VX_FRONT4_FILE
    vx_path = data_dir / VX_FILE
    if front4.is_file():
        series.update(_load_vx_front4(front4, rejections))
    elif vx_path.is_file():
        log.info(
            "replay_vx_front4_missing",
            file=str(front4),
            detail="VIX options beyond the second future are priced on a named fallback",
        )
        series.update(_load_vx(vx_path, rejections))
    else:
        log.info("replay_optional_file_missing", file=str(vx_path), symbol="VX1-VX4")
    return series


class ReplaySource:
    """Streams the real daily history as quotes and session closes.

    Each session yields one :class:`Quote` per symbol available that day (price = the
    close; VX1–VX4 price = the settlement, with ``expiry``), timestamped 21:00 UTC of the
    session date, then a :class:`SessionClose`.

    Args:
        data_dir: directory holding the CSV files.
        start: first session to stream (the first aligned session on or after it);
            ``None`` → the session after the first ``warmup_days`` aligned sessions.
        end: last session to stream (inclusive); ``None`` → the end of the data.
        pace_s: wall seconds to sleep between sessions (demos); 0 = as fast as possible.
        warmup_days: aligned sessions held back for :meth:`history` when ``start`` is None.

    Raises:
        DataError: a required file is missing or unreadable, or the window holds no session.
    """

    def __init__(
        self,
        data_dir: Path,
        start: date | None = None,
        end: date | None = None,
        pace_s: float = 0.0,
        *,
        warmup_days: int = 250,
    ) -> None:
        if pace_s < 0:
            msg = f"pace_s must be >= 0, got {pace_s}"
            raise ValueError(msg)
        self._data_dir = Path(data_dir)
        self._pace_s = pace_s
        self._rejections: list[Rejected] = []
        self._series = _load_series(self._data_dir, self._rejections)

        common = self._series[Symbol.SPX].days()
        for symbol in REQUIRED_SYMBOLS:
            common &= self._series[symbol].days()
        self._all_sessions: tuple[date, ...] = tuple(sorted(common))
        if not self._all_sessions:
            msg = f"no common dates in the required files under {self._data_dir}"
            raise DataError(msg)

        if start is None:
            first = min(warmup_days, len(self._all_sessions) - 1)
        else:
            first = bisect.bisect_left(self._all_sessions, start)
        last = (
            len(self._all_sessions) if end is None else bisect.bisect_right(self._all_sessions, end)
        )
        self._first_index = first
        self._sessions = self._all_sessions[first:last]
        if not self._sessions:
            first_day, last_day = self._all_sessions[0], self._all_sessions[-1]
            window = (
                f"from {start or 'the start'} to {end or 'the end of the data'}"
                if start is not None or end is not None
                else "after the warm-up"
            )
            msg = (
                f"no replay sessions {window} in {self._data_dir}: the data covers "
                f"{first_day} to {last_day}"
            )
            raise DataError(msg)
        log.info(
            "replay_loaded",
            data_dir=str(self._data_dir),
            sessions=len(self._sessions),
            first=self._sessions[0].isoformat(),
            last=self._sessions[-1].isoformat(),
            symbols=sorted(s.value for s in self._series),
            rejected=len(self._rejections),
        )

    # ----------------------------------------------------------------- inspection

    @property
    def sessions(self) -> tuple[date, ...]:
        """The session dates :meth:`events` streams, ascending."""
        return self._sessions

    @property
    def rejections(self) -> list[Rejected]:
        """Every input row refused while loading (and streaming), in file order."""
        return list(self._rejections)

    @property
    def symbols(self) -> frozenset[Symbol]:
        """Series that were loaded (required ones always; optional ones if their file exists)."""
        return frozenset(self._series)

    def rejected_count(self) -> int:
        """Bad input rows refused so far (malformed, NaN, ≤ 0, duplicate date)."""
        return len(self._rejections)

    def resume_after(self, day: date) -> int:
        """Stream only the sessions after ``day`` (a restart from a snapshot of ``day``).

        :meth:`history` is unchanged (the restored engine needs no warm-up).

        Returns:
            How many sessions were dropped.
        """
        kept = self._sessions[bisect.bisect_right(self._sessions, day) :]
        dropped = len(self._sessions) - len(kept)
        self._sessions = kept
        log.info("replay_resumed", after=day.isoformat(), skipped_sessions=dropped, left=len(kept))
        return dropped

    # ----------------------------------------------------------------- MarketDataSource

    async def history(self, symbol: Symbol, days: int) -> Sequence[Bar]:
        """Daily bars of ``symbol`` in the last ``days`` aligned sessions before the start.

        Args:
            symbol: the series.
            days: how many aligned (SPX) sessions to look back.

        Returns:
            The bars, oldest first; optional series only on their own dates (possibly
            fewer than ``days``, or none when the file is missing).

        Raises:
            DataError: a required series has no bar before the first streamed session.
        """
        if days <= 0:
            return ()
        window = self._all_sessions[max(0, self._first_index - days) : self._first_index]
        series = self._series.get(symbol)
        found = [] if series is None else [series.bar(d) for d in window]
        bars = [b for b in found if b is not None]
        if not bars and symbol in REQUIRED_SYMBOLS:
            msg = f"no {symbol.value} history before {self._sessions[0]} in {self._data_dir}"
            raise DataError(msg)
        return tuple(bars)

    async def events(self) -> AsyncGenerator[MarketEvent, None]:
        """Yield each session's quotes (``STREAM_ORDER``) and then its ``SessionClose``.

        After each session the event loop gets a turn (``pace_s`` seconds between
        sessions, 0 when unpaced), so a daemon's other tasks run during a replay.
        """
        total = len(self._sessions)
        done = 0
        for event in self.stream():
            yield event
            if isinstance(event, SessionClose):
                done += 1
                if self._pace_s > 0 and done < total:
                    await asyncio.sleep(self._pace_s)
                else:
                    await asyncio.sleep(0)

    def stream(self) -> Iterator[MarketEvent]:
        """The events of :meth:`events` without pauses (a batch replay's loop, issue 9).

        For a caller with nothing else to run (``alvhd replay``): no event-loop turn per
        session and no asynchronous generator (≈ 20 ms of a full-history replay).
        """
        streamed = [(s, self._series[s]) for s in STREAM_ORDER if s in self._series]
        for day in self._sessions:
            ts = datetime.combine(day, CLOSE_TIME_UTC)
            for symbol, series in streamed:
                found = series.close(day)
                if found is not None:
                    # The official daily close: confirmed data for the plausibility filter.
                    yield Quote(
                        symbol=symbol,
                        price=found[0],
                        ts=ts,
                        session_date=day,
                        expiry=found[1],
                        is_settlement=True,
                    )
            yield SessionClose(session_date=day, ts=ts)
