"""A fake TWS/IB Gateway speaking the TWS API wire protocol on loopback (tests only)."""

from tests.fakes.tws.server import FakeOrder, FakeTws, Instrument, Position

__all__ = ["FakeOrder", "FakeTws", "Instrument", "Position"]
