"""Per-layer hedge books from the journal's executions, reconciled against the broker.

The broker knows positions per *contract* (conId); the ladder needs them per *layer*, and
two layers can hold the same contract (L1's 74C and L3's long 74C). So a layer's book is
built from the executions of its own orders — attributed by ``orderRef`` (which names the
layer) and counted once per ``execId`` — never from "the last orderRef that traded this
conId". Combo executions count by leg (the legs move positions; the BAG execution is the
order's price, see :mod:`adapters.ib.executions`).

:func:`reconcile` then compares, contract by contract, the broker's quantity with the sum
of the layers' books: any difference is reported (an alert in the shell), and the layers
keep the journal's books — an unexplained difference never makes the ladder buy again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from adapters.ib.executions import ExecutionRecord
from adapters.ib.positions import (
    VIX_TRADING_CLASSES,
    AccountPositions,
    HeldContract,
    layer_of,
)
from daemon.core.model import HedgePosition, Layer, OptionLeg, Right


@dataclass(slots=True)
class _Leg:
    record: ExecutionRecord
    qty: float = 0.0


@dataclass(slots=True)
class _Book:
    legs: dict[int, _Leg] = field(default_factory=dict)
    premium_usd: float = 0.0
    order_ref: str = ""
    opened_on: object = None


def _position_records(records: Iterable[ExecutionRecord]) -> list[ExecutionRecord]:
    """Executions that move positions (legs and single options), once per execId, by time."""
    seen: dict[str, ExecutionRecord] = {}
    for r in records:
        if r.sec_type != "BAG" and r.exec_id not in seen:
            seen[r.exec_id] = r
    return sorted(seen.values(), key=lambda r: (r.ts, r.exec_id))


def layer_books(records: Iterable[ExecutionRecord]) -> tuple[HedgePosition, ...]:
    """The hedge each layer holds, from its orders' executions (orderRef + execId).

    Per layer and contract the signed quantities are summed; the premium is the signed
    cost of the executions since the layer was last flat (buys +, sells −, USD). Units are
    the gcd of the leg quantities; ``order_ref`` is the last order that added to the layer.

    Args:
        records: executions (any order; duplicates by ``exec_id`` are ignored).

    Returns:
        One ``HedgePosition`` per layer still holding something, in layer order.
    """
    books: dict[Layer, _Book] = {}
    for r in _position_records(records):
        layer = layer_of(r.order_ref)
        if layer is None or r.trading_class not in VIX_TRADING_CLASSES or r.expiry is None:
            continue
        book = books.setdefault(layer, _Book())
        if not any(leg.qty for leg in book.legs.values()):
            book.legs.clear()
            book.premium_usd = 0.0
            book.opened_on = r.ts.date()
        leg = book.legs.setdefault(r.con_id, _Leg(record=r))
        leg.qty += r.signed_qty
        book.premium_usd += r.signed_qty * r.price * r.multiplier
        if r.signed_qty > 0 or ":close:" not in r.order_ref:
            book.order_ref = r.order_ref
    out: list[HedgePosition] = []
    for layer in sorted(books):
        book = books[layer]
        held = [leg for leg in book.legs.values() if round(leg.qty) != 0]
        if not held:
            continue
        units = 0
        for leg in held:
            units = math.gcd(units, abs(round(leg.qty)))
        units = max(units, 1)
        legs = tuple(
            OptionLeg(
                right=Right.CALL if leg.record.right == "C" else Right.PUT,
                strike=leg.record.strike,
                expiry=leg.record.expiry,  # type: ignore[arg-type]  # filtered above
                position_qty=round(leg.qty) // units,
                multiplier=leg.record.multiplier,
                trading_class=leg.record.trading_class,
            )
            for leg in sorted(held, key=lambda x: x.record.strike)
        )
        out.append(
            HedgePosition(
                layer=layer,
                legs=legs,
                contracts=units,
                premium_paid_usd=round(book.premium_usd, 2),
                order_ref=book.order_ref,
                opened_on=book.opened_on,  # type: ignore[arg-type]  # set with the first leg
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractDiff:
    """One contract whose broker quantity differs from the journal's books.

    Attributes:
        con_id: IB contract id.
        description: ``"VIX 2020-03-18 25C"``.
        broker_qty: what the account holds (signed contracts).
        journal_qty: what the layers' books hold (signed contracts).
        by_layer: the journal quantity per layer.
    """

    con_id: int
    description: str
    broker_qty: float
    journal_qty: float
    by_layer: Mapping[Layer, float]

    @property
    def message(self) -> str:
        """One line for the operator."""
        layers = ", ".join(f"{k.value} {v:+g}" for k, v in sorted(self.by_layer.items()))
        return (
            f"{self.description}: broker holds {self.broker_qty:+g}, journal's layer books "
            f"{self.journal_qty:+g}" + (f" ({layers})" if layers else "") + "; not re-bought, "
            "check the account"
        )


def journal_qty_by_contract(
    records: Iterable[ExecutionRecord],
) -> dict[int, tuple[ExecutionRecord, dict[Layer, float]]]:
    """ConId → (a record naming it, signed quantity per layer) from the executions."""
    out: dict[int, tuple[ExecutionRecord, dict[Layer, float]]] = {}
    for r in _position_records(records):
        layer = layer_of(r.order_ref)
        if layer is None or r.trading_class not in VIX_TRADING_CLASSES:
            continue
        _, per = out.setdefault(r.con_id, (r, {}))
        per[layer] = per.get(layer, 0.0) + r.signed_qty
    return out


def reconcile(
    records: Sequence[ExecutionRecord], held: Iterable[HeldContract]
) -> tuple[ContractDiff, ...]:
    """Broker quantity vs the layers' books, per VIX option contract.

    Contracts held at the broker but in no book (opened by hand) are *unmapped*, not a
    difference, unless an alvhd order ever traded them.

    Returns:
        Every contract where the two disagree, by conId.
    """
    journal = journal_qty_by_contract(records)
    broker: dict[int, HeldContract] = {
        h.con_id: h for h in held if h.sec_type == "OPT" and h.trading_class in VIX_TRADING_CLASSES
    }
    diffs: list[ContractDiff] = []
    for con_id in sorted(set(journal) | set(broker)):
        rec_layers = journal.get(con_id)
        h = broker.get(con_id)
        if rec_layers is None:
            continue  # never traded by alvhd: reported as unmapped elsewhere
        rec, per = rec_layers
        j_qty = sum(per.values())
        b_qty = h.position_qty if h is not None else 0.0
        if round(j_qty) == round(b_qty):
            continue
        desc = f"{rec.symbol} {rec.expiry} {rec.strike:g}{rec.right}"
        diffs.append(
            ContractDiff(
                con_id=con_id,
                description=desc,
                broker_qty=b_qty,
                journal_qty=j_qty,
                by_layer={k: v for k, v in per.items() if round(v) != 0},
            )
        )
    return tuple(diffs)


def with_journal_books(
    account: AccountPositions, records: Sequence[ExecutionRecord], held: Iterable[HeldContract]
) -> tuple[AccountPositions, tuple[ContractDiff, ...]]:
    """Replace the orderRef-by-conId hedges with the layers' books from the journal.

    With no journaled execution (a first start, or a lost journal) the account's own
    mapping is kept. VIX option contracts no alvhd order traded stay *unmapped*.

    Returns:
        The positions (hedges from the books) and the reconciliation's differences.
    """
    if not records:
        return account, ()
    traded = {r.con_id for r in records}
    unmapped = tuple(
        h
        for h in held
        if h.sec_type == "OPT"
        and h.trading_class in VIX_TRADING_CLASSES
        and h.position_qty != 0
        and h.con_id not in traded
    )
    return (
        AccountPositions(
            condor=account.condor,
            hedges=layer_books(records),
            unmapped_hedge_legs=unmapped,
            satellite=account.satellite,
        ),
        reconcile(records, held),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BookRow:
    """One VIX option contract: the journal's per-layer books beside the broker's position.

    Attributes:
        description: ``"VIX 2020-03-18 25C"``.
        by_layer: signed contracts per layer from the journal's executions.
        journal_qty: their sum.
        broker_qty: the account's position (0 when none).
        is_ok: the two agree.
    """

    description: str
    by_layer: Mapping[Layer, float]
    journal_qty: float
    broker_qty: float

    @property
    def is_ok(self) -> bool:
        """Broker and journal agree on this contract."""
        return round(self.journal_qty) == round(self.broker_qty)


def side_by_side(
    records: Sequence[ExecutionRecord], held: Iterable[HeldContract]
) -> tuple[BookRow, ...]:
    """Every VIX option contract alvhd traded or the account holds, journal vs broker.

    Args:
        records: the journal's executions.
        held: the broker's positions.

    Returns:
        One row per contract, by description.
    """
    journal = journal_qty_by_contract(records)
    broker = {
        h.con_id: h for h in held if h.sec_type == "OPT" and h.trading_class in VIX_TRADING_CLASSES
    }
    rows: list[BookRow] = []
    for con_id in set(journal) | set(broker):
        if con_id in journal:
            rec, per = journal[con_id]
            desc = f"{rec.symbol} {rec.expiry} {rec.strike:g}{rec.right}"
        else:
            h = broker[con_id]
            right = h.right.value if h.right is not None else ""
            desc, per = f"{h.symbol} {h.expiry} {h.strike:g}{right} (not alvhd's)", {}
        b = broker.get(con_id)
        rows.append(
            BookRow(
                description=desc,
                by_layer={k: v for k, v in per.items() if round(v) != 0},
                journal_qty=sum(per.values()),
                broker_qty=b.position_qty if b is not None else 0.0,
            )
        )
    return tuple(sorted(rows, key=lambda r: r.description))
