"""``alvhd replay DIR --report OUT``: the whole history, charts and a self-contained HTML.

The report is opened in headless Chromium (Debian package ``chromium``; ``.ci/run``
installs it): every chart must decode (``naturalWidth > 0``), no script error may occur,
and the numbers in its tables must be those of the ``days.csv`` written beside it.
Without Chromium the browser test is skipped, unless ``CI=true`` (CI installs it in ``.ci/run``).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

ALVHD = str(Path(sys.executable).with_name("alvhd"))
PNGS = ("prices_layers.png", "contracts.png", "premium_cap.png", "equity.png", "windows.png")
LIMIT_S = 15.0
"""Issue 12: the full replay with --report finishes in under 15 s. Asserted on the CPU time
of the command (user + sys, children included), which the code controls; the wall time is
printed and bounded loosely, since the 2 cores are shared with other jobs."""
WALL_BOUND_S = 45.0


class _Dom(HTMLParser):
    """Collects ``<body>`` attributes and ``data-key`` → ``data-value`` of the table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.values: dict[str, float] = {}
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "td" and "data-key" in a and "data-value" in a:
            self.values[a["data-key"]] = float(a["data-value"])
        elif tag == "img":
            self.images.append(a.get("src", ""))


def _parse(text: str) -> _Dom:
    dom = _Dom()
    dom.feed(text)
    return dom


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@pytest.fixture(scope="module")
def report(
    market_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, float, float, str]:
    out = tmp_path_factory.mktemp("report")
    cpu0 = _children_cpu_s()
    t0 = time.monotonic()
    proc = subprocess.run(
        [ALVHD, "replay", str(market_dir), "--report", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall_s = time.monotonic() - t0
    cpu_s = _children_cpu_s() - cpu0
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, wall_s, cpu_s, proc.stdout


def test_full_replay_with_report_writes_html_and_pngs_in_under_15_cpu_s(
    report: tuple[Path, float, float, str],
) -> None:
    out, wall_s, cpu_s, stdout = report
    print(f"alvhd replay --report: {wall_s:.1f} s wall, {cpu_s:.1f} s CPU")
    assert cpu_s < LIMIT_S, f"replay + report used {cpu_s:.1f} s of CPU"
    assert wall_s < WALL_BOUND_S, f"replay + report took {wall_s:.1f} s"
    for name in PNGS:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(data) > 5_000, name
    assert (out / "days.csv").is_file()
    page = (out / "report.html").read_text(encoding="utf-8")
    dom = _parse(page)
    assert len(dom.images) == len(PNGS)
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)
    # self-contained: nothing to fetch
    for needle in ('src="http', 'href="http', "<link", "@import", "url("):
        assert needle not in page
    assert "report written to" in stdout
    assert "Condor vs condor + ALVH sleeve" in stdout


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required on CI (.ci/run installs it)")
        pytest.skip("chromium not installed (Debian package chromium)")
    return exe


def _render(html_path: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _change(days: pd.DataFrame, col: str, start: str, end: str) -> float:
    """A cumulative column's change over [start, end] (value before start as the base)."""
    d = days["date"]
    inside = days[(d >= start) & (d <= end)]
    before = days[d < inside["date"].iloc[0]]
    base = float(before[col].iloc[-1]) if not before.empty else 0.0
    return float(inside[col].iloc[-1]) - base


def test_report_renders_in_headless_chromium_with_the_numbers_of_days_csv(
    report: tuple[Path, float, float, str], tmp_path: Path
) -> None:
    out, _, _, _ = report
    proc = _render(out / "report.html", tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom = _parse(proc.stdout)
    assert dom.body.get("data-images-ok") == f"{len(PNGS)}/{len(PNGS)}", dom.body
    assert dom.body.get("data-errors") == "0", dom.body
    console_errors = [
        line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console_errors, console_errors
    days = pd.read_csv(out / "days.csv", dtype={"date": str})
    last = days.iloc[-1]
    v = dom.values
    assert v["whole run|days"] == len(days)
    assert v["whole run|condor $"] == pytest.approx(last["condor_pnl_usd"], abs=0.01)
    assert v["whole run|sleeve $"] == pytest.approx(last["sleeve_pnl_usd"], abs=0.01)
    assert v["whole run|net $"] == pytest.approx(last["net_pnl_usd"], abs=0.02)
    assert v["whole run|always-L1 $"] == pytest.approx(last["baseline_l1_pnl_usd"], abs=0.01)
    assert v["whole run|credit $"] == pytest.approx(last["condor_credit_usd"], abs=0.01)
    assert v["whole run|IWM sat. $"] == pytest.approx(last["satellite_pnl_usd"], abs=0.01)
    covid = ("COVID crash 2020", "2020-02-15", "2020-04-15")
    for col, key in (("condor_pnl_usd", "condor $"), ("sleeve_pnl_usd", "sleeve $")):
        want = _change(days, col, covid[1], covid[2])
        assert v[f"{covid[0]}|{key}"] == pytest.approx(want, abs=0.02), key
    year_2008 = _change(days, "sleeve_pnl_usd", "2008-01-01", "2008-12-31")
    assert v["2008|sleeve $"] == pytest.approx(year_2008, abs=0.02)


def test_window_zooms_the_report_and_an_unknown_window_is_a_config_error(
    market_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "covid"
    args = [ALVHD, "replay", str(market_dir), "--start", "2019-06-03", "--end", "2020-06-30"]
    proc = subprocess.run(
        [*args, "--report", str(out), "--window", "COVID crash 2020", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "ALVH replay report: COVID crash 2020 (2020-02-15 → 2020-04-15)" in page
    dom = _parse(page)
    days = pd.read_csv(out / "days.csv", dtype={"date": str})
    want = _change(days, "sleeve_pnl_usd", "2020-02-15", "2020-04-15")
    assert dom.values["COVID crash 2020|sleeve $"] == pytest.approx(want, abs=0.02)
    assert dom.values["COVID crash 2020|days"] == 41
    bad = subprocess.run(
        [*args, "--report", str(tmp_path / "x"), "--window", "no such crisis", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 78
    assert "no stress window named 'no such crisis'" in bad.stderr + bad.stdout
