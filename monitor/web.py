"""The small HTTP endpoint of ``monitor serve``: a route table on the standard library's
``ThreadingHTTPServer``, served from a daemon thread, on 127.0.0.1 unless the operator says
otherwise (``[serve] http_host``/``http_port``).

A route is ``(method, path) -> handler``; a handler takes a ``Request`` value and returns a
``Reply`` value, so features add endpoints without touching the server::

    routes = Routes()
    routes.add("GET", "/healthz", lambda request: Reply(200, b"ok\\n"))
    with WebServer(routes, "127.0.0.1", 8080):
        ...

Unknown paths get 404, a known path with another method 405 (with ``Allow``), a handler that
raises 500 (logged, never a traceback to the client). Bodies are capped (``MAX_BODY``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.errors import UsageError
from monitor.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def text(status: int, message: str) -> Reply:
    return Reply(status, (message.rstrip("\n") + "\n").encode("utf-8"))


RouteHandler = Callable[[Request], Reply]


class Routes:
    """The route table: exact paths, one handler per method."""

    def __init__(self) -> None:
        self._table: dict[str, dict[str, RouteHandler]] = {}

    def add(self, method: str, path: str, handler: RouteHandler) -> None:
        methods = self._table.setdefault(path, {})
        if method.upper() in methods:
            raise ValueError(f"route {method.upper()} {path} is already taken")
        methods[method.upper()] = handler

    def dispatch(self, request: Request) -> Reply:
        methods = self._table.get(request.path)
        if methods is None:
            return text(404, "not found")
        handler = methods.get(request.method)
        if handler is None and request.method == "HEAD":
            handler = methods.get("GET")
        if handler is None:
            allow = ", ".join(sorted(methods))
            reply = text(405, f"method not allowed; allowed: {allow}")
            return Reply(reply.status, reply.body, reply.content_type, (("Allow", allow),))
        try:
            return handler(request)
        except Exception:  # a bad handler answers 500; the service goes on
            log.exception("%s %s failed", request.method, request.path)
            return text(500, "internal error")


def _handler_class(routes: Routes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kinhtedothi-monitor"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(self.command, text(413, "request body too large"))
                return
            body = self.rfile.read(length) if length > 0 else b""
            request = Request(self.command, parts.path or "/",
                              parse_qs(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, body)
            self._send(self.command, routes.dispatch(request))

        def _send(self, method: str, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # Per-request lines are for -vv; the access log of a health probe is noise.
            log.debug("http %s %s", self.address_string(), format % args)

    return Handler


def service_routes(metrics: Metrics) -> Routes:
    """The endpoints of ``monitor serve``; features add theirs to the table returned here."""
    routes = Routes()

    def healthz(request: Request) -> Reply:
        health = metrics.health()
        return text(200 if health.healthy else 503, health.reason)

    def prometheus(request: Request) -> Reply:
        return Reply(200, metrics.exposition(), CONTENT_TYPE)

    routes.add("GET", "/healthz", healthz)
    routes.add("GET", "/metrics", prometheus)
    return routes


class WebServer:
    """The route table served on ``host:port`` from a daemon thread; ``port=0`` picks one."""

    def __init__(self, routes: Routes, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self._server = ThreadingHTTPServer((host, port), _handler_class(routes))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                             hint="choose a free [serve] http_port, or 0 to turn the HTTP "
                             "endpoint off") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitor-http",
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> WebServer:
        self._thread.start()
        log.info("http endpoint on http://%s:%d/", *self.address)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


__all__ = ["MAX_BODY", "Reply", "Request", "RouteHandler", "Routes", "WebServer",
           "service_routes", "text"]
