"""The ALVH engine: quotes and session closes in, decisions out (SPEC §3–§6).

The engine is the pure heart of alvhd. The shell feeds it quotes (``on_quote``, checked
by :func:`daemon.core.quality.check_quote`), session closes (``on_session_close``),
heartbeats and broker fills; it returns :data:`~daemon.core.model.Decision` values
(layer changes, proposed orders, alerts) that the shell journals and publishes. It never
reads the clock and does no I/O: the same inputs give the same decisions with the same
ids. A decision id is ``orders.decision_id(session date, kind, layer, intent, n)`` where
``n`` counts the decisions of that session, so a restart that re-derives a day from the
last snapshot produces the same ids and the journal de-duplicates them.

At each session close (SPEC §4 "the target state is recomputed on every evaluation"):

1. the latest valid prices are committed as the day's closes to the SignalBook
   (:mod:`daemon.core.prices`) and the SPEC §3 readings are evaluated;
2. replay/sim only (no broker condor): the template condor is opened when none is held
   or the held one has ``roll_at_dte`` days or fewer left (the old one is closed; the
   hedges are re-sized to the new condor at the next rebalance);
3. the SPEC §5 scenario (:mod:`daemon.core.scenario`, VX1–VX4 quotes with their expiry
   form the VX curve; each VIX option is priced on its own expiry's future) gives the
   projected loss L and the condor vega;
4. the ladder (:mod:`daemon.core.ladder`) is stepped; every transition gives a
   LayerChange and an Alert (reasons + exit rule); deactivations propose a CLOSE of the
   layer's hedge, then activations an OPEN sized by the scenario;
5. a held hedge with fewer than ``roll_dte`` calendar days left is rolled
   (:mod:`daemon.core.rolls`);
6. every ``rebalance_every_days`` sessions since the last rebalance, or at once on
   ``big_move`` (SPX or IWM vs. their prices at the last rebalance), every active layer is
   re-sized to its target, outside a no-trade band (:mod:`daemon.core.sizing`);
7. the **cost cap**: open premium ≤ ``cost_cap_frac`` × condor credit; every buy is scaled
   down to fit, and hedges are sold down (L3 first) if the cap shrank
   (:mod:`daemon.core.desk`);
8. the P&L books are marked (:mod:`daemon.core.accounting`) into the day's summary.

Intraday, :meth:`Engine.evaluate` treats the latest prices as a provisional close:
``big_move`` re-sizes at once; layers change only with ``ladder.intraday_confirm``.

Robustness (issue 6 §3–§4):

* every quote that passes :func:`~daemon.core.quality.check_quote` is screened by the
  :class:`~daemon.core.plausibility.PlausibilityFilter`: an implausible print is
  quarantined (``Rejected("implausible")``, counted) and never becomes a price or a close;
  each suspect episode gives one ``data_suspect`` alert when it opens and one when it
  clears, returned by the next ``evaluate``/``on_session_close``/``on_heartbeat`` call;
* the public entry points never raise on an extreme but valid market state: a close or a
  provisional evaluation that fails on arithmetic or an invariant of the template (e.g.
  SPX at 46: "template gives a non-positive long put strike") is rolled back to the state
  before it (the day's closes stay committed), one ``engine`` warning alert per episode of
  identical failures says what was skipped, and the next call tries again. Restarting on
  the same journal re-derives the same skip (same decision id), not a crash loop;
* memory is bounded: :attr:`Engine.days` keeps the last ``days_window`` summaries (the
  decisions and snapshots live in the journal).

The engine is a coordinator; the work lives in these modules, each read on its own:

* :mod:`daemon.core.intake`: quotes checked, screened (suspect prints) and stored;
* :mod:`daemon.core.prices`: latest prices, the closes committed, the SPEC §5 market state;
* :mod:`daemon.core.hedge_book`: the sleeve: held hedges, pending proposals, premium paid;
* :mod:`daemon.core.transitions`: the ladder's transitions as decisions and orders;
* :mod:`daemon.core.desk`: proposals, limit prices and the cost cap;
* :mod:`daemon.core.sizing` and :mod:`daemon.core.rebalance`: SPEC §5.6 targets, opening
  and re-sizing layers, and when (cadence, ``big_move``);
* :mod:`daemon.core.rolls`: Time-Shifting rolls and expired hedges;
* :mod:`daemon.core.monitors`: heartbeat alerts (stale data, expiring calendar);
* :mod:`daemon.core.accounting`: hedge marks, the replay condor's book, the L1 baseline,
  the day's summary;
* :mod:`daemon.core.plausibility`, :mod:`daemon.core.staleness` and
  :mod:`daemon.core.robustness`: suspect prints, feed-outage episodes, skipped evaluations;
* :mod:`daemon.core.codec`: the versioned snapshot JSON;
* :mod:`daemon.core.context`: the per-evaluation scratch, the day's counts and the
  decision-id sequence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from daemon.core import codec, memento
from daemon.core import ladder as ladder_mod
from daemon.core.accounting import Books, day_summary
from daemon.core.codec import SNAPSHOT_VERSION
from daemon.core.context import DayCounts, DayCtx, DecisionIds, Sessions
from daemon.core.desk import OrderDesk
from daemon.core.hedge_book import HedgeBook
from daemon.core.intake import QuoteIntake
from daemon.core.ladder import LadderState, Transition
from daemon.core.listing import CboeVixListing, OptionMarket, StrikeListing
from daemon.core.model import (
    Bar,
    Decision,
    Fill,
    HedgePosition,
    IronCondor,
    Layer,
    Quote,
    Rejected,
    Satellite,
    Symbol,
)
from daemon.core.monitors import HeartbeatWatch
from daemon.core.params import EngineParams
from daemon.core.pnl import DaySummary
from daemon.core.prices import PriceBoard
from daemon.core.rebalance import RebalanceClock
from daemon.core.robustness import SkipGuard, close_repeated_alert
from daemon.core.rolls import rolls
from daemon.core.scenario import condor_risk, open_template_condor
from daemon.core.signals import SignalBook, SignalSnapshot
from daemon.core.transitions import transition_decisions
from daemon.errors import InvariantViolation

_ROLLBACK_SCALARS = (
    "_ladder",
    "_is_template",
    "_satellite",
    "_days_count",
    "_days",
    "_last_snapshot",
)
"""The engine's own attributes a rollback point keeps by reference (its parts' containers
are copied by :mod:`~daemon.core.memento`): one list for the save and the rollback."""
_read_rollback_scalars = attrgetter(*_ROLLBACK_SCALARS)

# enum members as module constants: a class attribute lookup costs ~65 ns on the hot
# paths (issue 9)
_SYMBOL_SPX = Symbol.SPX
_SYMBOL_IWM = Symbol.IWM

__all__ = ["SNAPSHOT_VERSION", "Engine"]


class Engine:
    """Quotes and closes in, SPEC §4–§6 decisions out; deterministic and restartable.

    Args:
        params: the frozen parameter tree (SPEC defaults).
        sessions: sorted XNYS trading days covering the run (minimum holds and the
            rebalance cadence count positions in this list; ``event_window`` uses it).
        condor: the held iron condor (broker mode). ``None`` → replay/sim: the engine
            opens and rolls the template condor itself.
        satellite: the IWM satellite. ``None`` in replay/sim → IWM of
            ``params.satellite_notional_usd`` (none when that is 0).
        assume_fills: True (replay/sim): each proposal fills at its limit at once.
            False (broker): only :meth:`on_fill` changes the sleeve.
        track_baseline: also run the always-on L1 baseline book
            (:class:`~daemon.core.accounting.AlwaysOnL1`; the replay report uses it).
        listing: listed VIX option strikes every hedge strike snaps to (broker: the
            chain; default: Cboe's strike-interval convention, for replay/sim).
        option_market: quotes of listed options (broker mode): proposals are priced at
            the market mid with the market IV; None → the Black-76 model.
    """

    def __init__(
        self,
        params: EngineParams,
        *,
        sessions: Sequence[date],
        condor: IronCondor | None = None,
        satellite: Satellite | None = None,
        assume_fills: bool = True,
        track_baseline: bool = False,
        listing: StrikeListing | None = None,
        option_market: OptionMarket | None = None,
    ) -> None:
        self._params = params
        self._sessions = Sessions(sessions)
        self._book = SignalBook(
            params.signals, params.scenario, params.macro_events, self._sessions.days
        )
        self._is_template = condor is None
        if satellite is None and self._is_template and params.satellite_notional_usd > 0.0:
            satellite = Satellite(symbol=_SYMBOL_IWM, notional_usd=params.satellite_notional_usd)
        self._satellite: Satellite | None = satellite
        self._ladder = LadderState()
        self._hedge_book = HedgeBook(params.accounting.fee_per_contract_usd)
        self._books = Books(params, track_baseline=track_baseline)
        self._ids = DecisionIds()
        self._desk = OrderDesk(
            params,
            self._hedge_book,
            self._ids,
            assume_fills=assume_fills,
            listing=listing if listing is not None else CboeVixListing(),
            market=option_market,
        )
        self._desk.condor = condor
        self._prices = PriceBoard()
        self._rebalance = RebalanceClock(params.ladder.rebalance_every_days)
        self._days: deque[DaySummary] = deque(maxlen=max(1, params.days_window))
        self._days_count = 0
        self._intake = QuoteIntake(params.quality, self._prices)
        self._guard = SkipGuard()
        self._watch = HeartbeatWatch(params)
        self._last_snapshot: SignalSnapshot | None = None
        self._counts = DayCounts()
        # the parts the skip guard saves before each evaluation (never replaced), with
        # their declared containers: looked up once, not on every close (issue 9)
        self._save_plan = memento.plan(
            (
                self._hedge_book,
                *self._books.saved_parts(),
                self._rebalance,
                self._ids,
                self._counts,
                self._desk,
            )
        )

    # ------------------------------------------------------------------ properties

    def set_listing(self, listing: StrikeListing) -> None:
        """Snap hedge strikes to ``listing`` from now on (the broker's chain, once it came).

        Args:
            listing: the listed VIX option strikes (IB's ``reqSecDefOptParams`` chain).
        """
        self._desk.listing = listing

    @property
    def listing(self) -> StrikeListing | None:
        """The listed VIX option strikes hedge strikes snap to now."""
        return self._desk.listing

    @property
    def last_day(self) -> DaySummary | None:
        """The summary of the last session close (None before the first)."""
        return self._days[-1] if self._days else None

    @property
    def days(self) -> Sequence[DaySummary]:
        """Summaries of the last ``days_window`` closes processed by this instance.

        Bounded, so memory stays flat over any horizon (issue 6 §4); not restored by a
        snapshot. A caller that needs every day (``alvhd replay``'s ``days.csv``) collects
        :attr:`last_day` after each close.
        """
        return tuple(self._days)

    @property
    def quality_counts(self) -> dict[str, Any]:
        """Quote quality counters since start, for logs and ``status``.

        ``rejected`` (all refusals: malformed and implausible), ``quarantined`` and
        ``quarantined_by_symbol`` (implausible prints), ``suspect_episodes``,
        ``confirmed_moves``, ``settlements_out_of_band``, ``skipped_evaluations``.
        """
        return self._intake.counts(self.skipped_evaluations)

    @property
    def skipped_evaluations(self) -> int:
        """Closes and provisional evaluations skipped on an extreme state since start."""
        return self._guard.skipped

    @property
    def hedges(self) -> tuple[HedgePosition, ...]:
        """Held hedge positions, in layer order (the Second Engine sleeve)."""
        return self._hedge_book.hedges

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        """Active ladder layers, L1..L3 order."""
        return self._ladder.active_layers

    @property
    def condor(self) -> IronCondor | None:
        """The condor being hedged (template condor in replay/sim)."""
        return self._desk.condor

    @property
    def rejected_count(self) -> int:
        """Quotes refused so far: malformed (``check_quote``) or implausible (quarantined)."""
        return self._intake.rejected

    @property
    def premium_paid_to_date_usd(self) -> float:
        """Premium paid for every hedge bought since the start, USD."""
        return self._hedge_book.premium_paid_to_date_usd

    @property
    def open_premium_usd(self) -> float:
        """Premium paid for the hedges still held, USD (the cost-cap measure)."""
        return self._hedge_book.open_premium_usd

    @property
    def cost_cap_usd(self) -> float:
        """The cap on open premium: ``cost_cap_frac`` × condor credit, USD (0 without condor)."""
        return self._desk.cost_cap_usd

    def latest_snapshot(self) -> SignalSnapshot | None:
        """The signal snapshot of the last full evaluation.

        That is the last close, or the last provisional evaluation that built a snapshot
        (a big move, or any tick with ``intraday_confirm`` on); routine ticks do not.
        """
        return self._last_snapshot

    # ------------------------------------------------------------------ inputs

    def warm_up(self, bars: Mapping[Symbol, Sequence[Bar]]) -> None:
        """Seed the indicators from daily history (SPEC §2: at least 200 sessions).

        Args:
            bars: daily bars per symbol, oldest first, all before the first live session.
        """
        self._book.warm_up(bars)
        self._prices.warm_up(bars)
        self._intake.seed(bars)

    def on_quote(self, quote: Quote) -> Rejected | None:
        """Validate and store one quote (O(1), no decisions).

        Args:
            quote: the observation.

        Returns:
            ``Rejected`` (also counted in :attr:`rejected_count`) for a bad quote: malformed
            (:func:`~daemon.core.quality.check_quote`) or implausible (reason
            ``"implausible"``: quarantined by the plausibility filter), else None. A
            suspect episode opening or clearing queues a ``data_suspect`` alert, returned
            by the next ``evaluate``/``on_session_close``/``on_heartbeat``.
        """
        return self._intake.take(quote)

    def on_session_close(self, session_date: date, now: datetime) -> list[Decision]:
        """Commit the day's closes and run the whole SPEC §4 cycle for it.

        Never raises on an extreme market state: the cycle is then skipped (closes kept,
        everything else as before) with an ``engine`` alert (see the module docstring).

        Args:
            session_date: the trading day that closed.
            now: evaluation time, tz-aware UTC (stamps the decisions).

        Returns:
            Queued ``data_suspect`` alerts, then the decisions of the day, in order: layer
            changes with their alerts, the orders they need, rolls, rebalance orders,
            cost-cap alerts. For a date not after the last committed close nothing changes
            and one ``data_stale`` alert says so (info for the same date, a restart after
            the close; warning for an older one; deterministic id: the journal keeps one per
            date), never a silent no-op: it means a close was committed early (e.g. from an
            intraday bar). No day decisions when a required series (SPX, IWM, VIX) has never
            been quoted.
        """
        out = self._intake.take_alerts()
        last = self._book.last_session
        if last is not None and session_date <= last:
            out.append(close_repeated_alert(session_date, last, now))
            return out
        if not self._prices.has_required():
            return out
        self._book.on_close(session_date, self._prices.closes(session_date))
        out.extend(
            self._guarded(
                "session close", session_date, now, lambda: self._close(session_date, now)
            )
        )
        return out

    def _close(self, session_date: date, now: datetime) -> list[Decision]:
        """The SPEC §4 cycle of a close whose prices are committed to the book."""
        snap = self._book.evaluate(session_date, rebalance_ref=self._rebalance.ref)
        self._last_snapshot = snap
        index = self._index_of(session_date)
        ctx = DayCtx(session_date=session_date, now=now, session_index=index, snapshot=snap)
        self._counts.begin(ctx)
        # TIF DAY: proposals of earlier sessions that never filled have expired.
        self._hedge_book.expire_pending(session_date)
        self._prepare(ctx)
        self._ladder, transitions = ladder_mod.step(
            self._ladder,
            snap,
            session_index=index,
            params=self._params.ladder,
            signals=self._params.signals,
        )
        out = self._manage(ctx, transitions, is_close=True)
        self._counts.end(ctx)
        self._days_count += 1
        sat_usd = 0.0 if self._satellite is None else self._satellite.notional_usd
        desk = self._desk
        # model-priced units (no option market) mark the held hedges: the same floats as
        # the leg marks, and the day summary's held cover reuses them (issue 9)
        unit_of = None if desk.market is not None else (lambda legs: desk.unit(legs, ctx))
        pnl = self._books.on_close(ctx, self._hedge_book, desk.condor, sat_usd, unit_of)
        self._days.append(day_summary(self._desk, ctx, self._ladder.active_layers, pnl))
        return out

    def evaluate(self, now: datetime) -> list[Decision]:
        """Provisional intraday evaluation at the latest prices (SPEC §2).

        ``big_move`` (vs. prices at the last rebalance) re-sizes at once; layer changes
        happen only when ``ladder.intraday_confirm`` is on. Rolls and the cadence wait
        for the close. Without ``intraday_confirm`` a tick costs an O(1) big-move check
        (about 2 µs); the full provisional snapshot is built only when it holds.

        Args:
            now: evaluation time, tz-aware UTC.

        Returns:
            Queued ``data_suspect`` alerts, then the decisions (usually none). Never
            raises on an extreme state (the evaluation is skipped, see the module
            docstring).
        """
        out = self._intake.take_alerts()
        prices = self._prices
        if not prices.price_day or not prices.has_required():
            return out
        day = prices.price_day[_SYMBOL_SPX]
        last = self._book.last_session
        ref = self._rebalance.ref
        if last is None or day <= last or ref is None:
            return out
        lp = self._params.ladder
        big_move_pct = self._params.signals.big_move_pct
        if not lp.intraday_confirm and not prices.moved_enough(ref, big_move_pct):
            # Fast path (every tick): nothing can happen without a big move, so the full
            # provisional snapshot is not built; ``latest_snapshot`` keeps the last one.
            return out
        out.extend(
            self._guarded("intraday evaluation", day, now, lambda: self._provisional(day, now))
        )
        return out

    def _provisional(self, day: date, now: datetime) -> list[Decision]:
        """The provisional evaluation of ``day`` at the latest prices (past the fast path)."""
        prices = self._prices
        lp = self._params.ladder
        snap = self._book.evaluate(
            day, prices.latest_signal_prices(), rebalance_ref=self._rebalance.ref
        )
        self._last_snapshot = snap
        big = snap.get("big_move")
        if not big.holds and not lp.intraday_confirm:
            return []
        index = self._index_of(day)
        ctx = DayCtx(session_date=day, now=now, session_index=index, snapshot=snap)
        self._counts.begin(ctx)
        self._prepare(ctx)
        transitions: tuple[Transition, ...] = ()
        if lp.intraday_confirm:
            self._ladder, transitions = ladder_mod.step(
                self._ladder,
                snap,
                session_index=index,
                params=lp,
                signals=self._params.signals,
                is_close=False,
            )
        out = self._manage(ctx, transitions, is_close=False)
        self._counts.end(ctx)
        return out

    # ------------------------------------------------------------------ robustness

    def _guarded(
        self, what: str, day: date, now: datetime, step: Callable[[], list[Decision]]
    ) -> list[Decision]:
        """Run ``step`` (it may change everything but the signal book) under the skip guard.

        On an extreme-state failure the engine is rolled back to its :meth:`_state` before
        ``step`` (and its day history and last snapshot), and one ``engine`` alert per
        episode says so (:meth:`~daemon.core.robustness.SkipGuard.run`).
        """
        return self._guard.run(
            what,
            day,
            now,
            step,
            save=self._save_state,
            rollback=self._rollback_state,
            prices=self._prices,
        )

    def _save_state(self) -> tuple[tuple[Any, ...], list[memento.Saved]]:
        """What :meth:`_state` holds but the quote-only parts, as an in-memory copy.

        The same values back on a rollback, at a fraction of the cost of building the
        snapshot's dict on every close (issue 9); with the day history and the last
        snapshot (not in :meth:`_state`).
        """
        scalars = _read_rollback_scalars(self)
        # the hedge book, the P&L books, rebalance clock, ids, day counts and desk
        return scalars, memento.save_planned(self._save_plan)

    def _rollback_state(self, saved: tuple[tuple[Any, ...], list[memento.Saved]]) -> None:
        """Put back what :meth:`_save_state` saved."""
        scalars, objects = saved
        for name, value in zip(_ROLLBACK_SCALARS, scalars, strict=True):
            setattr(self, name, value)
        for o in objects:
            memento.restore(o)

    # ------------------------------------------------------------------ one evaluation

    def _index_of(self, day: date) -> int:
        """Trading-session index of ``day`` (:meth:`~daemon.core.context.Sessions.index_of`)."""
        return self._sessions.index_of(day, self._ladder.last_close_index)

    def _prepare(self, ctx: DayCtx) -> None:
        """Template condor (replay/sim), market state and condor risk for ``ctx``."""
        state = self._prices.market_state(ctx.session_date, ctx.snapshot)
        ctx.state = state
        if state is None:
            return
        desk = self._desk
        if self._is_template:
            c = desk.condor
            tmpl = self._params.condor_template
            if c is None or (c.expiry - ctx.session_date).days <= tmpl.roll_at_dte:
                desk.condor = open_template_condor(state, tmpl, self._params.scenario)
        if desk.condor is not None:
            satellite_usd = 0.0 if self._satellite is None else self._satellite.notional_usd
            ctx.risk = condor_risk(desk.condor, satellite_usd, state, self._params.scenario)

    def _manage(
        self, ctx: DayCtx, transitions: Sequence[Transition], *, is_close: bool
    ) -> list[Decision]:
        """Steps 4–7 of the cycle: transitions, rolls, rebalance, cost cap (in this order)."""
        # no transition (most evaluations): nothing changed, no decision to build
        out, changed = (
            transition_decisions(self._desk, ctx, transitions) if transitions else ([], set())
        )
        if is_close:
            out.extend(rolls(self._desk, ctx, changed))
        active = self._ladder.active_layers
        out.extend(
            self._rebalance.step(self._desk, ctx, self._prices, active, changed, is_close=is_close)
        )
        out.extend(self._desk.enforce_cap(ctx))
        return out

    # ------------------------------------------------------------------ live-only inputs

    def on_heartbeat(self, now: datetime) -> list[Decision]:
        """Staleness and calendar checks (live only; :mod:`daemon.core.monitors`).

        ``data_stale`` once per outage *episode* of the required series (critical, naming
        every stale one) when a last valid quote is older than ``stale_after_s``, and one
        *restored* ``data_stale`` (info) when all are fresh again; ``calendar_expiring``
        (warning) once per day when the last configured macro event is within
        ``calendar_warn_days`` of ``now``'s date (or none is configured).

        Args:
            now: tz-aware UTC.

        Returns:
            Queued ``data_suspect`` alerts, then the alerts raised.
        """
        out = self._intake.take_alerts()
        out.extend(self._watch.check(now, self._prices.price_ts))
        return out

    def on_fill(self, fill: Fill) -> list[Decision]:
        """Book a broker fill into the sleeve (broker mode; a no-op for unknown refs).

        Args:
            fill: the execution (``contracts`` units at ``price`` per unit).

        Returns:
            Always ``[]`` (the sleeve changes; no new decision).
        """
        self._hedge_book.on_fill(fill)
        return []

    def set_positions(
        self,
        *,
        condor: IronCondor | None,
        hedges: Sequence[HedgePosition],
        satellite: Satellite | None,
    ) -> None:
        """Replace the positions with the broker's view (one hedge per layer: last wins).

        Args:
            condor: the held condor (None: none held).
            hedges: held hedge positions.
            satellite: the satellite exposure.
        """
        self._desk.condor = condor
        self._is_template = False
        self._satellite = satellite
        self._hedge_book.set_hedges(hedges)

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> bytes:
        """Everything needed to continue identically, as versioned JSON bytes.

        Holds the signal book, the ladder, the sleeve, the condor, the satellite, the
        latest prices, pending orders, counters and the rebalance references; not the
        day history (:attr:`days`). The layout is :mod:`daemon.core.codec`'s.
        """
        return codec.encode({"book": self._book.state(), **self._state()})

    def _state(self, *, with_quote_state: bool = True) -> dict[str, Any]:
        """Everything of :meth:`snapshot` but the signal book, as fresh JSON-able values.

        Args:
            with_quote_state: include the parts only quotes and heartbeats change (the
                latest prices, the rejected count, the staleness watch). The skip guard's
                save leaves them out: an evaluation step never changes them, and writing
                the prices out was half the cost of that save on every close (issue 9).
        """
        condor = self._desk.condor
        quote_state: dict[str, Any] = {}
        watch_state: dict[str, Any] = {}
        if with_quote_state:
            quote_state = {"rejected": self._intake.rejected, **self._prices.to_dict()}
            watch_state = self._watch.to_dict()
        return {
            "ladder": ladder_mod.state_to_dict(self._ladder),
            "is_template": self._is_template,
            "condor": None if condor is None else codec.condor_to_dict(condor),
            "satellite": codec.satellite_to_dict(self._satellite),
            **codec.book_to_dict(self._hedge_book),
            **self._books.state(),
            **quote_state,
            **self._rebalance.to_dict(),
            **self._ids.to_dict(),
            "days_count": self._days_count,
            **self._counts.to_dict(),
            **watch_state,
            "traded": self._desk.traded_to_dict(),
        }

    def restore(self, data: bytes) -> None:
        """Load a :meth:`snapshot` (into an engine built with the same params/sessions).

        Args:
            data: snapshot bytes.

        Raises:
            InvariantViolation: unreadable JSON, wrong version or missing fields.
        """
        d = codec.decode(data)
        try:
            self._load(d)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"unreadable engine snapshot: {exc}"
            raise InvariantViolation(msg) from exc
        self._days = deque(maxlen=max(1, self._params.days_window))
        self._last_snapshot = None
        self._intake.reseed()

    def _load(
        self, d: Mapping[str, Any], *, with_book: bool = True, with_quote_state: bool = True
    ) -> None:
        if with_book:
            self._book.load_state(d["book"])
        self._ladder = ladder_mod.state_from_dict(d["ladder"])
        self._is_template = bool(d["is_template"])
        self._desk.condor = None if d["condor"] is None else codec.condor_from_dict(d["condor"])
        self._satellite = codec.satellite_from_dict(d["satellite"])
        codec.load_book(self._hedge_book, d)
        self._books.load(d, self._desk.condor)
        if with_quote_state:
            self._intake.rejected = int(d["rejected"])
            self._prices.load(d)
        self._rebalance.load(d)
        self._ids.load(d)
        self._days_count = int(d["days_count"])
        self._counts.load(d)
        if with_quote_state:
            self._watch.load(d)
        self._desk.load_traded(d.get("traded"))
