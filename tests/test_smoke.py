"""Packaging smoke tests: the right ``daemon``/``adapters`` packages are imported."""

from __future__ import annotations

import adapters
import daemon
from tests.conftest import REPO_ROOT


def test_daemon_package_is_this_repo() -> None:
    # PyPI has unrelated packages named `daemon` and `adapters`; never import those.
    assert daemon.__file__ is not None
    assert str(REPO_ROOT) in daemon.__file__
    assert adapters.__file__ is not None
    assert str(REPO_ROOT) in adapters.__file__
