"""structlog configuration (STYLE.md §2.8).

- stdout is not a TTY (systemd/journald, pipes): one JSON object per line.
- stdout is a TTY: structlog's ``ConsoleRenderer`` (colours, aligned keys).
- Context bound with ``structlog.contextvars.bind_contextvars`` (``symbol``, ``layer``,
  ``decision_id``) is merged into every event.
- Standard-library logging (aiomqtt, paho, ib_async) goes through the same renderer,
  at ``WARNING`` and above unless the level asks for more.
- Secrets never reach the output: values under keys that look like credentials are
  replaced by ``"***"``, and pydantic ``SecretStr`` values render masked anyway.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|secret|token|api[_-]?key|credential", re.I)
REDACTED = "***"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS |= {"error": logging.ERROR, "critical": logging.CRITICAL}


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: mask the value of any key that names a credential (one level deep)."""
    for key, value in event_dict.items():
        if _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, MutableMapping):
            for inner in [k for k in value if isinstance(k, str) and _SECRET_KEY.search(k)]:
                value[inner] = REDACTED
    return event_dict


def parse_level(level: str | int) -> int:
    """A stdlib level number from ``"info"``/``"DEBUG"``/``20``.

    Raises:
        ValueError: unknown level name.
    """
    if isinstance(level, int):
        return level
    try:
        return _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {sorted(_LEVELS)}") from None


def configure_logging(
    level: str | int = "info",
    *,
    stream: TextIO | None = None,
    is_tty: bool | None = None,
) -> None:
    """Configure structlog and the stdlib root logger once, at start-up.

    Args:
        level: minimum level of our events (``debug`` … ``critical``).
        stream: where to write (default ``sys.stdout``).
        is_tty: force console (True) or JSON (False) rendering; default: detect.

    Raises:
        ValueError: unknown level name.
    """
    out = sys.stdout if stream is None else stream
    tty = out.isatty() if is_tty is None else is_tty
    min_level = parse_level(level)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Processor
    if tty:
        # Tracebacks without local variables: locals may hold credentials.
        renderer = structlog.dev.ConsoleRenderer(
            colors=True,
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
    else:
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        renderer = structlog.processors.JSONRenderer()

    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(min_level)
    # Chatty third-party loggers stay at WARNING unless we debug.
    for name in ("aiomqtt", "paho", "ib_async", "asyncio"):
        logging.getLogger(name).setLevel(max(min_level, logging.WARNING))
