"""Local stand-ins for ntfy and Slack incoming webhooks, run as separate processes.

    python -m tests.fakes.receivers ntfy  --port P
    python -m tests.fakes.receivers slack --port P --tls-cert C --tls-key K

**ntfy** implements ntfy's publish API (https://docs.ntfy.sh/publish/): ``POST``/``PUT
/<topic>`` with the message as body and the ``Title``/``Priority``/``Tags``/``Click``
headers (also ``X-``-prefixed), or ``POST /`` with a JSON object ``{"topic", "message",
"title", "priority", "tags", "click"}``; priorities by number (1–5) or name (``min``,
``low``, ``default``, ``high``, ``max``/``urgent``). It answers ``200`` with the message
JSON (``id``, ``time``, ``event: "message"``, ``topic`` …), ``400`` without a topic.

**Slack** implements an incoming webhook (``POST /services/T…/B…/…`` with a JSON body
holding ``text``, ``blocks`` or ``attachments``; answers ``200 ok``, or ``400
no_text``/``invalid_payload`` as Slack does). Apprise only posts to
``https://hooks.slack.com``, so this receiver is also an HTTPS proxy: for ``CONNECT
hooks.slack.com:443`` it terminates TLS itself with a certificate for that name signed by
the test CA; the bridge runs with ``HTTPS_PROXY`` pointing here and ``REQUESTS_CA_BUNDLE``
set to the test CA. The bridge's Slack URL is then the real one a user pastes.

Both record every accepted message (``GET /_received`` → JSON list, each with
``arrived_at``) and can be told to fail: ``POST /_control`` with ``{"fail_for_s": 120,
"status": 503}`` answers that status to every publish for that long (``--fail-for-s`` does
the same from start-up). Failed attempts are counted (``GET /_received`` →
``{"messages": [...], "refused": n}``).
"""

from __future__ import annotations

import argparse
import json
import secrets
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


class _State:
    def __init__(self, fail_for_s: float, status: int) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.refused = 0
        self.fail_until = time.monotonic() + fail_for_s
        self.fail_status = status

    def failing(self) -> int | None:
        with self.lock:
            if time.monotonic() < self.fail_until:
                self.refused += 1
                return self.fail_status
        return None

    def record(self, msg: dict[str, Any]) -> None:
        with self.lock:
            msg["arrived_at"] = time.time()
            self.messages.append(msg)


def _priority(value: str | int | None) -> int:
    if value is None or value == "":
        return 3
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    return int(text) if text.isdigit() else _PRIORITIES.get(text, 3)


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value:
        return [t.strip() for t in value.split(",") if t.strip()]
    return []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _header(self, *names: str) -> str | None:
        for name in names:
            for variant in (name, f"X-{name}"):
                value = self.headers.get(variant)
                if value is not None:
                    return value
        return None

    # --------------------------------------------------------------- control

    def do_GET(self) -> None:
        if self.path.startswith("/_received"):
            st = self.server.state
            with st.lock:
                body = json.dumps({"messages": st.messages, "refused": st.refused}).encode()
            self._reply(200, body)
            return
        self._reply(404, b'{"error":"not found"}')

    def _control(self) -> None:
        data = json.loads(self._body() or b"{}")
        st = self.server.state
        with st.lock:
            st.fail_until = time.monotonic() + float(data.get("fail_for_s", 0))
            st.fail_status = int(data.get("status", 503))
        self._reply(200, b'{"ok":true}')

    def do_POST(self) -> None:
        if self.path.startswith("/_control"):
            self._control()
            return
        if self.server.kind == "ntfy":
            self._ntfy()
        else:
            self._slack()

    do_PUT = do_POST  # noqa: N815 - http.server's method naming

    # --------------------------------------------------------------- ntfy

    def _ntfy(self) -> None:
        raw = self._body()
        status = self.server.state.failing()
        if status is not None:
            self._reply(status, b'{"code":50301,"http":503,"error":"service unavailable"}')
            return
        path_topic = self.path.split("?", 1)[0].strip("/")
        msg: dict[str, Any] = {
            "topic": path_topic,
            "title": self._header("Title", "t") or "",
            "message": raw.decode("utf-8", errors="replace"),
            "priority": _priority(self._header("Priority", "prio", "p")),
            "tags": _tags(self._header("Tags", "tag", "ta")),
            "click": self._header("Click") or "",
            "markdown": (self._header("Markdown") or "").lower() in {"yes", "true", "1"},
        }
        if not path_topic:  # JSON publish: fields in the body win over headers
            try:
                data = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._reply(400, b'{"code":40024,"http":400,"error":"invalid request: JSON"}')
                return
            msg["topic"] = str(data.get("topic") or "")
            msg["message"] = str(data.get("message") or "")
            for key in ("title", "click"):
                if data.get(key):
                    msg[key] = str(data[key])
            if "priority" in data:
                msg["priority"] = _priority(data["priority"])
            if "tags" in data:
                msg["tags"] = _tags(data["tags"])
        if not msg["topic"]:
            self._reply(400, b'{"code":40010,"http":400,"error":"invalid topic"}')
            return
        msg["id"] = secrets.token_hex(6)
        self.server.state.record(msg)
        answer = {"id": msg["id"], "time": int(time.time()), "event": "message"} | {
            k: msg[k] for k in ("topic", "title", "message", "priority", "tags", "click")
        }
        self._reply(200, json.dumps(answer).encode())

    # --------------------------------------------------------------- slack

    def do_CONNECT(self) -> None:
        """HTTPS proxy: terminate TLS for hooks.slack.com, then serve the webhook."""
        host = self.path.split(":", 1)[0]
        ctx = self.server.tls
        if ctx is None or host != "hooks.slack.com":
            self._reply(403, b"only hooks.slack.com", "text/plain")
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.connection = ctx.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]
        self.close_connection = False

    def _slack(self) -> None:
        raw = self._body()
        if not self.path.startswith("/services/"):
            self._reply(404, b"no_service", "text/plain")
            return
        status = self.server.state.failing()
        if status is not None:
            self._reply(status, b"service_unavailable", "text/plain")
            return
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            self._reply(400, b"invalid_payload", "text/plain")
            return
        if not isinstance(data, dict) or not (
            data.get("text") or data.get("blocks") or data.get("attachments")
        ):
            self._reply(400, b"no_text", "text/plain")
            return
        self.server.state.record({"path": self.path, "payload": data})
        self._reply(200, b"ok", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, kind: str, state: _State, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.kind = kind
        self.state = state
        self.tls = tls


def main(argv: list[str] | None = None) -> None:
    """Run one receiver until killed."""
    p = argparse.ArgumentParser(prog="python -m tests.fakes.receivers")
    p.add_argument("kind", choices=["ntfy", "slack"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-cert", help="slack: certificate for hooks.slack.com (PEM)")
    p.add_argument("--tls-key", help="slack: its key (PEM)")
    p.add_argument("--fail-for-s", type=float, default=0.0)
    p.add_argument("--fail-status", type=int, default=503)
    args = p.parse_args(argv)
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    server = _Server(args.port, args.kind, _State(args.fail_for_s, args.fail_status), tls)
    server.serve_forever()


if __name__ == "__main__":
    main()
