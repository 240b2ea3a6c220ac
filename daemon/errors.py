"""Exception hierarchy of alvhd (STYLE.md §2.6).

Errors are grouped by what the operator (or the supervisor) must do about them:

```
DaemonError
├─ ConfigError          exit 78; systemd RestartPreventExitStatus=78
├─ TransientError       the only thing tenacity retries
│  ├─ BrokerUnavailable  socket down, IB codes 1100/2110, 326 (clientId in use)
│  └─ PublishFailed      wraps aiomqtt.MqttError
├─ BrokerRejected       per-request broker error (e.g. IB 200, 354) → alert, no retry
├─ DataError            an input file or feed is unusable as a whole (missing file, no rows)
├─ JournalError         the journal cannot be written (disk full, read-only, I/O error) → exit 74
└─ InvariantViolation   a bug → crash and let systemd restart
```

Bad single data points (a NaN quote, a malformed CSV row) are *values*
(`daemon.core.model.Rejected`), never exceptions.
"""

from __future__ import annotations

EXIT_CONFIG = 78
"""sysexits.h EX_CONFIG: the process exits with this code on a ConfigError."""
EXIT_IOERR = 74
"""sysexits.h EX_IOERR: the journal could not be written (disk full, read-only, I/O error)."""


class DaemonError(Exception):
    """Base class of every error alvhd raises on purpose."""


class ConfigError(DaemonError):
    """Invalid or missing configuration. The process exits with code 78 (EX_CONFIG).

    Args:
        message: one line naming the key, the bad value and the allowed range.
        key: the dotted config key at fault (``"ladder.l1.cover_frac"``), if known.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class TransientError(DaemonError):
    """A failure that may go away by itself; the only error class tenacity retries."""


class BrokerUnavailable(TransientError):
    """The broker connection is down or degraded (socket closed, IB 1100/2110, 326)."""


class PublishFailed(TransientError):
    """Publishing to the MQTT broker failed (wraps ``aiomqtt.MqttError``)."""


class BrokerRejected(DaemonError):
    """The broker refused one request (IB 200/201/202, 354, ...). Alerted, never retried.

    Args:
        message: human-readable reason.
        code: the broker's error code, when it has one.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DataError(DaemonError):
    """An input as a whole is unusable: a missing file, a file with no valid rows."""


class JournalError(DaemonError):
    """The write-ahead journal cannot be written or read (disk full, read-only, I/O error).

    The daemon raises a critical alert naming ``path`` and ``cause`` and exits with
    ``EXIT_IOERR`` (74): continuing would publish decisions that a restart could not
    de-duplicate. SQLite rolls the failed transaction back, so the file stays consistent.

    Args:
        message: one line naming the file and the cause.
        path: the journal file.
        cause: SQLite's reason (``database or disk is full``, ...).
    """

    def __init__(self, message: str, *, path: str, cause: str) -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause


class InvariantViolation(DaemonError):
    """A broken internal invariant: a bug. Crash and let systemd restart the unit."""


class ShutdownRequested(DaemonError):
    """Raised inside the supervisor's TaskGroup when SIGTERM/SIGINT asks for a clean stop."""
