"""The replay report: PNG charts (matplotlib, Agg) and one self-contained HTML page.

Shell code. Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg
canvas (no pyplot, no GUI backend, no global state).
``write_report(out_dir, frame, ...)`` writes into ``out_dir``:

* ``prices_layers.png``: SPX and VIX with each layer's active days shaded;
* ``contracts.png``: hedge contracts held per layer;
* ``premium_cap.png``: open hedge premium against the cost cap;
* ``equity.png``: cumulative P&L of the condor alone, condor + ALVH sleeve and
  condor + always-on L1, and the drawdowns of the first two;
* ``windows.png``: per stress window, the condor's P&L next to the sleeve's;
* ``report.html``: the header (parameters, data range), the headline table, each chart
  with its table underneath. The PNGs are embedded as base64 ``data:`` URIs, so the file
  opens without the PNGs beside it and without network. A small inline script records in
  ``<body data-images-ok=... data-errors=...>`` whether every image decoded and whether
  any script error occurred (the headless-browser test reads it).

``window`` (a stress window's name) zooms the charts and tables onto that window.
Every table cell carries ``data-key="<period>|<column>"`` and the raw value in
``data-value`` so the numbers can be checked against ``days.csv``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from daemon.report import (
    CONDOR_CYCLE_HEADERS,
    LAYERS,
    PNL_HEADERS,
    PnlRow,
    StressWindow,
    condor_cycle_rows,
    pnl_cells,
    pnl_rows,
)

__all__ = ["ReportFiles", "write_report"]

_LAYER_COLOURS = {"L1": "#f2c14e", "L2": "#f78154", "L3": "#b33f62"}
_DPI = 80


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    pngs: tuple[Path, ...]
    whole: PnlRow


def _dates(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["date"])


def _shade_layers(ax: Axes, frame: pd.DataFrame) -> None:
    dates = _dates(frame)
    layers = frame["active_layers"].fillna("").astype(str)
    for layer in LAYERS:
        on = layers.str.contains(layer.value).to_numpy()
        ax.fill_between(
            dates,
            0,
            1,
            where=on,
            step="mid",
            transform=ax.get_xaxis_transform(),
            color=_LAYER_COLOURS[layer.value],
            alpha=0.25,
            linewidth=0,
            label=f"{layer.value} on",
        )


def _fig_prices(frame: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(12, 4.2), dpi=_DPI)
    ax = fig.subplots()
    dates = _dates(frame)
    _shade_layers(ax, frame)
    ax.plot(dates, frame["spx"], color="#1f4e79", linewidth=1.0, label="SPX")
    ax.set_ylabel("SPX (points)")
    ax2 = ax.twinx()
    ax2.plot(dates, frame["vix"], color="#7a7a7a", linewidth=0.8, label="VIX")
    ax2.set_ylabel("VIX (points)")
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper left", fontsize=8, ncol=5)
    ax.set_title("SPX and VIX; shaded: days each layer was active")
    return fig


def _fig_contracts(frame: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(12, 3.2), dpi=_DPI)
    ax = fig.subplots()
    dates = _dates(frame)
    for layer in LAYERS:
        ax.step(
            dates,
            frame[f"contracts_{layer.value}"],
            where="post",
            color=_LAYER_COLOURS[layer.value],
            linewidth=1.0,
            label=layer.value,
        )
    ax.set_ylabel("VIX option units held")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Hedge contracts per layer")
    return fig


def _fig_premium(frame: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(12, 3.2), dpi=_DPI)
    ax = fig.subplots()
    dates = _dates(frame)
    ax.plot(dates, frame["cost_cap_usd"], color="#b33f62", linewidth=1.0, label="cost cap")
    ax.fill_between(
        dates, 0, frame["open_premium_usd"], color="#1f4e79", alpha=0.5, label="open premium"
    )
    ax.set_ylabel("USD")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Open hedge premium against the cost cap")
    return fig


def _rebased(frame: pd.DataFrame, col: str, base: pd.Series | None) -> pd.Series:
    """``col`` as a change since the session before ``frame`` (``base``; None: from 0)."""
    return frame[col].astype(float) - (0.0 if base is None else float(base[col]))


def _fig_equity(frame: pd.DataFrame, base_row: pd.Series | None) -> Figure:
    fig = Figure(figsize=(12, 5.6), dpi=_DPI)
    ax, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1.0))
    dates = _dates(frame)
    condor = _rebased(frame, "condor_pnl_usd", base_row)
    net = _rebased(frame, "net_pnl_usd", base_row)
    base = _rebased(frame, "net_baseline_pnl_usd", base_row)
    ax.plot(dates, condor, color="#7a7a7a", linewidth=1.0, label="condor alone")
    ax.plot(dates, net, color="#1f4e79", linewidth=1.2, label="condor + ALVH sleeve")
    ax.plot(dates, base, color="#f2c14e", linewidth=0.9, label="condor + always-on L1")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("cumulative P&L (USD)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Equity with and without the sleeve")
    for series, colour, label in ((condor, "#7a7a7a", "condor"), (net, "#1f4e79", "net")):
        peak = series.cummax().clip(lower=0.0)
        ax_dd.fill_between(dates, 0, series - peak, color=colour, alpha=0.45, label=label)
    ax_dd.set_ylabel("drawdown (USD)")
    ax_dd.legend(loc="lower left", fontsize=8)
    return fig


def _fig_windows(rows: Sequence[PnlRow]) -> Figure:
    fig = Figure(figsize=(12, 3.8), dpi=_DPI)
    ax = fig.subplots()
    names = [r.name for r in rows]
    x = range(len(rows))
    width = 0.38
    ax.bar(
        [i - width / 2 for i in x],
        [r.condor_pnl_usd for r in rows],
        width,
        color="#7a7a7a",
        label="condor P&L",
    )
    ax.bar(
        [i + width / 2 for i in x],
        [r.sleeve_pnl_usd for r in rows],
        width,
        color="#1f4e79",
        label="sleeve P&L",
    )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(list(x), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("USD over the window")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Per stress window: condor loss vs sleeve gain")
    return fig


def _png(fig: Figure, path: Path) -> bytes:
    # fixed margins: a layout engine costs about as much as the drawing itself
    bottom = 0.3 if path.name == "windows.png" else 0.12
    fig.subplots_adjust(left=0.09, right=0.93, top=0.92, bottom=bottom, hspace=0.12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def _table(rows: Sequence[PnlRow], caption: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in PNL_HEADERS)
    body = []
    for row in rows:
        values = _raw_values(row)
        cells = []
        for head_name, text in zip(PNL_HEADERS, pnl_cells(row), strict=True):
            raw = values.get(head_name)
            key = html.escape(f"{row.name}|{head_name}")
            attr = f' data-value="{raw!r}"' if raw is not None else ""
            cells.append(f'<td data-key="{key}"{attr}>{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _raw_values(row: PnlRow) -> dict[str, float]:
    return {
        "days": float(row.days),
        "condor $": row.condor_pnl_usd,
        "sleeve $": row.sleeve_pnl_usd,
        "net $": row.net_pnl_usd,
        "always-L1 $": row.baseline_pnl_usd,
        "max DD condor $": row.max_dd_condor_usd,
        "max DD net $": row.max_dd_net_usd,
        "credit $": row.credit_usd,
        "IWM sat. $": row.satellite_pnl_usd,
    }


def _simple_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.82em;display:block;
overflow-x:auto;max-width:100%}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.2em .45em;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eee}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;font-size:.85em}
dt{font-weight:600}
"""

_CHECK_SCRIPT = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    document.body.setAttribute('data-images-ok', ok + '/' + imgs.length);
    document.body.setAttribute('data-errors', String(errors.length));
  });
})();
"""


def write_report(
    out_dir: Path,
    frame: pd.DataFrame,
    *,
    windows: Sequence[StressWindow],
    parameters: Mapping[str, str],
    window: str | None = None,
    rows: tuple[PnlRow, list[PnlRow], list[PnlRow]] | None = None,
) -> ReportFiles:
    """Write the PNG charts and ``report.html`` into ``out_dir`` (module docstring).

    Args:
        out_dir: output directory (created).
        frame: ``days_frame`` output of the replay (with the P&L columns).
        windows: the stress windows (per-window table and bars).
        parameters: name → value text shown in the header.
        window: zoom onto the stress window of this name (charts and tables).
        rows: ``pnl_rows(frame, windows)`` when already computed (with the years).

    Returns:
        The files written and the headline (whole range) row.

    Raises:
        ValueError: ``window`` names no stress window, or no session falls in it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = frame.reset_index(drop=True)
    zoom = frame
    base_row: pd.Series | None = None
    title = "ALVH replay report"
    if window is not None:
        match = [w for w in windows if w.name == window]
        if not match:
            names = ", ".join(w.name for w in windows)
            msg = f"no stress window named {window!r} (known: {names})"
            raise ValueError(msg)
        w = match[0]
        d = _dates(frame).dt.date
        inside = frame[(d >= w.start) & (d <= w.end)]
        zoom = inside.reset_index(drop=True)
        if zoom.empty:
            msg = f"stress window {window!r} ({w.start} → {w.end}) has no session in the data"
            raise ValueError(msg)
        title += f": {w.name} ({w.start} → {w.end})"
        first = int(inside.index[0])
        base_row = frame.iloc[first - 1] if first > 0 else None
    whole_all, years, all_windows = rows if rows is not None else pnl_rows(frame, windows)
    if window is not None:
        years = []
    whole, win_rows = whole_all, all_windows
    if window is not None:
        # the window's figures from the whole frame: changes since the session before it
        whole = next(r for r in all_windows if r.name == window)
        win_rows = []
    bars = all_windows if window is None else [whole]

    charts = (
        ("prices_layers.png", _fig_prices(zoom)),
        ("contracts.png", _fig_contracts(zoom)),
        ("premium_cap.png", _fig_premium(zoom)),
        ("equity.png", _fig_equity(zoom, base_row)),
        ("windows.png", _fig_windows(bars)),
    )
    uris: dict[str, str] = {}
    pngs: list[Path] = []
    for name, fig in charts:
        path = out_dir / name
        uris[name] = "data:image/png;base64," + base64.b64encode(_png(fig, path)).decode()
        pngs.append(path)

    def img(name: str, alt: str) -> str:
        return f'<img src="{uris[name]}" alt="{html.escape(alt)}">'

    params = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in parameters.items()
    )
    layer_rows = [
        [
            r.name,
            str(r.days),
            *(f"{r.days_on[lay]} ({100 * r.days_on[lay] / r.days:.0f}%)" for lay in LAYERS),
        ]
        for r in [whole, *win_rows]
    ]
    open_prem = zoom["open_premium_usd"].astype(float)
    cap = zoom["cost_cap_usd"].astype(float)
    used = (open_prem / cap.where(cap > 0)).fillna(0.0)
    cap_rows = [
        [
            f"{zoom['date'].iloc[0]} → {zoom['date'].iloc[-1]}",
            f"{open_prem.max():,.0f}",
            f"{100 * used.mean():.0f}%",
            f"{100 * used.max():.0f}%",
            str(int(zoom["cost_capped"].sum())),
            "yes" if bool((open_prem <= cap + 0.01).all()) else "NO",
        ]
    ]
    contract_rows = [
        [
            lay.value,
            f"{zoom[f'contracts_{lay.value}'].max():,.0f}",
            f"{zoom[f'contracts_{lay.value}'].replace(0, pd.NA).dropna().mean():,.0f}"
            if (zoom[f"contracts_{lay.value}"] > 0).any()
            else "0",
            f"{zoom[f'pnl_{lay.value}_usd'].iloc[-1] - zoom[f'pnl_{lay.value}_usd'].iloc[0]:,.0f}",
        ]
        for lay in LAYERS
    ]
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Data {html.escape(str(zoom['date'].iloc[0]))} → "
        f"{html.escape(str(zoom['date'].iloc[-1]))}, {len(zoom)} sessions. All figures in USD; "
        "P&amp;L is realised plus marked-to-market. Hedges are marked with Black-76 on their VX "
        "future; the condor with Black–Scholes at VIX plus the configured skew.</p>",
        f"<dl>{params}</dl>",
        "<h2>Headline</h2>",
        _table([whole], "Condor alone vs condor + ALVH sleeve (and the always-on L1 baseline)"),
        "<h2>SPX, VIX and the ladder</h2>",
        img("prices_layers.png", "SPX and VIX with layer activity"),
        _simple_table(
            "Days each layer was active",
            ["period", "days", *(f"{lay.value} on" for lay in LAYERS)],
            layer_rows,
        ),
        "<h2>Hedge contracts</h2>",
        img("contracts.png", "hedge contracts per layer"),
        _simple_table(
            "Contracts per layer (max, mean while held) and the layer's P&L over the range",
            ["layer", "max units", "mean units held", "P&L $"],
            contract_rows,
        ),
        "<h2>Open premium and the cost cap</h2>",
        img("premium_cap.png", "open premium against the cost cap"),
        _simple_table(
            "Cost cap use",
            [
                "range",
                "max open premium $",
                "mean % of cap",
                "max % of cap",
                "capped days",
                "cap held",
            ],
            cap_rows,
        ),
        "<h2>Equity and drawdowns</h2>",
        img("equity.png", "equity curves and drawdowns"),
        _table(years if years else [whole], "Per year" if years else "Over the window"),
        _simple_table(
            "The condor's cycles (opened at condor.dte_days, bought back at condor.roll_at_dte)",
            list(CONDOR_CYCLE_HEADERS),
            condor_cycle_rows(zoom),
        ),
        "<h2>Stress windows</h2>",
        img("windows.png", "condor loss vs sleeve gain per stress window"),
        _table(win_rows if window is None else [whole], "Per stress window"),
    ]
    if window is not None:
        sections.append(_table([whole_all], "Whole run, for reference"))
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{_CHECK_SCRIPT}</script></head><body>" + "\n".join(sections) + "</body></html>"
    )
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return ReportFiles(html=html_path, pngs=tuple(pngs), whole=whole)
