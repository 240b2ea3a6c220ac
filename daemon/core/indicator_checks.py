"""Checks shared by the streaming indicators (:mod:`daemon.core.indicators`).

Inputs must be finite (a NaN here is a bug: the adapters reject it at the edge), window
lengths positive, outputs finite or ``None``, and a snapshot is only loaded into an
indicator of the same kind and periods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from daemon.errors import InvariantViolation

__all__ = ["check_state", "checked_period", "finite_input", "finite_or_none", "optional_float"]


def finite_input(x: float, what: str) -> float:
    """Return ``x`` as a float; raise ``InvariantViolation`` if it is NaN or infinite."""
    xf = float(x)
    if not math.isfinite(xf):
        raise InvariantViolation(f"{what}: non-finite input {x!r} (NaN must be rejected upstream)")
    return xf


def checked_period(period: int, what: str, minimum: int = 1) -> int:
    """Validate a window length (observations); raise ``ValueError`` when below ``minimum``."""
    if period < minimum:
        raise ValueError(f"{what}: period must be >= {minimum}, got {period}")
    return int(period)


def optional_float(v: Any) -> float | None:
    """Decode an optional float from a state dict (``None`` stays ``None``)."""
    return None if v is None else float(v)


def finite_or_none(v: float) -> float | None:
    """Map a non-finite float to ``None`` (no NaN leaves this module)."""
    return v if math.isfinite(v) else None


def check_state(d: Mapping[str, Any], kind: str, **expected: int) -> None:
    """Refuse a snapshot of another indicator kind or with other periods.

    Raises:
        InvariantViolation: ``d`` was not produced by an indicator of this kind and periods
            (a restore across a parameter change must re-warm instead of mixing states).
    """
    if d.get("kind") != kind:
        raise InvariantViolation(f"state of kind {d.get('kind')!r} loaded into {kind}")
    for key, want in expected.items():
        if d.get(key) != want:
            raise InvariantViolation(f"{kind} state has {key}={d.get(key)!r}, expected {want}")
