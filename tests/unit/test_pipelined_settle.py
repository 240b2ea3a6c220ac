"""Pipelined publishing (issue 9): acknowledgements that arrive while marks are written.

Marking a window's acknowledged head published takes a journal transaction; the sends
acknowledged meanwhile must be marked by the next transaction, not taken for a failed
send (which stops new sends until the whole window has settled and marks them one by
one: a stall the subscriber waits for).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tests.fakes.ports import InMemoryJournal
from tests.unit.test_pipelined_publish import BatchJournal, SlowSink, _harness


class SlowMarksJournal(BatchJournal):
    """A journal whose "published" marks take 5 ms each transaction (a loaded disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.single_marks = 0

    async def mark_published(self, decision_id: str) -> None:
        self.single_marks += 1
        await asyncio.sleep(0.005)
        await InMemoryJournal.mark_published(self, decision_id)

    async def mark_published_many(self, decision_ids: Sequence[str]) -> None:
        self.publish_batches.append(len(decision_ids))
        await asyncio.sleep(0.005)
        for decision_id in decision_ids:
            await InMemoryJournal.mark_published(self, decision_id)


class StaggeredSink(SlowSink):
    """Each send of a burst is acknowledged 1 ms after the previous one."""

    async def _go(self, decision_id: str) -> None:
        self.delay_s = 0.001 * (1 + int(decision_id[2:]))
        await super()._go(decision_id)


async def test_acks_arriving_during_a_mark_are_marked_together_without_a_stall() -> None:
    journal, sink = SlowMarksJournal(), StaggeredSink()
    h, ids = _harness(journal, sink, window=16)
    assert await h.run() == 0
    assert sorted(sink.delivered) == sorted(ids)  # each once
    assert len(sink.delivered) == len(ids)
    assert [e for e in journal.events if e[0] == "publish"] == [("publish", i) for i in ids]
    transactions = journal.single_marks + len(journal.publish_batches)
    assert transactions <= 8, (journal.single_marks, journal.publish_batches)
