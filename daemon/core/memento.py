"""In-memory save and restore of plain state objects (the skip guard's rollback, issue 9).

The engine rolls an evaluation back when it fails on an extreme state (issue 6 §3). The
save behind that used to build the snapshot's JSON-able dict on every close (~10 % of a
close); these copy the objects' attributes instead, which restores the very same values.

Contract of the objects saved: plain classes (a ``__dict__``, no ``__slots__``) whose
attributes are immutable values (numbers, strings, dates, enums, tuples, frozen
dataclasses), references to objects that the evaluation does not change (parameters) or
that are saved on their own, or flat ``dict``/``list``/``set`` containers of such values
(copied here). ``tests/unit/test_engine_rollback.py`` checks the whole snapshot after a
rollback.

A class may name its container attributes in a ``MEMENTO_CONTAINERS`` tuple (each holds a
flat container or None): :func:`save_all` then copies those without looking at every
attribute (the skip guard saves seven objects on every close; issue 9).
``tests/unit/test_memento.py`` checks each declaration against the instances of a full
replay and of a fresh engine.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Plan", "Saved", "containers_of", "plan", "restore", "save", "save_all", "save_planned"]

Saved = tuple[object, dict[str, Any]]
"""One object and a copy of its attributes."""

Plan = tuple[tuple[object, "tuple[str, ...] | None"], ...]
"""Objects to save, each with its class's ``MEMENTO_CONTAINERS`` (None: not declared)."""

_FLAT = (dict, list, set)


def save(obj: object) -> Saved:
    """A copy of ``obj``'s attributes (flat containers copied, values shared).

    Args:
        obj: a plain object (see the module docstring).

    Raises:
        TypeError: ``obj`` has no ``__dict__`` (a slots class).
    """
    attrs = vars(obj).copy()
    for name, value in attrs.items():
        if isinstance(value, _FLAT):
            attrs[name] = value.copy()
    return obj, attrs


def restore(saved: Saved) -> None:
    """Put the attributes of :func:`save` back (attributes added since are removed).

    Args:
        saved: what :func:`save` returned (used once: its containers become the object's).
    """
    obj, attrs = saved
    live = vars(obj)
    live.clear()
    live.update(attrs)


def save_all(objs: tuple[object, ...]) -> list[Saved]:
    """:func:`save` of each of ``objs``, in order (one call for the engine's seven parts).

    Args:
        objs: plain objects (see the module docstring).

    Raises:
        TypeError: one has no ``__dict__`` (a slots class).
    """
    return save_planned(plan(objs))


def plan(objs: tuple[object, ...]) -> Plan:
    """``objs`` with their classes' declared containers, for :func:`save_planned`.

    A caller that saves the same objects again and again (the engine, on every close)
    builds this once (issue 9).

    Args:
        objs: plain objects (see the module docstring), never replaced while the plan is used.
    """
    return tuple((obj, getattr(obj.__class__, "MEMENTO_CONTAINERS", None)) for obj in objs)


def save_planned(objs: Plan) -> list[Saved]:
    """:func:`save_all` of the objects of a :func:`plan`, in order (the same copies).

    Args:
        objs: what :func:`plan` returned.

    Raises:
        TypeError: one has no ``__dict__`` (a slots class).
    """
    out: list[Saved] = []
    for obj, declared in objs:
        attrs = vars(obj).copy()
        if declared is not None:
            # the class names its container attributes: only those are looked at
            # (tests/unit/test_memento.py holds every declaration to the instances)
            for name in declared:
                value = attrs.get(name)
                if value is not None:
                    attrs[name] = value.copy()
        else:
            for name, value in attrs.items():
                cls = value.__class__
                # the common exact types decide without isinstance; any other (a subclass
                # of a container too) is asked isinstance, as in save()
                if cls in _EXACT_FLAT or (cls not in _EXACT_VALUES and isinstance(value, _FLAT)):
                    attrs[name] = value.copy()
        out.append((obj, attrs))
    return out


def containers_of(obj: object) -> frozenset[str]:
    """The attributes of ``obj`` that hold a flat container now (what :func:`save` copies).

    Args:
        obj: a plain object (see the module docstring).
    """
    return frozenset(name for name, value in vars(obj).items() if isinstance(value, _FLAT))


_EXACT_FLAT = frozenset(_FLAT)
_EXACT_VALUES = frozenset({float, int, bool, str, type(None), tuple})
"""Immutable types that are never containers to copy (their exact classes)."""
