"""The SPEC §4 ladder as a state machine: activation, hysteresis, minimum hold.

Inputs are real ``SignalSnapshot`` values (built here, no SignalBook needed), so the
tests pin what an operator would see: which layer is on after which readings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.ladder import (
    LadderState,
    LayerState,
    exit_rule,
    state_from_dict,
    state_to_dict,
    step,
)
from daemon.core.model import Layer, SignalReading
from daemon.core.params import LadderParams, SignalParams
from daemon.core.signals import SIGNAL_IDS, SignalSnapshot
from daemon.errors import InvariantViolation

P = LadderParams()


def snap(
    *,
    macd: float = 0.001,
    vix_rsi: float = 50.0,
    vix_macd: float = 0.0,
    vix_signal: float = 0.0,
    ratio_rsi: float = 50.0,
    spread: float | None = 2.0,
    spread_mean: float | None = 2.0,
    event: bool = False,
    backwardation: bool = False,
) -> SignalSnapshot:
    """A snapshot whose readings follow the raw values with the SPEC default thresholds."""
    holds = {
        "ratio_macd_negative": macd < 0.0,
        "vix_rsi_hot": vix_rsi > 70.0,
        "vix_macd_bull_cross": vix_macd > vix_signal,
        "ratio_rsi_weak": ratio_rsi < 30.0,
        "iv_spread_blowout": spread is not None
        and spread_mean is not None
        and spread > spread_mean + 0.25 * abs(spread_mean),
        "event_window": event,
        "backwardation": backwardation,
    }
    readings = tuple(
        SignalReading(id=i, value=1.0, threshold=0.0, holds=holds.get(i, False), detail=i)
        for i in SIGNAL_IDS
    )
    return SignalSnapshot(
        session_date=date(2020, 3, 2),
        is_provisional=False,
        readings=readings,
        ratio_macd_line=macd,
        ratio_rsi=ratio_rsi,
        vix_rsi=vix_rsi,
        vix_macd_line=vix_macd,
        vix_macd_signal=vix_signal,
        iv_spread_pts=spread,
        iv_spread_mean_pts=spread_mean,
        term_ratio=None,
        spx_pct_per_vix_pt=None,
        beta_iwm_spx_30d=None,
        beta_iwm_spx_90d=None,
    )


NEG = snap(macd=-0.001)
POS = snap(macd=0.001)
L2_ON = snap(macd=-0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5)
L2_OFF_READINGS = snap(macd=-0.001, vix_rsi=40.0, vix_macd=0.1, vix_signal=0.5)


def run(
    seq: list[SignalSnapshot], params: LadderParams = P, start: int = 0
) -> list[tuple[Layer, ...]]:
    """Active layers after each close of ``seq``."""
    state = LadderState()
    out = []
    for i, s in enumerate(seq):
        state, _ = step(state, s, session_index=start + i, params=params)
        out.append(state.active_layers)
    return out


# --------------------------------------------------------------------------- L1


def test_l1_activates_on_negative_ratio_macd_with_reason_and_exit_rule() -> None:
    state, trs = step(LadderState(), NEG, session_index=0, params=P)
    assert state.active_layers == (Layer.L1,)
    (tr,) = trs
    assert tr.layer is Layer.L1
    assert tr.is_active
    assert [r.id for r in tr.reasons] == ["ratio_macd_negative"]
    assert "3 consecutive closes" in tr.exit_rule
    assert "minimum hold 2 trading days" in tr.exit_rule
    assert "ratio_macd_negative" in tr.message


def test_no_layer_without_signal() -> None:
    assert run([POS] * 5) == [()] * 5


@pytest.mark.parametrize(
    ("macds", "expected_l1"),
    [
        # on, then 3 closes >= 0 → off at the third
        ([-1, 1, 1, 1], [True, True, True, False]),
        # a negative close resets the streak
        ([-1, 1, 1, -1, 1, 1, 1], [True, True, True, True, True, True, False]),
        # exactly zero counts as >= 0
        ([-1, 0, 0, 0], [True, True, True, False]),
        # stays on while negative
        ([-1, -1, -1, -1, -1], [True] * 5),
    ],
)
def test_l1_hysteresis_table(macds: list[int], expected_l1: list[bool]) -> None:
    seq = [snap(macd=m * 0.001) for m in macds]
    got = [Layer.L1 in layers for layers in run(seq)]
    assert got == expected_l1


def test_l1_min_hold_keeps_layer_on() -> None:
    params = replace(P, l1_exit_closes=1, min_hold_days=3)
    got = [Layer.L1 in layers for layers in run([NEG, POS, POS, POS, POS], params)]
    # activated at 0, exit wanted from 1, but not before index 3
    assert got == [True, True, True, False, False]


def test_no_reactivation_within_min_hold_of_deactivation() -> None:
    params = replace(P, l1_exit_closes=1, min_hold_days=3)
    # on at 0, off at 3 (hold), negative again at 4 and 5 → blocked until 6
    seq = [NEG, POS, POS, POS, NEG, NEG, NEG]
    got = [Layer.L1 in layers for layers in run(seq, params)]
    assert got == [True, True, True, False, False, False, True]


# --------------------------------------------------------------------------- L2


def test_l2_needs_l1_and_both_confirmations() -> None:
    rsi_only = snap(macd=-0.001, vix_rsi=75.0, vix_macd=0.1, vix_signal=0.5)
    macd_only = snap(macd=-0.001, vix_rsi=60.0, vix_macd=1.0, vix_signal=0.5)
    no_l1 = snap(macd=0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5)
    extras_only = snap(macd=-0.001, event=True, backwardation=True)
    for s in (rsi_only, macd_only, extras_only):
        assert Layer.L2 not in run([s])[0]
    assert run([no_l1]) == [()]
    assert run([L2_ON])[0] == (Layer.L1, Layer.L2)


def test_l2_ratio_rsi_weak_is_an_rsi_confirmation() -> None:
    s = snap(macd=-0.001, ratio_rsi=25.0, vix_macd=1.0, vix_signal=0.5)
    state, trs = step(LadderState(), s, session_index=0, params=P)
    assert Layer.L2 in state.active_layers
    l2 = next(t for t in trs if t.layer is Layer.L2)
    assert [r.id for r in l2.reasons] == ["ratio_rsi_weak", "vix_macd_bull_cross"]


def test_l2_extra_confirmations_are_recorded_in_reasons() -> None:
    s = replace(snap(macd=-0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5, event=True))
    _, trs = step(LadderState(), s, session_index=0, params=P)
    l2 = next(t for t in trs if t.layer is Layer.L2)
    assert [r.id for r in l2.reasons] == ["vix_rsi_hot", "vix_macd_bull_cross", "event_window"]
    assert "extra confirmation" in l2.message
    assert "VIX RSI(14) < 50" in l2.exit_rule


@pytest.mark.parametrize(
    ("second", "l2_after"),
    [
        (snap(macd=-0.001, vix_rsi=40.0, vix_macd=0.1, vix_signal=0.5), False),  # both exit
        (snap(macd=-0.001, vix_rsi=40.0, vix_macd=0.9, vix_signal=0.5), True),  # MACD above
        (snap(macd=-0.001, vix_rsi=55.0, vix_macd=0.1, vix_signal=0.5), True),  # RSI >= 50
    ],
)
def test_l2_exit_needs_rsi_below_50_and_macd_below_signal(
    second: SignalSnapshot, l2_after: bool
) -> None:
    # ON at 0, hold at 1, judged at 2
    got = run([L2_ON, L2_ON, second])
    assert (Layer.L2 in got[-1]) is l2_after
    assert Layer.L1 in got[-1]


def test_l2_goes_off_with_l1() -> None:
    params = replace(P, l1_exit_closes=1)
    state = LadderState()
    state, _ = step(state, L2_ON, session_index=0, params=params)
    state, _ = step(state, L2_ON, session_index=1, params=params)
    pos_hot = snap(macd=0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5)
    state, trs = step(state, pos_hot, session_index=2, params=params)
    assert state.active_layers == ()
    assert [(t.layer, t.is_active) for t in trs] == [(Layer.L1, False), (Layer.L2, False)]
    assert "L1 closed" in trs[1].message


def test_l1_exit_waits_for_l2_min_hold() -> None:
    params = replace(P, l1_exit_closes=1, min_hold_days=2)
    state = LadderState()
    state, _ = step(state, NEG, session_index=0, params=params)
    state, _ = step(state, NEG, session_index=1, params=params)
    state, _ = step(state, L2_ON, session_index=2, params=params)  # L2 on at 2
    pos_hot = snap(macd=0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5)
    state, trs = step(state, pos_hot, session_index=3, params=params)
    assert state.active_layers == (Layer.L1, Layer.L2)  # L2 still inside its hold
    assert trs == ()
    state, trs = step(state, pos_hot, session_index=4, params=params)
    assert state.active_layers == ()


# --------------------------------------------------------------------------- L3


def test_l3_on_blowout_off_below_mean_plus_10pct() -> None:
    blow = snap(spread=4.0, spread_mean=2.0)
    mid = snap(spread=2.1, spread_mean=2.0)  # < 2.2 → exit level
    above = snap(spread=2.3, spread_mean=2.0)
    got = run([blow, above, above, mid])
    assert [Layer.L3 in g for g in got] == [True, True, True, False]


def test_l3_stays_on_while_spread_unknown() -> None:
    got = run([snap(spread=4.0), snap(spread=None), snap(spread=None), snap(spread=None)])
    assert all(Layer.L3 in g for g in got)


def test_l3_exit_rule_names_numbers() -> None:
    text = exit_rule(Layer.L3, P, SignalParams())
    assert "90-day mean + 10% of |mean|" in text


# --------------------------------------------------------------------------- mechanics


def test_provisional_step_does_not_commit_the_exit_streak() -> None:
    state, _ = step(LadderState(), NEG, session_index=0, params=P)
    state, _ = step(state, POS, session_index=1, params=P)
    state, _ = step(state, POS, session_index=2, params=P)
    assert state.l1_exit_streak == 2
    prov, trs = step(state, POS, session_index=3, params=P, is_close=False)
    assert prov.active_layers == ()  # the third >= 0 "close" would end L1 intraday
    assert trs[0].layer is Layer.L1
    again, _ = step(state, NEG, session_index=3, params=P, is_close=False)
    assert again.l1_exit_streak == 2
    assert again.last_close_index == 2


def test_repeated_close_index_is_a_bug() -> None:
    state, _ = step(LadderState(), NEG, session_index=5, params=P)
    with pytest.raises(InvariantViolation):
        step(state, NEG, session_index=5, params=P)


def test_state_round_trip() -> None:
    state = LadderState()
    for i, s in enumerate([NEG, L2_ON, snap(macd=-0.001, spread=9.0), POS]):
        state, _ = step(state, s, session_index=i, params=P)
    assert state_from_dict(state_to_dict(state)) == state


# --------------------------------------------------------------------------- property

_SNAPS = [
    NEG,
    POS,
    L2_ON,
    L2_OFF_READINGS,
    snap(macd=0.001, vix_rsi=75.0, vix_macd=1.0, vix_signal=0.5),
    snap(macd=-0.001, spread=4.0),
    snap(macd=0.001, spread=1.0),
    snap(macd=0.001, spread=None),
]


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(_SNAPS) - 1), min_size=1, max_size=60),
    hold=st.integers(1, 5),
    exit_closes=st.integers(1, 4),
)
def test_property_min_hold_both_ways_and_l2_within_l1(
    picks: list[int], hold: int, exit_closes: int
) -> None:
    params = replace(P, min_hold_days=hold, l1_exit_closes=exit_closes)
    state = LadderState()
    last_on: dict[Layer, int] = {}
    last_off: dict[Layer, int] = {}
    for i, k in enumerate(picks):
        state, trs = step(state, _SNAPS[k], session_index=i, params=params)
        for t in trs:
            if t.is_active:
                if t.layer in last_off:
                    assert i - last_off[t.layer] >= hold, "re-activated inside min hold"
                last_on[t.layer] = i
            else:
                assert i - last_on[t.layer] >= hold, "switched off inside min hold"
                last_off[t.layer] = i
        if state.l2.is_active:
            assert state.l1.is_active


def test_l3_closes_after_rvx_is_missing_for_the_configured_closes() -> None:
    """A dead RVX feed must not keep L3 (and its rolls) on forever: fail-safe close."""
    params = LadderParams(l3_max_missing_closes=3, min_hold_days=2)
    state = LadderState(l3=LayerState(is_active=True, activated_index=0))
    no_rvx = snap(macd=0.001, spread=None, spread_mean=None)
    closed_at = None
    for index in range(1, 10):
        state, transitions = step(state, no_rvx, session_index=index, params=params)
        # the streak survives a snapshot round-trip
        state = state_from_dict(state_to_dict(state))
        if transitions:
            (t,) = transitions
            assert t.layer.value == "L3"
            assert not t.is_active
            assert t.reasons[0].id == "l3_data_missing"
            assert "RVX" in t.message
            closed_at = index
            break
    assert closed_at == 3
    assert not state.l3.is_active
