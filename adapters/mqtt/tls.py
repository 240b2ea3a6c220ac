"""TLS context for MQTT clients (the daemon's publisher and the bridge's subscriber)."""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext | None:
    """A client TLS context, or None when ``ca_file`` is None (plain TCP).

    The broker's certificate must chain to ``ca_file`` and name the host connected to
    (``check_hostname``); ``cert_file``/``key_file`` add a client certificate. TLS 1.2+.

    Raises:
        ssl.SSLError, OSError: an unreadable or invalid file (settings validation checks
            that the files exist first).
    """
    if ca_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        ctx.load_cert_chain(str(cert_file), str(key_file) if key_file is not None else None)
    return ctx
