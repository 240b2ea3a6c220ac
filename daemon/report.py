"""Replay reporting: the per-day ``days.csv`` and the end-of-run summary table.

Shell code (pandas and rich are allowed here, never in ``daemon.core``). Inputs are the
engine's ``DaySummary`` rows and the decisions it returned during the run.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from rich.table import Table

from daemon.core.model import (
    Alert,
    Decision,
    Layer,
    LayerChange,
    ProposedOrder,
)
from daemon.core.pnl import DaySummary
from daemon.errors import ConfigError
from daemon.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

# Start-up (issue 9): pandas is imported by the functions that build or read a DataFrame
# (``days_frame``, the HTML report), not here: a plain ``alvhd replay`` writes ``days.csv``
# and its P&L table from the columns of :func:`day_columns` and never imports pandas.

DayColumns: TypeAlias = dict[str, list[object]]
"""``days.csv`` as columns: name → one value per day (None where a day lacks it)."""

LAYERS: tuple[Layer, ...] = (Layer.L1, Layer.L2, Layer.L3)


@dataclass(frozen=True, slots=True, kw_only=True)
class StressWindow:
    """A named date window reported on its own (``config/stress_windows.csv``)."""

    name: str
    start: date
    end: date


def load_stress_windows(path: Path) -> tuple[StressWindow, ...]:
    """Read ``name,start,end`` rows (ISO dates) from ``path``.

    Raises:
        ConfigError: the file is missing or a row is malformed (file and line named).
    """
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigError(f"stress windows file {path}: {exc.strerror}") from exc
    windows: list[StressWindow] = []
    for line_no, row in enumerate(rows, start=2):
        try:
            window = StressWindow(
                name=row["name"].strip(),
                start=date.fromisoformat(row["start"].strip()),
                end=date.fromisoformat(row["end"].strip()),
            )
        except (KeyError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}:{line_no}: bad stress window row {row!r}: {exc}") from exc
        if window.end < window.start:
            raise ConfigError(f"{path}:{line_no}: window {window.name!r} ends before it starts")
        windows.append(window)
    return tuple(windows)


def days_frame(days: Sequence[DaySummary] | DayColumns) -> pd.DataFrame:
    """:func:`day_columns` as a DataFrame (None read as NaN), for the HTML report.

    Args:
        days: the day summaries, or their ``day_columns`` when already built.
    """
    import pandas as pd  # noqa: PLC0415

    return pd.DataFrame(days if isinstance(days, Mapping) else day_columns(days))


def day_columns(days: Sequence[DaySummary]) -> DayColumns:
    """One value per trading day in each column of ``days.csv``, in file order.

    Columns: ``date``; for each SPEC §3 signal id, ``<id>`` (1/0, holds) and ``<id>_value``
    (its value, empty while warming up); ``active_layers`` (``"L1+L2"``, empty for L0);
    ``contracts_L1..L3`` (hedge units held); ``premium_paid_usd`` (cumulative premium paid
    to date, USD); ``open_premium_usd``; ``cost_cap_usd``; ``scenario_loss_usd``;
    ``covered_frac`` (scenario gain of held hedges / scenario loss L); ``cost_capped`` (1/0);
    ``proposals`` (orders proposed that day); then the P&L columns of :func:`pnl_columns`.
    """
    # Built column by column (issue 9): one list per column and one DataFrame constructor,
    # not a dict per day through ``from_records`` (about 4x faster on the full history).
    # A column a day lacks (the P&L of a day without market state) holds None there, which
    # pandas reads as NaN, exactly as ``from_records`` filled the missing keys.
    n_days = len(days)
    columns: dict[str, list[object]] = {}

    def column(name: str) -> list[object]:
        values = columns.get(name)
        if values is None:
            values = columns[name] = [None] * n_days
        return values

    # The lists of the reading columns, by position, once the first day has named them
    # (the same ten ids in the same order every day; a day that differs takes the named
    # path): two list stores per reading instead of two name look-ups (issue 9).
    by_position: list[tuple[str, list[object], list[object]]] = []
    # The other columns by position too, named on the first day (their order in the file)
    # and on the first day with P&L books (issue 9: one tuple per day, no name look-ups).
    dates = column("date") if days else []
    fixed: list[list[object]] = []
    books: list[list[object]] = []
    for i, day in enumerate(days):
        dates[i] = day.session_date.isoformat()
        readings = day.readings
        if len(readings) == len(by_position) and all(
            r.id == slot[0] for r, slot in zip(readings, by_position, strict=True)
        ):
            for reading, (_, holds, values) in zip(readings, by_position, strict=True):
                holds[i] = int(reading.holds)
                values[i] = reading.value
        else:
            for reading in readings:
                column(reading.id)[i] = int(reading.holds)
                column(f"{reading.id}_value")[i] = reading.value
            if i == 0:
                by_position = [(r.id, column(r.id), column(f"{r.id}_value")) for r in readings]
        if not fixed:
            fixed = [column(name) for name in _DAY_NAMES]
        by_layer = day.contracts_by_layer
        row = (
            "+".join(layer.value for layer in day.active_layers),
            by_layer.get(Layer.L1, 0),
            by_layer.get(Layer.L2, 0),
            by_layer.get(Layer.L3, 0),
            round(day.premium_paid_to_date_usd, 2),
            round(day.open_premium_usd, 2),
            round(day.cost_cap_usd, 2),
            round(day.scenario_loss_usd, 2),
            round(day.covered_frac, 6),
            int(day.is_cost_capped),
            day.proposals,
        )
        for values, value in zip(fixed, row, strict=True):
            values[i] = value
        pnl = _pnl_values(day)
        if pnl is not None:
            if not books:
                books = [column(name) for name in PNL_NAMES]
            for values, value in zip(books, pnl, strict=True):
                values[i] = value
    return columns


def pnl_columns(day: DaySummary) -> dict[str, object]:
    """The P&L columns of one ``days.csv`` row (USD, cumulative since the first session).

    ``spx``, ``vix``: the closes the books were marked at. Per layer ``pnl_L1_usd`` (realised
    + unrealised), ``realised_L1_usd``, ``mark_L1_usd`` (value of the lots held). The
    sleeve: ``sleeve_pnl_usd``, ``sleeve_realised_usd``, ``sleeve_mark_usd``,
    ``sleeve_fees_usd``. The condor: ``condor_pnl_usd`` (realised + open credit − buy-back
    cost), ``condor_credit_usd`` (credits collected), ``condor_mark_usd`` (cost to buy the
    open condor back), ``condor_cycles`` (condors opened), and on the day a condor is
    closed its ``condor_closed_credit_usd`` and ``condor_closed_debit_usd`` (0 otherwise).
    ``net_pnl_usd`` = condor + sleeve; ``baseline_l1_pnl_usd`` (the always-on L1 sleeve)
    and ``net_baseline_pnl_usd`` = condor + baseline; ``satellite_pnl_usd``: the IWM
    satellite at its constant notional (kept out of the net columns). Empty when the day
    had no market state.
    """
    values = _pnl_values(day)
    return {} if values is None else dict(zip(PNL_NAMES, values, strict=True))


def _pnl_values(day: DaySummary) -> tuple[object, ...] | None:
    """The values of :func:`pnl_columns`, in :data:`PNL_NAMES` order (None: no books)."""
    pnl = day.pnl
    if pnl is None:
        return None
    # The totals of LayerPnl/CondorPnl/DayPnl computed here with the same float operations
    # in the same order (realised + (mark − cost); sum() over the layers in their dict
    # order), once each: the same floats, bit for bit (issue 9: the day's P&L columns
    # were ≈ half of ``day_columns``; test_replay_readings_fingerprint pins the bytes).
    totals: list[float] = []
    realised: list[float] = []
    marks: list[float] = []
    fees: list[float] = []
    per_layer: dict[Layer, tuple[float, float, float]] = {}
    for layer, lp in pnl.sleeve.items():
        done = lp.realised_usd
        mark = lp.open_mark_usd
        total = done + (mark - lp.open_cost_usd)
        totals.append(total)
        realised.append(done)
        marks.append(mark)
        fees.append(lp.fees_usd)
        per_layer[layer] = (round(total, 2), round(done, 2), round(mark, 2))
    sleeve_total = sum(totals)
    condor = pnl.condor
    condor_total = condor.realised_usd + condor.open_credit_usd - condor.open_mark_usd
    bl = pnl.baseline_l1
    base = 0.0 if bl is None else bl.realised_usd + (bl.open_mark_usd - bl.open_cost_usd)
    layer_values = per_layer.get
    return (
        pnl.spx,
        pnl.vix,
        *layer_values(Layer.L1, _NO_LAYER),
        *layer_values(Layer.L2, _NO_LAYER),
        *layer_values(Layer.L3, _NO_LAYER),
        round(sleeve_total, 2),
        round(sum(realised), 2),
        round(sum(marks), 2),
        round(sum(fees), 2),
        round(condor_total, 2),
        round(condor.credit_to_date_usd, 2),
        round(condor.open_mark_usd, 2),
        condor.cycles,
        round(condor.closed_credit_usd, 2),
        round(condor.closed_debit_usd, 2),
        round(pnl.satellite_usd, 2),
        round(condor_total + sleeve_total, 2),
        round(base, 2),
        round(condor_total + base, 2),
    )


_NO_LAYER = (0.0, 0.0, 0.0)
"""The ``pnl``, ``realised`` and ``mark`` columns of a layer never traded."""


_DAY_NAMES: tuple[str, ...] = (
    "active_layers",
    *(f"contracts_{layer.value}" for layer in LAYERS),
    "premium_paid_usd",
    "open_premium_usd",
    "cost_cap_usd",
    "scenario_loss_usd",
    "covered_frac",
    "cost_capped",
    "proposals",
)
"""The ``days.csv`` columns after the readings, before the P&L (:func:`day_columns`)."""

PNL_NAMES: tuple[str, ...] = (
    "spx",
    "vix",
    *(
        name
        for layer in LAYERS
        for name in (
            f"pnl_{layer.value}_usd",
            f"realised_{layer.value}_usd",
            f"mark_{layer.value}_usd",
        )
    ),
    "sleeve_pnl_usd",
    "sleeve_realised_usd",
    "sleeve_mark_usd",
    "sleeve_fees_usd",
    "condor_pnl_usd",
    "condor_credit_usd",
    "condor_mark_usd",
    "condor_cycles",
    "condor_closed_credit_usd",
    "condor_closed_debit_usd",
    "satellite_pnl_usd",
    "net_pnl_usd",
    "baseline_l1_pnl_usd",
    "net_baseline_pnl_usd",
)
"""The P&L column names of :func:`pnl_columns`, in file order."""


def write_days_csv(days: Sequence[DaySummary] | DayColumns | pd.DataFrame, path: Path) -> Path:
    """Write ``days.csv`` to ``path``; returns the path.

    The same bytes whichever form ``days`` takes (``tests/unit/
    test_replay_readings_fingerprint.py`` pins both): a DataFrame is written by pandas;
    the day summaries or their :func:`day_columns` by the ``csv`` module, each column
    formatted as pandas formats the dtype it would infer for it (see :func:`_csv_column`).

    Args:
        days: the day summaries, their ``day_columns``, or their ``days_frame``.
        path: the CSV file (parent directories are created).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(days, "to_csv"):  # a DataFrame (pandas is not imported to ask)
        days.to_csv(path, index=False)
        return path
    columns = days if isinstance(days, Mapping) else day_columns(days)
    cells = [_csv_column(values) for values in columns.values()]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*cells, strict=True))
    return path


def _csv_column(values: list[object]) -> Sequence[object]:
    """One column's cells as ``DataFrame(columns).to_csv`` writes them.

    pandas infers int64 for a column of ints (written as ints), float64 for numbers with
    a float or a None among them (every value written as ``repr(float(v))``, ``""`` for
    None/NaN: an int 3 is ``3.0``), and keeps text and all-None columns as objects
    (``""`` for None). The ``csv`` writer itself writes ints, floats (``repr``) and
    strings, so only a numeric column holding ints or None is converted.
    """
    kinds = set(map(type, values))
    if kinds <= _NUMBER_KINDS and not kinds <= _INT_KIND and kinds != _NONE_KIND:
        if kinds == _FLOAT_KIND:  # written by the csv module itself, NaN as ""
            return ["" if v != v else v for v in values] if _has_nan(values) else values  # noqa: PLR0124
        return ["" if v is None or v != v else repr(float(v)) for v in values]  # type: ignore[arg-type]  # noqa: PLR0124
    return values


_INT_KIND = frozenset({int})
_FLOAT_KIND = frozenset({float})
_NONE_KIND = frozenset({type(None)})
_NUMBER_KINDS = frozenset({int, float, type(None)})


def _has_nan(values: list[object]) -> bool:
    """Whether a column of floats holds a NaN."""
    return any(map(math.isnan, values))  # type: ignore[arg-type]


@dataclass(slots=True, kw_only=True)
class PeriodStats:
    """Ladder activity over one period (the whole run or a stress window)."""

    name: str
    start: date | None = None
    end: date | None = None
    days: int = 0
    days_active: dict[Layer, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    activations: dict[Layer, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    proposals: int = 0
    premium_paid_usd: float = 0.0
    cost_cap_hits: int = 0
    cost_cap_held: bool = True

    def active_frac(self, layer: Layer) -> float:
        """Fraction (0–1) of the period's trading days on which ``layer`` was active."""
        return self.days_active[layer] / self.days if self.days else 0.0


def summarize(
    days: Sequence[DaySummary],
    decisions: Sequence[Decision],
    windows: Sequence[StressWindow] = (),
) -> list[PeriodStats]:
    """Aggregate a replay: the whole run first, then one row per stress window with data.

    Premium paid is the premium of BUY proposals (opens, rolls' new legs, resizes up)
    in the period, USD. A cost-cap hit is a day the engine scaled a target down. The cap
    "held" when ``open_premium_usd ≤ cost_cap_usd`` (+1 cent) on every day of the period.
    """
    periods = [PeriodStats(name="whole run")]
    periods += [PeriodStats(name=w.name, start=w.start, end=w.end) for w in windows]

    def members(day: date) -> list[PeriodStats]:
        return [p for p in periods if p.start is None or (p.start <= day <= (p.end or day))]

    prev_paid = 0.0
    for d in days:
        paid_today = d.premium_paid_to_date_usd - prev_paid
        prev_paid = d.premium_paid_to_date_usd
        for p in members(d.session_date):
            p.days += 1
            for layer in d.active_layers:
                p.days_active[layer] += 1
            p.proposals += d.proposals
            p.premium_paid_usd += paid_today
            p.cost_cap_hits += int(d.is_cost_capped)
            if d.open_premium_usd > d.cost_cap_usd + 0.01:
                p.cost_cap_held = False
    for dec in decisions:
        if isinstance(dec, LayerChange) and dec.is_active:
            for p in members(dec.session_date):
                p.activations[dec.layer] += 1
    first = days[0].session_date if days else None
    last = days[-1].session_date if days else None
    periods[0].start, periods[0].end = first, last
    return [p for p in periods if p.days > 0 or p.start is None]


def summary_table(periods: Sequence[PeriodStats]) -> Table:
    """Render ``summarize`` output as a rich table (one row per period).

    Per layer: days active (percent of the period's days) and activations in brackets.
    """
    table = Table(title="ALVH replay summary")
    table.add_column("period", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("days", justify="right", no_wrap=True)
    for layer in LAYERS:
        table.add_column(f"{layer.value} days % (act.)", justify="right", no_wrap=True)
    table.add_column("orders", justify="right", no_wrap=True)
    table.add_column("premium paid $", justify="right", no_wrap=True)
    table.add_column("cap hits", justify="right", no_wrap=True)
    table.add_column("cap held", justify="center", no_wrap=True)
    for p in periods:
        cells = [p.name, str(p.start or ""), str(p.end or ""), str(p.days)]
        cells += [
            f"{p.days_active[layer]} {100 * p.active_frac(layer):3.0f}% ({p.activations[layer]})"
            for layer in LAYERS
        ]
        cells += [
            str(p.proposals),
            f"{p.premium_paid_usd:,.0f}",
            str(p.cost_cap_hits),
            "yes" if p.cost_cap_held else "NO",
        ]
        table.add_row(*cells)
    return table


# --------------------------------------------------------------------------- P&L tables


@dataclass(frozen=True, slots=True, kw_only=True)
class PnlRow:
    """The books over one period (a year, a stress window or the whole run), USD.

    P&L figures are changes over the period: the cumulative value at its last session
    minus the value at the session before it (0 before the first session).

    Attributes:
        name: period name; ``start``/``end``: first and last session with data.
        days: sessions; ``days_on``: sessions each layer was active.
        condor_pnl_usd, sleeve_pnl_usd, net_pnl_usd: condor alone, sleeve, condor + sleeve.
        baseline_pnl_usd: the always-on L1 sleeve; ``net_baseline_pnl_usd`` with the condor.
        max_dd_condor_usd, max_dd_net_usd: largest peak-to-trough fall of the cumulative
            P&L within the period (>= 0), condor alone and condor + sleeve.
        credit_usd: condor credit collected; ``premium_usd``: hedge premium paid.
        premium_pct_credit: premium / credit × 100; ``net_cost_pct_credit``: −sleeve P&L /
            credit × 100 (what the sleeve cost, net of what it earned back).
        realised_cover_frac: sleeve P&L / condor loss when the condor lost, else None.
        promised_cover_frac: mean scenario ``covered_frac`` over the days with a projected
            loss (what the sizing promised), None if no such day.
        satellite_pnl_usd: the IWM satellite (not in the net figures).
    """

    name: str
    start: date
    end: date
    days: int
    days_on: dict[Layer, int]
    condor_pnl_usd: float
    sleeve_pnl_usd: float
    net_pnl_usd: float
    baseline_pnl_usd: float
    net_baseline_pnl_usd: float
    max_dd_condor_usd: float
    max_dd_net_usd: float
    credit_usd: float
    premium_usd: float
    premium_pct_credit: float | None
    net_cost_pct_credit: float | None
    realised_cover_frac: float | None
    promised_cover_frac: float | None
    satellite_pnl_usd: float = 0.0


def max_drawdown_usd(equity: Iterable[float] | pd.Series) -> float:
    """Largest fall from a running peak of ``equity`` (a cumulative P&L, USD), >= 0.

    The running peak starts at 0 (the P&L before the period), so a period that only
    loses has a drawdown equal to its worst point. NaN values are skipped (as pandas'
    ``cummax`` and ``max`` skip them); only NaN gives NaN, an empty series 0.
    """
    peak = 0.0
    worst: float | None = None
    seen = False
    for value in equity:
        seen = True
        if value != value:  # noqa: PLR0124 - NaN
            continue
        peak = max(peak, value)
        fall = peak - value
        if worst is None or fall > worst:
            worst = fall
    if worst is None:
        return math.nan if seen else 0.0
    return float(worst)


class _PnlColumns:
    """The columns ``pnl_rows`` reads, as Python floats (None → NaN), read once each.

    Takes a ``days_frame`` DataFrame or the :func:`day_columns` of a replay: both are a
    mapping of column name → values in day order (pandas is not needed to read either).
    """

    def __init__(self, frame: Mapping[str, Sequence[object]] | pd.DataFrame) -> None:
        self._frame = frame
        self._floats: dict[str, list[float]] = {}
        self.dates = [str(d) for d in self._values("date")]

    def _values(self, name: str) -> list[object]:
        values = self._frame[name]
        return values.tolist() if hasattr(values, "tolist") else list(values)

    def __contains__(self, name: str) -> bool:
        return name in self._frame

    def floats(self, name: str) -> list[float]:
        """Column ``name`` as floats (None/NaN → NaN)."""
        found = self._floats.get(name)
        if found is None:
            found = self._floats[name] = [
                math.nan if v is None else float(v)  # type: ignore[arg-type]
                for v in self._values(name)
            ]
        return found

    def texts(self, name: str) -> list[str]:
        """Column ``name`` as text (None/NaN → ``""``)."""
        return ["" if v is None or v != v else str(v) for v in self._values(name)]  # noqa: PLR0124


def _mean(values: Sequence[float]) -> float:
    """Mean skipping NaN (NaN when every value is NaN), bit for bit pandas' ``Series.mean``.

    pandas fills NaN with 0, sums with numpy's pairwise summation and divides by the
    count of the others; :func:`_pairwise_sum` is that summation, so the report's
    figures are the same floats as when this table was computed with pandas.
    """
    filled = [v if v == v else 0.0 for v in values]  # noqa: PLR0124 - NaN
    count = sum(1 for v in values if v == v)  # noqa: PLR0124
    return _pairwise_sum(filled, 0, len(filled)) / count if count else math.nan


_PAIRWISE_BLOCK = 128
"""numpy's ``PW_BLOCKSIZE``: below it a block is summed in 8 interleaved accumulators."""


def _pairwise_sum(values: list[float], lo: int, n: int) -> float:
    """The pairwise sum numpy computes for ``values[lo:lo + n]`` (its ``pairwise_sum``)."""
    if n < 8:  # numpy's unroll factor
        total = 0.0
        for i in range(lo, lo + n):
            total += values[i]
        return total
    if n <= _PAIRWISE_BLOCK:
        acc = values[lo : lo + 8]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                acc[j] += values[lo + i + j]
            i += 8
        total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        for k in range(lo + i, lo + n):
            total += values[k]
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values, lo, half) + _pairwise_sum(values, lo + half, n - half)


def _period_row(cols: _PnlColumns, name: str, rows: Sequence[int]) -> PnlRow | None:
    """The books over the day positions ``rows`` (ascending), or None when empty."""
    if not rows:
        return None
    first = rows[0]

    def change(col: str) -> list[float]:
        values = cols.floats(col)
        base = values[first - 1] if first > 0 else 0.0
        return [values[i] - base for i in rows]

    condor = change("condor_pnl_usd")
    sleeve = change("sleeve_pnl_usd")
    net = [c + s for c, s in zip(condor, sleeve, strict=True)]
    base_l1 = change("baseline_l1_pnl_usd")
    credit = change("condor_credit_usd")[-1]
    premium = change("premium_paid_usd")[-1]
    c_pnl, s_pnl = condor[-1], sleeve[-1]
    loss = cols.floats("scenario_loss_usd")
    covered = cols.floats("covered_frac")
    loss_days = [covered[i] for i in rows if loss[i] > 0.0]
    layers = cols.texts("active_layers")
    return PnlRow(
        name=name,
        start=date.fromisoformat(cols.dates[first]),
        end=date.fromisoformat(cols.dates[rows[-1]]),
        days=len(rows),
        days_on={lay: sum(lay.value in layers[i] for i in rows) for lay in LAYERS},
        condor_pnl_usd=c_pnl,
        sleeve_pnl_usd=s_pnl,
        net_pnl_usd=c_pnl + s_pnl,
        baseline_pnl_usd=base_l1[-1],
        net_baseline_pnl_usd=c_pnl + base_l1[-1],
        max_dd_condor_usd=max_drawdown_usd(condor),
        max_dd_net_usd=max_drawdown_usd(net),
        credit_usd=credit,
        premium_usd=premium,
        premium_pct_credit=100.0 * premium / credit if credit > 0 else None,
        net_cost_pct_credit=100.0 * -s_pnl / credit if credit > 0 else None,
        realised_cover_frac=s_pnl / -c_pnl if c_pnl < 0 else None,
        promised_cover_frac=_mean(loss_days) if loss_days else None,
        satellite_pnl_usd=change("satellite_pnl_usd")[-1] if "satellite_pnl_usd" in cols else 0.0,
    )


def pnl_rows(
    frame: Mapping[str, Sequence[object]] | pd.DataFrame,
    windows: Sequence[StressWindow] = (),
    *,
    by_year: bool = True,
) -> tuple[PnlRow, list[PnlRow], list[PnlRow]]:
    """The whole run, one row per calendar year, one per stress window with data.

    Plain Python over the columns (issue 9: ``alvhd replay`` does not import pandas for
    it); the rows are in day order, as ``days_frame`` and ``day_columns`` give them.

    Args:
        frame: ``days_frame`` output or the ``day_columns`` (with the P&L columns).
        windows: the stress windows.
        by_year: also the per-year rows.

    Returns:
        ``(whole run, years, windows)``.

    Raises:
        ValueError: no sessions to report.
    """
    cols = _PnlColumns(frame)
    days = [date.fromisoformat(d) for d in cols.dates]
    whole = _period_row(cols, "whole run", range(len(days)))
    if whole is None:
        msg = "no sessions to report"
        raise ValueError(msg)
    years: list[PnlRow] = []
    if by_year:
        for year in sorted({d.year for d in days}):
            row = _period_row(cols, str(year), [i for i, d in enumerate(days) if d.year == year])
            if row is not None:
                years.append(row)
    wins: list[PnlRow] = []
    for w in windows:
        row = _period_row(cols, w.name, [i for i, d in enumerate(days) if w.start <= d <= w.end])
        if row is not None:
            wins.append(row)
    return whole, years, wins


def condor_cycle_rows(frame: pd.DataFrame) -> list[list[str]]:
    """Closed condor cycles per year: count, winners, mean credit and debit, P&L (USD).

    A cycle is closed on the day ``condor_closed_credit_usd`` is non-zero; its P&L here is
    credit − buy-back debit, before fees. The last row is the whole range.
    """
    import pandas as pd  # noqa: PLC0415 - the HTML report's, not a plain replay's

    closed = frame[frame["condor_closed_credit_usd"] != 0.0]
    out: list[list[str]] = []
    groups = [(str(y), g) for y, g in closed.groupby(pd.to_datetime(closed["date"]).dt.year)]
    for name, g in [*groups, ("all", closed)]:
        credit = g["condor_closed_credit_usd"].astype(float)
        debit = g["condor_closed_debit_usd"].astype(float)
        pnl = credit - debit
        out.append(
            [
                name,
                str(len(g)),
                f"{100 * (pnl > 0).mean():.0f}%" if len(g) else "—",
                _usd(float(credit.mean())) if len(g) else "—",
                _usd(float(debit.mean())) if len(g) else "—",
                _usd(float(pnl.sum())),
            ]
        )
    return out


CONDOR_CYCLE_HEADERS: tuple[str, ...] = (
    "year",
    "cycles closed",
    "winners",
    "mean credit $",
    "mean buy-back $",
    "P&L before fees $",
)
"""Column titles of :func:`condor_cycle_rows`."""


def _usd(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}%"


def pnl_cells(row: PnlRow) -> list[str]:
    """The text cells of one P&L row, in :data:`PNL_HEADERS` order."""
    return [
        row.name,
        f"{row.start} → {row.end}",
        str(row.days),
        *(str(row.days_on[lay]) for lay in LAYERS),
        _usd(row.condor_pnl_usd),
        _usd(row.sleeve_pnl_usd),
        _usd(row.net_pnl_usd),
        _usd(row.baseline_pnl_usd),
        _usd(row.max_dd_condor_usd),
        _usd(row.max_dd_net_usd),
        _usd(row.credit_usd),
        _pct(row.premium_pct_credit),
        _pct(row.net_cost_pct_credit),
        _pct(None if row.realised_cover_frac is None else 100 * row.realised_cover_frac),
        _pct(None if row.promised_cover_frac is None else 100 * row.promised_cover_frac),
        _usd(row.satellite_pnl_usd),
    ]


PNL_HEADERS: tuple[str, ...] = (
    "period",
    "sessions",
    "days",
    "L1 on",
    "L2 on",
    "L3 on",
    "condor $",
    "sleeve $",
    "net $",
    "always-L1 $",
    "max DD condor $",
    "max DD net $",
    "credit $",
    "premium % credit",
    "net cost % credit",
    "realised cover",
    "promised cover",
    "IWM sat. $",
)
"""Column titles of the P&L tables (console and HTML)."""


def pnl_table(rows: Sequence[PnlRow], title: str) -> Table:
    """Render P&L rows as a rich table (:data:`PNL_HEADERS`)."""
    table = Table(title=title)
    for i, head in enumerate(PNL_HEADERS):
        table.add_column(head, justify="left" if i < 2 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*pnl_cells(row))
    return table


def report_parameters(settings: Settings) -> dict[str, str]:
    """The parameters shown in the report's header (name → text)."""
    lad, sc, co, ac = settings.ladder, settings.scenario, settings.condor, settings.accounting
    return {
        "condor": f"{co.contracts} x SPX iron condor, short put {co.short_put_otm_pct:g}% / "
        f"short call {co.short_call_otm_pct:g}% OTM, wings {co.wing_width_pts:g} pts, opened "
        f"at {co.dte_days} DTE, rolled at {co.roll_at_dte} DTE",
        "condor marks": f"Black–Scholes, IV = VIX + {ac.condor_put_skew_pts:g} pts (puts) / "
        f"{ac.condor_call_skew_pts:+g} pts (calls)",
        "hedge marks": f"Black-76 on the VX future, IV {sc.vix_option_iv:.0%} "
        f"(scenario.vix_option_iv), r {sc.risk_free_rate:.1%}; expiry at the VIX close "
        "(SOQ proxy)",
        "fees": f"${ac.fee_per_contract_usd:g} per contract per leg",
        "satellite": f"IWM ${settings.satellite.notional_usd:,.0f}",
        "cost cap": f"{lad.cost_cap_frac:.0%} of condor credit",
        "ladder": f"L1 cover {lad.l1_cover_frac:.0%} (vega x{lad.l1_vega_multiplier:g}), "
        f"L2 cover {lad.l2_cover_frac:.0%} (vega x{lad.l2_vega_multiplier:g}), "
        f"L3 +{lad.l3_notional_add_frac:.0%}; roll at {lad.roll_dte} DTE; re-size every "
        f"{lad.rebalance_every_days} sessions, band {lad.rebalance_band_frac:.0%}",
        "scenario": f"VIX +{sc.vix_shock_pts:g} pts, VX beta {sc.vx_beta_to_spot:g}",
    }


def describe_decision(dec: Decision) -> str:
    """One human line for the terminal (demo and run): what happened and why."""
    match dec:
        case LayerChange():
            verb = "ON " if dec.is_active else "OFF"
            why = ", ".join(r.id for r in dec.reasons if r.holds) or "rule"
            return f"{dec.session_date} {dec.layer.value} {verb} ({why})"
        case ProposedOrder():
            cap = " [cost-capped]" if dec.is_capped else ""
            return f"{dec.session_date} ORDER {dec.note}{cap}"
        case Alert():
            return f"ALERT {dec.severity.value} {dec.kind.value}: {dec.message}"
