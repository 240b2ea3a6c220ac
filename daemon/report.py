"""Replay reporting: the per-day ``days.csv`` and the end-of-run summary table.

Shell code (pandas and rich are allowed here, never in ``daemon.core``). Inputs are the
engine's ``DaySummary`` rows and the decisions it returned during the run.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from rich.table import Table

from daemon.core.model import (
    Alert,
    DaySummary,
    Decision,
    Layer,
    LayerChange,
    ProposedOrder,
)
from daemon.errors import ConfigError

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


def days_frame(days: Sequence[DaySummary]) -> pd.DataFrame:
    """One row per trading day, the columns of ``days.csv``.

    Columns: ``date``; for each SPEC §3 signal id, ``<id>`` (1/0, holds) and ``<id>_value``
    (its value, empty while warming up); ``active_layers`` (``"L1+L2"``, empty for L0);
    ``contracts_L1..L3`` (hedge units held); ``premium_paid_usd`` (cumulative premium paid
    to date, USD); ``open_premium_usd``; ``cost_cap_usd``; ``scenario_loss_usd``;
    ``covered_frac`` (scenario gain of held hedges / scenario loss L); ``cost_capped`` (1/0);
    ``proposals`` (orders proposed that day).
    """
    records: list[dict[str, object]] = []
    for day in days:
        rec: dict[str, object] = {"date": day.session_date.isoformat()}
        for reading in day.readings:
            rec[reading.id] = int(reading.holds)
            rec[f"{reading.id}_value"] = reading.value
        rec["active_layers"] = "+".join(layer.value for layer in day.active_layers)
        for layer in LAYERS:
            rec[f"contracts_{layer.value}"] = day.contracts_by_layer.get(layer, 0)
        rec["premium_paid_usd"] = round(day.premium_paid_to_date_usd, 2)
        rec["open_premium_usd"] = round(day.open_premium_usd, 2)
        rec["cost_cap_usd"] = round(day.cost_cap_usd, 2)
        rec["scenario_loss_usd"] = round(day.scenario_loss_usd, 2)
        rec["covered_frac"] = round(day.covered_frac, 6)
        rec["cost_capped"] = int(day.is_cost_capped)
        rec["proposals"] = day.proposals
        records.append(rec)
    return pd.DataFrame.from_records(records)


def write_days_csv(days: Sequence[DaySummary], path: Path) -> Path:
    """Write ``days.csv`` (see ``days_frame``) to ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    days_frame(days).to_csv(path, index=False)
    return path


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
