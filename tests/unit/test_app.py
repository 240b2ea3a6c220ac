"""Composition-root helpers that a user sees: the macro-calendar start-up warning."""

from __future__ import annotations

from datetime import date

from daemon.app import calendar_warning
from daemon.core.params import EngineParams, MacroEvent, MacroEventKind
from daemon.settings import load_settings


def _params(last: date | None, warn_days: int = 60) -> EngineParams:
    events = () if last is None else (MacroEvent(day=last, kind=MacroEventKind.CPI),)
    return EngineParams(macro_events=events, calendar_warn_days=warn_days)


def test_warns_when_the_calendar_ends_within_the_horizon() -> None:
    msg = calendar_warning(_params(date(2027, 1, 10)), date(2026, 11, 21))
    assert msg is not None
    assert "2027-01-10" in msg
    assert "50 days" in msg
    assert "macro_events.csv" in msg


def test_silent_when_the_calendar_reaches_beyond_the_horizon() -> None:
    assert calendar_warning(_params(date(2027, 12, 15)), date(2026, 11, 21)) is None


def test_warns_without_any_calendar() -> None:
    msg = calendar_warning(_params(None), date(2026, 11, 21))
    assert msg is not None
    assert "no macro calendar" in msg


def test_the_shipped_calendar_reaches_2027_12() -> None:
    params = load_settings().to_params()
    assert params.macro_events[-1].day >= date(2027, 12, 1)
    # It will need extending from about 60 days before its end.
    assert calendar_warning(params, date(2027, 11, 1)) is not None
