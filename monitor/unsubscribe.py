"""One-click unsubscribe (RFC 8058): the signed per-subscriber URL and the /unsubscribe route.

When ``[serve] http_port`` and ``[serve] base_url`` are set, each digest names
``<base_url>/unsubscribe?u=<address>&s=<signature>`` in ``List-Unsubscribe`` (with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) and in its footer. The signature is an
HMAC-SHA256 of the address under the secret from ``[serve] unsubscribe_secret_env``, so nobody
can unsubscribe an address they were not sent, and a changed address or signature is refused.

- ``POST`` (the mail client's one click, or the button of the page) records the unsubscription
  in the state; the ledger sends that address nothing more until ``monitor resubscribe``.
- ``GET`` (a reader's click, but also link scanners and prefetchers) only shows a page with a
  button that POSTs: it never changes anything.

``add_routes`` puts both on the route table of the service's HTTP endpoint (``monitor.web``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from monitor.config import Config
from monitor.errors import StoreError
from monitor.store import db
from monitor.store import unsubscribes as store
from monitor.web import Reply, Request, Routes

log = logging.getLogger(__name__)

PATH = "/unsubscribe"
_DOMAIN = b"kinhtedothi-monitor unsubscribe v1\0"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signature(secret: bytes, email: str) -> str:
    mac = hmac.new(secret, _DOMAIN + email.lower().encode("utf-8"), hashlib.sha256)
    return _b64(mac.digest()[:18])  # 144 bits: short enough for a header, too long to guess


def url_for(config: Config, email: str) -> str | None:
    """The subscriber's signed one-click URL, or None when the service has no public URL."""
    secret = config.unsubscribe_secret()
    if not config.one_click or secret is None:
        return None
    query = urlencode({"u": _b64(email.lower().encode("utf-8")), "s": signature(secret, email)})
    return f"{config.serve.base_url.rstrip('/')}{PATH}?{query}"


def verify(secret: bytes, query: dict[str, list[str]]) -> str | None:
    """The address a request's query was signed for, or None if forged, tampered or malformed."""
    users, sigs = query.get("u", []), query.get("s", [])
    if len(users) != 1 or len(sigs) != 1:
        return None
    try:
        email = _unb64(users[0]).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if "@" not in email or not hmac.compare_digest(signature(secret, email), sigs[0]):
        return None
    return email.lower()


# --- the route ----------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; max-width: 32em; margin: 3em auto;
  padding: 0 1em; line-height: 1.5; color: #1f2328; background: #ffffff; }}
button {{ font-size: 1em; padding: .6em 1.2em; color: #ffffff; background: #9b1c1c;
  border: 0; border-radius: 4px; cursor: pointer; }}
@media (prefers-color-scheme: dark) {{ body {{ color: #e6e8eb; background: #1b1f24; }} }}
</style></head>
<body><h1>{title}</h1>{content}</body></html>
"""


def _page(status: int, title: str, content: str) -> Reply:
    body = _PAGE.format(title=html.escape(title), content=content).encode("utf-8")
    return Reply(status, body, "text/html; charset=utf-8", (
        ("X-Robots-Tag", "noindex"),
        ("Referrer-Policy", "no-referrer"),
        # The page holds nothing but the form: no scripts, no other origin.
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                    "form-action 'self'; frame-ancestors 'none'"),
    ))


def _refused() -> Reply:
    return _page(403, "Liên kết không hợp lệ",
                 "<p>Liên kết hủy đăng ký này không đúng hoặc đã bị sửa. Hãy dùng đúng liên kết "
                 "trong bản tin, hoặc trả lời thư để đề nghị hủy đăng ký.</p>")


def handle(request: Request, *, config: Config,
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Reply:
    """Answer one request to ``PATH``: GET (and HEAD) show the page, POST unsubscribes."""
    secret = config.unsubscribe_secret()
    if secret is None:
        return _page(404, "Không có trang này",
                     "<p>Dịch vụ này không nhận hủy đăng ký qua web.</p>")
    email = verify(secret, request.query)
    if email is None:
        log.warning("unsubscribe: refused a forged or altered link (%s)", request.method)
        return _refused()
    who = html.escape(email)
    if request.method != "POST":
        action = html.escape(PATH + "?" + urlencode(
            {"u": request.query["u"][0], "s": request.query["s"][0]}))
        return _page(200, "Hủy đăng ký bản tin",
                     f"<p>Ngừng gửi bản tin đến <strong>{who}</strong>?</p>"
                     f'<form method="post" action="{action}">'
                     '<button type="submit">Hủy đăng ký</button></form>')
    # RFC 8058: the mail client posts "List-Unsubscribe=One-Click"; the page's button nothing.
    via: store.Via = "one-click" if b"List-Unsubscribe=One-Click" in request.body else "page"
    try:
        conn = db.connect(db.db_path(config.state_dir))
        try:
            first = store.record(conn, email, now=now(), via=via)
        finally:
            conn.close()
    except StoreError as exc:
        log.error("unsubscribe of %s not recorded: %s", email, exc)
        return _page(503, "Chưa hủy được", "<p>Hệ thống đang bận; xin thử lại sau ít phút.</p>")
    if first:
        log.info("unsubscribed %s (%s)", email, via)
    return _page(200, "Đã hủy đăng ký",
                 f"<p>Địa chỉ <strong>{who}</strong> sẽ không nhận bản tin nữa.</p>")


def add_routes(routes: Routes, config: Config) -> None:
    """GET and POST ``PATH`` on the service's route table, when one-click is configured."""
    if config.unsubscribe_secret() is None:
        return
    routes.add("GET", PATH, lambda request: handle(request, config=config))
    routes.add("POST", PATH, lambda request: handle(request, config=config))
