"""Real network peers on 127.0.0.1 for tests: a Slack Web API, an SMTP server (aiosmtpd) and a webhook receiver.

They speak the real protocols, so the code under test goes through slack_sdk, smtplib and requests unchanged
(no monkeypatched transport). Each records what it received and can be told to fail the next requests.
Answers are built from the wire formats in ``tests/fixtures`` (see its README).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> Any:
    """A wire-format example from ``tests/fixtures``, parsed."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Fault:
    """One scripted answer: an HTTP status (429 with Retry-After, 500 ...), or ``error`` for Slack's HTTP 200
    ``{"ok": false, "error": ...}``, or ``delay`` seconds before answering normally."""

    status: int = 200
    error: str = ""
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class _HTTPPeer:
    """A threaded HTTP server that records requests and answers from a per-path fault script."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: dict[str, list[Fault]] = {}
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                peer._handle(self, body)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> _HTTPPeer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, path: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    def _next_fault(self, path: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(path)
            return queue.pop(0) if queue else None

    def _send(self, handler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler, body: bytes) -> None:
        raise NotImplementedError

    def received(self, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


class SlackPeer(_HTTPPeer):
    """Plays the Slack Web API (``/api/<method>``): chat.postMessage, chat.update, conversations.create, .invite,
    .archive, users.lookupByEmail, auth.test. Only requests that were answered ``ok: true`` count as delivered.
    Archived channels (``archived``) refuse posts and edits with ``is_archived`` and a second archive with
    ``already_archived``, as Slack does."""

    def __init__(self) -> None:
        super().__init__()
        self.ts = itertools.count(1)
        self.channels: dict[str, dict[str, Any]] = {}  # name -> channel
        self.users_by_email: dict[str, str] = {}
        self.archived: set[str] = set()  # channel ids: posts and edits there answer is_archived
        # Called as on_request(method, params) in the server thread before answering: a test's way to change
        # the world while a request is on its way.
        self.on_request = None
        self.token = "xoxb-test-token"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def delivered(self, method: str) -> list[dict[str, Any]]:
        return [r.params for r in self.received(method) if r.params.get("_ok")]

    def _params(self, handler, body: bytes) -> dict[str, Any]:
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                return json.loads(body or b"{}")
            except ValueError:
                return {}
        return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}

    def _handle(self, handler, body: bytes) -> None:
        method = urllib.parse.urlparse(handler.path).path.removeprefix("/api/")
        params = self._params(handler, body)
        record = Recorded("POST", method, dict(handler.headers), body, params)
        with self.lock:
            self.requests.append(record)
        if self.on_request is not None:
            self.on_request(method, params)
        fault = self._next_fault(method)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status != 200:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            error = "ratelimited" if fault.status == 429 else "internal_error"
            return self._send(handler, fault.status, {"ok": False, "error": error}, headers)
        if fault and fault.error:
            return self._send(handler, 200, {"ok": False, "error": fault.error})
        auth = handler.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return self._send(handler, 200, {"ok": False, "error": "invalid_auth"})
        answer = self._answer(method, params)
        if answer.get("ok"):
            params["_ok"] = True
        return self._send(handler, 200, answer)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self.ts):06d}"
        if method in ("chat.postMessage", "chat.update"):
            channel = params.get("channel", "")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            if channel.lstrip("#").startswith("missing"):  # every other channel exists
                return {"ok": False, "error": "channel_not_found"}
            if channel in self.archived:
                return {"ok": False, "error": "is_archived"}
            answer = copy.deepcopy(fixture("slack_chat_postMessage_response.json"))
            answer["channel"] = channel
            answer["ts"] = params.get("ts") or ts
            answer["message"]["text"] = params.get("text", "")
            answer["message"]["ts"] = answer["ts"]
            return answer
        if method == "conversations.create":
            name = params.get("name", "")
            if name in self.channels:
                return {"ok": False, "error": "name_taken"}
            answer = copy.deepcopy(fixture("slack_conversations_create_response.json"))
            answer["channel"]["id"] = f"C{len(self.channels) + 1:08d}"
            answer["channel"]["name"] = answer["channel"]["name_normalized"] = name
            answer["channel"]["is_private"] = str(params.get("is_private", "")).lower() in ("1", "true")
            with self.lock:
                self.channels[name] = answer["channel"]
            return answer
        if method == "conversations.archive":
            channel = params.get("channel", "")
            with self.lock:
                if channel in self.archived:
                    return {"ok": False, "error": "already_archived"}
                self.archived.add(channel)
            return {"ok": True, "channel": {"id": channel}}
        if method in (
            "conversations.invite",
            "conversations.setTopic",
            "conversations.join",
        ):
            return {"ok": True, "channel": {"id": params.get("channel", "")}}
        if method == "users.lookupByEmail":
            email = params.get("email", "")
            user_id = self.users_by_email.get(email)
            if not user_id:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user_id, "profile": {"email": email}}}
        if method == "auth.test":
            return {"ok": True, "team": "Muster", "user": "muster", "team_id": "T1", "user_id": "U0MUSTER"}
        return {"ok": False, "error": "unknown_method"}


class WebhookPeer(_HTTPPeer):
    """Receives outgoing webhooks (any path) and answers 200 unless told otherwise (a fault script, or
    ``redirect_to``: every request is answered ``redirect_status`` to that URL)."""

    redirect_to: str | None = None
    redirect_status: int = 307

    def delivered(self) -> list[Recorded]:
        return [r for r in self.received() if r.params.get("_ok")]

    def _handle(self, handler, body: bytes) -> None:
        path = urllib.parse.urlparse(handler.path).path
        record = Recorded("POST", path, dict(handler.headers), body, {})
        with self.lock:
            self.requests.append(record)
        if self.redirect_to:
            return self._send(handler, self.redirect_status, {"moved": True}, {"Location": self.redirect_to})
        fault = self._next_fault(path) or self._next_fault("*")
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status != 200:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._send(handler, fault.status, {"error": "scripted"}, headers)
        record.params["_ok"] = True
        return self._send(handler, 200, {"ok": True})


class SMTPPeer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1. ``refuse_next(n, code)`` answers the next n mails with an
    error at DATA (451 is temporary, 550 permanent); ``stop()`` / ``start()`` make it unreachable and back."""

    def __init__(self, port: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals: list[str] = []
        self.lock = threading.Lock()
        self.port = port or _free_port()
        self.controller = None

    def start(self) -> SMTPPeer:
        from aiosmtpd.controller import Controller

        peer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with peer.lock:
                    if peer.refusals:
                        return peer.refusals.pop(0)
                    mail = message_from_bytes(envelope.content)
                    mail["X-Peer-Rcpt"] = ",".join(envelope.rcpt_tos)
                    peer.messages.append(mail)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        with self.lock:
            self.refusals.extend([reply] * count)

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)

    @property
    def email_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
