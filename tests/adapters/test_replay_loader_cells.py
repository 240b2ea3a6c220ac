"""How the replay loader reads each kind of cell (issue 9: read with the ``csv`` module).

The loader was pandas (``read_csv`` + ``to_datetime`` + ``to_numeric``); it is now the
``csv`` module and ``float``/``date.fromisoformat`` over whole columns, so that
``alvhd replay`` does not import pandas. These cases pin what pandas accepted and refused
(checked against the pandas loader on the same files), on a three-file history.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from adapters.replay import ReplaySource
from daemon.core.model import Symbol

HEADER = "date,open,high,low,close,volume"
GOOD = {
    "2024-01-02": "10.0,11.0,9.0,10.5,0",
    "2024-01-03": "10.5,11.5,10.0,11.0,0",
    "2024-01-04": "11.0,12.0,10.5,11.5,0",
    "2024-01-05": "11.5,12.5,11.0,12.0,0",
}


def _history(tmp_path: Path, spx_rows: list[str]) -> Path:
    good = [f"{day},{rest}" for day, rest in GOOD.items()]
    for name in ("iwm_daily.csv", "vix_daily.csv"):
        (tmp_path / name).write_text("\n".join([HEADER, *good]) + "\n", encoding="utf-8")
    (tmp_path / "spx_daily.csv").write_text("\n".join([HEADER, *spx_rows]) + "\n", "utf-8")
    return tmp_path


def _source(tmp_path: Path, spx_rows: list[str]) -> ReplaySource:
    return ReplaySource(_history(tmp_path, spx_rows), start=date(2024, 1, 2), warmup_days=200)


async def _closes(source: ReplaySource) -> dict[date, float]:
    out: dict[date, float] = {}
    async for event in source.events():
        if getattr(event, "symbol", None) is Symbol.SPX:
            out[event.session_date] = event.price  # type: ignore[union-attr]
    return out


async def test_padded_quoted_and_exponent_cells_are_numbers(tmp_path: Path) -> None:
    source = _source(
        tmp_path,
        [
            "2024-01-02,10.0,11.0,9.0, 10.5 ,0",  # spaces around a number
            '2024-01-03,10.5,11.5,10.0,"11.0",0',  # a quoted number
            " 2024-01-04 ,11.0,12.0,10.5,1.15e1,0",  # a padded date, an exponent
            "2024-01-05,11.5,12.5,11.0,12,0",  # an integer
        ],
    )
    assert source.rejections == []
    closes = await _closes(source)
    assert closes == {
        date(2024, 1, 2): 10.5,
        date(2024, 1, 3): 11.0,
        date(2024, 1, 4): 11.5,
        date(2024, 1, 5): 12.0,
    }


def test_each_bad_cell_is_named_with_the_reason_pandas_gave(tmp_path: Path) -> None:
    source = _source(
        tmp_path,
        [
            "2024-01-02,10.0,11.0,9.0,1_000,0",  # float() reads it; a CSV number has no "_"
            "2024-01-03,10.5,11.5,10.0,inf,0",  # infinite: "nan"
            "2024-01-04,11.0,12.0,10.5,-0,0",  # zero: "non_positive"
            "2024-W01-5,11.5,12.5,11.0,12.0,0",  # an ISO week date is not YYYY-MM-DD
            "20240105,11.5,12.5,11.0,12.0,0",  # nor is the basic form
            "2024-01-05,11.5,12.5,11.0,12.0,0",
        ],
    )
    got = [(r.reason, r.detail) for r in source.rejections]
    assert got == [
        ("malformed_row", "spx_daily.csv:2: close = '1_000'"),
        ("nan", "spx_daily.csv:3: close = 'inf'"),
        ("non_positive", "spx_daily.csv:4: close = '-0'"),
        ("malformed_row", "spx_daily.csv:5: bad date '2024-W01-5'"),
        ("malformed_row", "spx_daily.csv:6: bad date '20240105'"),
    ]


def test_a_one_digit_month_is_still_a_date(tmp_path: Path) -> None:
    source = _source(
        tmp_path, [*[f"{d},{rest}" for d, rest in GOOD.items()][:3], "2024-1-5,1,1,1,1,0"]
    )
    assert source.rejections == []
    assert source.sessions[-1] == date(2024, 1, 5)


def test_an_unbalanced_quote_rejects_its_row_only(tmp_path: Path) -> None:
    # (pandas raised its own ParserError for the whole file, which the CLI showed as a crash)
    rows = [f"{d},{rest}" for d, rest in GOOD.items()]
    rows[1] = '2024-01-03,"10.5,11.5,10.0,11.0,0'  # the open quote swallows the separators
    source = _source(tmp_path, rows)
    got = [(r.reason, r.detail) for r in source.rejections]
    assert got == [("malformed_row", f"spx_daily.csv:3: unbalanced quote: {rows[1]!r}")]
    assert date(2024, 1, 3) not in source.sessions
    assert len(source.sessions) == 3
