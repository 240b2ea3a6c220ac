"""The ALVH layer state machine (SPEC §4), as pure logic.

One call of :func:`step` takes the ladder state, the signal readings of one
evaluation and the trading-session index of that evaluation, and returns the new
state plus the layer transitions. Nothing here sizes or prices: the engine does that
for each transition.

Rules (SPEC §4, defaults from :class:`~daemon.core.params.LadderParams`):

* **L1** activates when ``ratio_macd_negative`` holds at a close; it deactivates after
  ``l1_exit_closes`` consecutive closes with the IWM/SPX ratio MACD line ≥ 0.
* **L2** activates when L1 is active **and** an RSI confirmation (``vix_rsi_hot`` or
  ``ratio_rsi_weak``) **and** the MACD confirmation (``vix_macd_bull_cross``) hold.
  ``event_window`` and ``backwardation`` are recorded in the reasons as extra
  confirmations when they hold, but never activate L2 alone. L2 deactivates when VIX
  RSI < ``l2_exit_vix_rsi_below`` **and** the VIX MACD line is below its signal line,
  and always when L1 deactivates (layers are cumulative: L2 ⊆ L1).
* **L3** activates on ``iv_spread_blowout``; it deactivates when RVX − VIX falls below
  mean + ``l3_exit_spread_frac`` × |mean| (the 90-day mean). While RVX is missing the
  exit cannot be judged: an active L3 stays on for ``l3_max_missing_closes`` closes, then
  closes as a fail-safe with the reason ``l3_data_missing`` (a dead feed must not keep a
  hedge, and its rolls, on forever).

**Minimum hold** (``min_hold_days``, trading sessions, SPEC §4 "no flapping"): a layer
activated at session index *i* cannot deactivate before index *i + min_hold_days*, and
a layer deactivated at index *j* cannot re-activate before *j + min_hold_days* (our
reading: the anti-flapping rule binds both directions). Because L2 ⊆ L1, an L1 exit is
deferred while an active L2 is still inside its own minimum hold, so neither layer is
ever switched off inside its hold.

Closes vs. provisional evaluations (SPEC §2): the L1 exit streak counts *closes* only.
A provisional (intraday) step with ``is_close=False`` judges the streak as if the
current price were today's close, may switch layers (the engine calls it only when
``intraday_confirm`` is on) but never stores the provisional streak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from daemon.core.fastinit import fast_init
from daemon.core.model import Layer, SignalReading
from daemon.core.params import LadderParams, SignalParams
from daemon.errors import InvariantViolation

__all__ = [
    "LadderInputs",
    "LadderState",
    "LayerState",
    "Transition",
    "exit_rule",
    "state_from_dict",
    "state_to_dict",
    "step",
]


class LadderInputs(Protocol):
    """What the ladder reads from one evaluation (``signals.SignalSnapshot`` conforms)."""

    @property
    def ratio_macd_line(self) -> float | None:
        """MACD line of the IWM/SPX close ratio (ratio units)."""
        ...

    @property
    def vix_rsi(self) -> float | None:
        """RSI(14, Wilder) of VIX, 0–100."""
        ...

    @property
    def vix_macd_line(self) -> float | None:
        """MACD line of VIX, VIX points."""
        ...

    @property
    def vix_macd_signal(self) -> float | None:
        """Signal line (EMA of the MACD line) of VIX, VIX points."""
        ...

    @property
    def iv_spread_pts(self) -> float | None:
        """RVX − VIX, vol points."""
        ...

    @property
    def iv_spread_mean_pts(self) -> float | None:
        """90-session mean of RVX − VIX, vol points."""
        ...

    def get(self, signal_id: str) -> SignalReading:
        """The SPEC §3 reading with this id (KeyError if unknown)."""
        ...


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LayerState:
    """One layer's switch and the session indices that bound its minimum hold.

    Attributes:
        is_active: whether the layer is on.
        activated_index: trading-session index of the last activation, if any.
        deactivated_index: trading-session index of the last deactivation, if any.
    """

    is_active: bool = False
    activated_index: int | None = None
    deactivated_index: int | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class LadderState:
    """The whole ladder (SPEC §4).

    Attributes:
        l1: layer L1 state.
        l2: layer L2 state (never active without L1).
        l3: layer L3 state.
        l1_exit_streak: consecutive closes with ratio MACD line ≥ 0 while L1 is active.
        l3_missing_streak: consecutive closes without the RVX−VIX spread while L3 is active.
        last_close_index: session index of the last close stepped, if any.
    """

    l1: LayerState = LayerState()
    l2: LayerState = LayerState()
    l3: LayerState = LayerState()
    l1_exit_streak: int = 0
    l3_missing_streak: int = 0
    last_close_index: int | None = None

    def layer(self, layer: Layer) -> LayerState:
        """The state of ``layer``."""
        if layer is Layer.L1:
            return self.l1
        if layer is Layer.L2:
            return self.l2
        return self.l3

    @property
    def active_layers(self) -> tuple[Layer, ...]:
        """Active layers, in L1, L2, L3 order."""
        # one lookup of the eight possible answers (read twice a close; issue 9)
        return _ACTIVE_LAYERS[self.l1.is_active, self.l2.is_active, self.l3.is_active]


_ACTIVE_LAYERS: dict[tuple[bool, bool, bool], tuple[Layer, ...]] = {
    (a1, a2, a3): tuple(
        layer for layer, on in ((Layer.L1, a1), (Layer.L2, a2), (Layer.L3, a3)) if on
    )
    for a1 in (False, True)
    for a2 in (False, True)
    for a3 in (False, True)
}
"""``LadderState.active_layers`` for each (L1, L2, L3) ``is_active`` triple."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One layer switched on or off by :func:`step`.

    Attributes:
        layer: the layer.
        is_active: True for an activation, False for a deactivation.
        reasons: the readings that caused it (SPEC §3 readings, plus for exits a reading
            describing the exit test, e.g. id ``"l1_exit_streak"``).
        exit_rule: the deactivation rule of the layer, with the configured numbers.
        message: one human line naming the reasons.
    """

    layer: Layer
    is_active: bool
    reasons: tuple[SignalReading, ...]
    exit_rule: str
    message: str


def exit_rule(layer: Layer, params: LadderParams, signals: SignalParams | None = None) -> str:
    """The deactivation rule of ``layer`` as one line with the configured numbers (SPEC §4).

    Args:
        layer: the layer.
        params: ladder parameters (thresholds, minimum hold).
        signals: signal parameters, for periods named in the text (SPEC defaults if None).

    Returns:
        E.g. ``"L1 closes after 3 consecutive closes with the IWM/SPX MACD(12,26) line
        >= 0; minimum hold 2 trading days"``.
    """
    sp = signals or SignalParams()
    hold = f"minimum hold {params.min_hold_days} trading days"
    if layer is Layer.L1:
        return (
            f"L1 closes after {params.l1_exit_closes} consecutive closes with the IWM/SPX "
            f"MACD({sp.macd_fast},{sp.macd_slow}) line >= 0; {hold}"
        )
    if layer is Layer.L2:
        return (
            f"L2 closes when VIX RSI({sp.rsi_period}) < {params.l2_exit_vix_rsi_below:g} and "
            f"the VIX MACD line is below its {sp.macd_signal}-EMA signal line, or when L1 "
            f"closes; {hold}"
        )
    return (
        f"L3 closes when RVX-VIX falls below its {sp.iv_spread_mean_days}-day mean + "
        f"{params.l3_exit_spread_frac * 100:g}% of |mean|, or after "
        f"{params.l3_max_missing_closes} closes without RVX; {hold}"
    )


def _held_long_enough(st: LayerState, index: int, min_hold: int) -> bool:
    """True when an active layer may switch off at session ``index`` (minimum hold served)."""
    return st.activated_index is None or index - st.activated_index >= min_hold


def _rested_long_enough(st: LayerState, index: int, min_hold: int) -> bool:
    """True when an inactive layer may switch on at ``index`` (re-activation blackout over)."""
    return st.deactivated_index is None or index - st.deactivated_index >= min_hold


def _fmt(value: float | None) -> str:
    """Compact number for human lines; ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.4g}"


def _names(reasons: tuple[SignalReading, ...]) -> str:
    """Comma-separated reading ids with values, for human lines."""
    return ", ".join(f"{r.id}={_fmt(r.value)}" for r in reasons)


def _off(st: LayerState, index: int) -> LayerState:
    """``st`` switched off at session ``index``."""
    return LayerState(is_active=False, activated_index=st.activated_index, deactivated_index=index)


def _on(st: LayerState, index: int) -> LayerState:
    """``st`` switched on at session ``index``."""
    return LayerState(is_active=True, activated_index=index, deactivated_index=st.deactivated_index)


@dataclass(slots=True)
class _Work:
    """Mutable scratch of one :func:`step` call (never escapes it)."""

    l1: LayerState
    l2: LayerState
    l3: LayerState
    streak: int
    l3_missing: int
    index: int
    params: LadderParams
    signals: SignalParams | None
    out: list[Transition]

    def emit(
        self, layer: Layer, *, is_active: bool, reasons: tuple[SignalReading, ...], message: str
    ) -> None:
        self.out.append(
            Transition(
                layer=layer,
                is_active=is_active,
                reasons=reasons,
                exit_rule=exit_rule(layer, self.params, self.signals),
                message=message,
            )
        )


def _step_l1(w: _Work, inputs: LadderInputs) -> None:
    """L1 activation / exit (and the cumulative L2 exit it forces)."""
    hold = w.params.min_hold_days
    ratio_reading = inputs.get("ratio_macd_negative")
    if not w.l1.is_active:
        if ratio_reading.holds and _rested_long_enough(w.l1, w.index, hold):
            w.l1 = _on(w.l1, w.index)
            w.streak = 0
            w.emit(
                Layer.L1,
                is_active=True,
                reasons=(ratio_reading,),
                message=f"L1 activated: {_names((ratio_reading,))} ({ratio_reading.detail})",
            )
        return
    l2_blocks = w.l2.is_active and not _held_long_enough(w.l2, w.index, hold)
    if (
        w.streak < w.params.l1_exit_closes
        or not _held_long_enough(w.l1, w.index, hold)
        or l2_blocks
    ):
        return
    exit_reading = SignalReading(
        id="l1_exit_streak",
        value=float(w.streak),
        threshold=float(w.params.l1_exit_closes),
        holds=True,
        detail=(
            f"IWM/SPX ratio MACD line >= 0 for {w.streak} consecutive closes "
            f"(>= {w.params.l1_exit_closes}); now {_fmt(inputs.ratio_macd_line)}"
        ),
    )
    reasons = (ratio_reading, exit_reading)
    w.l1 = _off(w.l1, w.index)
    w.streak = 0
    w.emit(
        Layer.L1,
        is_active=False,
        reasons=reasons,
        message=f"L1 deactivated: {exit_reading.detail} ({_names(reasons)})",
    )
    if w.l2.is_active:
        w.l2 = _off(w.l2, w.index)
        w.emit(
            Layer.L2,
            is_active=False,
            reasons=reasons,
            message="L2 deactivated because L1 closed (layers are cumulative): "
            f"{exit_reading.detail} ({_names(reasons)})",
        )


def _step_l2(w: _Work, inputs: LadderInputs) -> None:
    """L2 confirmation / exit (SPEC §4)."""
    hold = w.params.min_hold_days
    if w.l2.is_active:
        rsi = inputs.vix_rsi
        line = inputs.vix_macd_line
        sig = inputs.vix_macd_signal
        if (
            rsi is None
            or line is None
            or sig is None
            or rsi >= w.params.l2_exit_vix_rsi_below
            or line >= sig
            or not _held_long_enough(w.l2, w.index, hold)
        ):
            return
        exit_reading = SignalReading(
            id="l2_exit",
            value=rsi,
            threshold=w.params.l2_exit_vix_rsi_below,
            holds=True,
            detail=(
                f"VIX RSI {rsi:.1f} < {w.params.l2_exit_vix_rsi_below:g} and VIX MACD line "
                f"{line:.3f} < signal {sig:.3f}"
            ),
        )
        w.l2 = _off(w.l2, w.index)
        reasons = (inputs.get("vix_rsi_hot"), inputs.get("vix_macd_bull_cross"), exit_reading)
        w.emit(
            Layer.L2,
            is_active=False,
            reasons=reasons,
            message=f"L2 deactivated: {exit_reading.detail} ({_names(reasons)})",
        )
        return
    if not w.l1.is_active or not _rested_long_enough(w.l2, w.index, hold):
        return
    rsi_hot = inputs.get("vix_rsi_hot")
    ratio_weak = inputs.get("ratio_rsi_weak")
    cross = inputs.get("vix_macd_bull_cross")
    if not ((rsi_hot.holds or ratio_weak.holds) and cross.holds):
        return
    core = (*(r for r in (rsi_hot, ratio_weak) if r.holds), cross)
    extras = tuple(r for r in (inputs.get("event_window"), inputs.get("backwardation")) if r.holds)
    extra_txt = f"; extra confirmation: {_names(extras)}" if extras else ""
    w.l2 = _on(w.l2, w.index)
    w.emit(
        Layer.L2,
        is_active=True,
        reasons=core + extras,
        message=f"L2 activated: RSI and MACD confirm ({_names(core)}){extra_txt}",
    )


def _step_l3(w: _Work, inputs: LadderInputs) -> None:
    """L3 dispersion activation / exit (SPEC §4)."""
    hold = w.params.min_hold_days
    if not w.l3.is_active:
        blow = inputs.get("iv_spread_blowout")
        if blow.holds and _rested_long_enough(w.l3, w.index, hold):
            w.l3 = _on(w.l3, w.index)
            w.emit(
                Layer.L3,
                is_active=True,
                reasons=(blow,),
                message=f"L3 activated: {_names((blow,))} ({blow.detail})",
            )
        return
    spread = inputs.iv_spread_pts
    mean = inputs.iv_spread_mean_pts
    if spread is None or mean is None:
        # The exit cannot be judged without RVX. A hedge must not stay on (and be rolled,
        # at a cost) forever because a feed died: after l3_max_missing_closes closes, close
        # L3 and say why.
        w.l3_missing += 1
        limit = w.params.l3_max_missing_closes
        if w.l3_missing < limit or not _held_long_enough(w.l3, w.index, hold):
            return
        missing = SignalReading(
            id="l3_data_missing",
            value=float(w.l3_missing),
            threshold=float(limit),
            holds=True,
            detail=f"no RVX close for {w.l3_missing} sessions (limit {limit}): the L3 exit "
            "cannot be judged, so L3 closes (fail-safe); check the RVX feed",
        )
        w.l3 = _off(w.l3, w.index)
        w.l3_missing = 0
        w.emit(
            Layer.L3,
            is_active=False,
            reasons=(missing,),
            message=f"L3 deactivated: {missing.detail}",
        )
        return
    w.l3_missing = 0
    frac = w.params.l3_exit_spread_frac
    level = mean + frac * abs(mean)
    if spread >= level or not _held_long_enough(w.l3, w.index, hold):
        return
    exit_reading = SignalReading(
        id="l3_exit",
        value=spread,
        threshold=level,
        holds=True,
        detail=f"RVX-VIX {spread:.2f} < mean {mean:.2f} + {frac * 100:g}% = {level:.2f}",
    )
    w.l3 = _off(w.l3, w.index)
    reasons = (inputs.get("iv_spread_blowout"), exit_reading)
    w.emit(
        Layer.L3,
        is_active=False,
        reasons=reasons,
        message=f"L3 deactivated: {exit_reading.detail} ({_names(reasons)})",
    )


def step(
    state: LadderState,
    inputs: LadderInputs,
    *,
    session_index: int,
    params: LadderParams,
    signals: SignalParams | None = None,
    is_close: bool = True,
) -> tuple[LadderState, tuple[Transition, ...]]:
    """Advance the ladder by one evaluation (SPEC §4); pure, O(1).

    Args:
        state: the state after the previous evaluation.
        inputs: the signal readings and raw indicator values of this evaluation.
        session_index: index of the evaluation's trading session in the session list
            (consecutive sessions differ by 1); minimum holds count these.
        params: ladder parameters.
        signals: signal parameters (only for the exit-rule texts).
        is_close: True at a session close (the L1 exit streak is committed); False for a
            provisional intraday evaluation (streak judged, not stored).

    Returns:
        The new state and the transitions in layer order (L1, L2, L3); an L1 exit that
        forces L2 off comes as two transitions.

    Raises:
        InvariantViolation: a close is stepped for a session index not after the last
            stepped close.
    """
    if is_close and state.last_close_index is not None and session_index <= state.last_close_index:
        msg = f"ladder close at session index {session_index} after {state.last_close_index}"
        raise InvariantViolation(msg)
    streak = 0
    if state.l1.is_active:
        streak = state.l1_exit_streak
        macd = inputs.ratio_macd_line
        if macd is not None:
            streak = streak + 1 if macd >= 0.0 else 0
    w = _Work(
        l1=state.l1,
        l2=state.l2,
        l3=state.l3,
        streak=streak,
        l3_missing=state.l3_missing_streak if state.l3.is_active else 0,
        index=session_index,
        params=params,
        signals=signals,
        out=[],
    )
    _step_l1(w, inputs)
    _step_l2(w, inputs)
    _step_l3(w, inputs)
    last: int | None
    if is_close:
        kept_streak, last = w.streak, session_index
        kept_missing = w.l3_missing if w.l3.is_active else 0
    else:
        kept_streak = state.l1_exit_streak if w.l1.is_active else 0
        last = state.last_close_index
        if w.l1.is_active and not state.l1.is_active:
            kept_streak = 0
        kept_missing = state.l3_missing_streak if w.l3.is_active else 0
    return (
        LadderState(
            l1=w.l1,
            l2=w.l2,
            l3=w.l3,
            l1_exit_streak=kept_streak,
            l3_missing_streak=kept_missing,
            last_close_index=last,
        ),
        tuple(w.out),
    )


def _layer_to_dict(st: LayerState) -> dict[str, Any]:
    return {
        "is_active": st.is_active,
        "activated_index": st.activated_index,
        "deactivated_index": st.deactivated_index,
    }


def _layer_from_dict(d: dict[str, Any]) -> LayerState:
    return LayerState(
        is_active=bool(d["is_active"]),
        activated_index=None if d["activated_index"] is None else int(d["activated_index"]),
        deactivated_index=None if d["deactivated_index"] is None else int(d["deactivated_index"]),
    )


def state_to_dict(state: LadderState) -> dict[str, Any]:
    """JSON-able form of ``state`` (for engine snapshots)."""
    return {
        "l1": _layer_to_dict(state.l1),
        "l2": _layer_to_dict(state.l2),
        "l3": _layer_to_dict(state.l3),
        "l1_exit_streak": state.l1_exit_streak,
        "l3_missing_streak": state.l3_missing_streak,
        "last_close_index": state.last_close_index,
    }


def state_from_dict(d: dict[str, Any]) -> LadderState:
    """Inverse of :func:`state_to_dict`.

    Raises:
        KeyError: a field is missing (a corrupt snapshot).
    """
    last = d["last_close_index"]
    return LadderState(
        l1=_layer_from_dict(d["l1"]),
        l2=_layer_from_dict(d["l2"]),
        l3=_layer_from_dict(d["l3"]),
        l1_exit_streak=int(d["l1_exit_streak"]),
        l3_missing_streak=int(d.get("l3_missing_streak", 0)),
        last_close_index=None if last is None else int(last),
    )
