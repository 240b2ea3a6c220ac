"""daemon.logsetup: JSON lines for journald, secrets masked, context merged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from daemon.logsetup import configure_logging


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_with_context_and_no_secrets(out: io.StringIO) -> None:
    configure_logging("info", stream=out, is_tty=False)
    structlog.contextvars.bind_contextvars(decision_id="abc123", layer="L1")
    log = structlog.get_logger("alvhd.test")
    log.debug("hidden_below_level")
    log.info("layer_activated", mqtt_password="hunter2", settings={"api_key": "k", "port": 1})  # noqa: S106
    logging.getLogger("aiomqtt").warning("library %s", "warning")
    [ours, lib] = lines(out)
    assert ours["event"] == "layer_activated"
    assert ours["level"] == "info"
    assert ours["decision_id"] == "abc123"
    assert ours["layer"] == "L1"
    assert ours["mqtt_password"] == "***"  # noqa: S105
    assert ours["settings"] == {"api_key": "***", "port": 1}
    assert "hunter2" not in out.getvalue()
    assert str(ours["timestamp"]).endswith("Z")
    assert (lib["event"], lib["logger"]) == ("library warning", "aiomqtt")


def test_tracebacks_carry_no_local_variables(out: io.StringIO) -> None:
    configure_logging("info", stream=out, is_tty=False)

    def crash(secret_token: str) -> None:  # a local that must not leak
        raise ValueError(len(secret_token))

    try:
        crash("s3cr3t")
    except ValueError:
        structlog.get_logger("alvhd.test").exception("task_crashed", task="x")
    assert "s3cr3t" not in out.getvalue()
    [entry] = lines(out)
    assert entry["event"] == "task_crashed"
    assert "exception" in entry


def test_unknown_level_is_refused(out: io.StringIO) -> None:
    with pytest.raises(ValueError, match="verbose"):
        configure_logging("verbose", stream=out)
