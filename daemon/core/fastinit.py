"""A cheaper ``__init__`` for the frozen slotted dataclasses built on every close (issue 9).

A frozen dataclass's generated ``__init__`` assigns each field with
``object.__setattr__(self, name, value)`` (its own ``__setattr__`` raises). That costs
about 0.14 µs per field in CPython 3.11, and a session close builds a dozen such values
(the signal snapshot, the market state, the condor risk, the P&L and the day summary,
8–15 fields each): a tenth of the engine's time per close. :func:`fast_init` replaces
that ``__init__`` with one generated the same way but assigning through the slots'
member descriptors (``Cls.field.__set__``), about 0.05 µs per field.

Nothing else changes: the same signature (positional and keyword-only fields, defaults,
``default_factory``), ``__post_init__`` is still called last, the class stays frozen
(assigning an attribute still raises ``FrozenInstanceError``), and equality, hashing,
``repr``, ``dataclasses.replace``, pickling and copying are the dataclass's own.
``tests/unit/test_fastinit.py`` checks each of these against the plain dataclass.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

_T = TypeVar("_T")


def fast_init(cls: type[_T]) -> type[_T]:
    """Give the frozen slotted dataclass ``cls`` a faster ``__init__`` (module docstring).

    Use it above ``@dataclass(frozen=True, slots=True, ...)``.

    Args:
        cls: a frozen dataclass with ``slots=True`` whose fields are all ``init`` fields.

    Returns:
        ``cls`` itself, its ``__init__`` replaced.

    Raises:
        TypeError: ``cls`` is not a frozen slotted dataclass, or has an ``init=False`` field.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        msg = f"fast_init needs a frozen dataclass with slots=True, got {cls.__qualname__}"
        raise TypeError(msg)
    names: dict[str, Any] = {"_MISSING": dataclasses.MISSING}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # a dataclass: checked above
        if not f.init:
            msg = f"fast_init: {cls.__qualname__}.{f.name} is init=False"
            raise TypeError(msg)
        name = f.name
        names[f"_set_{name}"] = _slot(cls, name).__set__
        value = name
        if f.default is not dataclasses.MISSING:
            names[f"_dflt_{name}"] = f.default
            param = f"{name}=_dflt_{name}"
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{name}"] = f.default_factory
            param = f"{name}=_MISSING"
            value = f"_factory_{name}() if {name} is _MISSING else {name}"
        else:
            param = name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    _set_{name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, names)  # noqa: S102 - generated from the class's own fields, as dataclasses does
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _slot(cls: type, name: str) -> Any:
    """The member descriptor of slot ``name`` (on ``cls`` or the base that declares it)."""
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None:
            return slot
    msg = f"fast_init: {cls.__qualname__} has no slot {name!r}"  # pragma: no cover
    raise TypeError(msg)  # pragma: no cover
