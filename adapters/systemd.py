"""sd_notify over ``$NOTIFY_SOCKET`` (``Type=notify`` units), without a dependency.

Messages: ``READY=1`` after start-up, ``WATCHDOG=1`` from the heartbeat,
``STOPPING=1`` at shutdown, ``STATUS=<one line>``. Without ``$NOTIFY_SOCKET`` (not under
systemd) every call is a no-op. An address starting with ``@`` is in the Linux abstract
namespace (leading NUL byte).
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send ``state`` (``"READY=1"``, newline-separated assignments) to systemd.

    Returns:
        True if sent; False without ``$NOTIFY_SOCKET`` or when the socket refused it
        (systemd then acts on its own timeouts; a failed ping must not crash the daemon).
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True
