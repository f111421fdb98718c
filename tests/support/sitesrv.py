"""A real HTTP server on 127.0.0.1 serving a programmable copy of the site.

``FixtureSite`` holds the content (listing pages of the party-building section and articles in
the current kinhtedothi markup) and the knobs (faults per path, latency, conditional GET support,
robots.txt); ``SiteServer`` serves it from a thread and logs every request with the bytes sent.

    site = FixtureSite(articles=40, per_page=14)
    with SiteServer(site) as server:
        server.url("/xay-dung-dang")
        site.fault("/some.123456.html", Fault("status", status=500), times=2)
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitor.extract.text import VN_TZ

SECTION = "/xay-dung-dang"
_WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_WORDS = ("sap xep to chuc bo may hoan thien the che chinh quyen dia phuong hai cap tinh gon "
          "dang bo thanh pho ha noi can bo dang vien kiem tra giam sat").split()
_SENTENCES = (
    "Ban Tổ chức Trung ương tổ chức hội nghị tổng kết công tác tổ chức xây dựng Đảng năm 2025.",
    "Thường trực Ban Bí thư nhấn mạnh yêu cầu tinh gọn tổ chức bộ máy tổng thể, triệt để.",
    "Thành ủy Hà Nội đã triển khai mô hình chính quyền địa phương hai cấp từ ngày 1/7.",
    "Công tác cán bộ phải gắn với bảo vệ chính trị nội bộ và quản lý đảng viên chặt chẽ.",
    "Các cấp ủy tiếp tục rà soát, sắp xếp đơn vị hành chính cấp xã theo kế hoạch đề ra.",
)


@dataclass
class Article:
    id: int
    slug: str
    title: str
    sapo: str
    body: list[str]
    published: datetime
    edits: int = 0
    updated: datetime | None = None

    @property
    def path(self) -> str:
        return f"/{self.slug}.{self.id}.html"


@dataclass
class Fault:
    """How to answer one request instead of the page.

    kind: ``status`` (``status``, optional ``retry_after``), ``slow`` (``delay`` s, then the
    page), ``reset`` (half the body, then the connection closes), ``redirect`` (to
    ``location``), ``huge`` (``size`` bytes; ``declare`` sends Content-Length), ``type``
    (the page as ``content_type``), ``block`` (``status`` with a captcha page), ``body``
    (``content`` with ``content_type``, status 200). ``headers`` go with ``block`` and ``body``.
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    location: str = ""
    size: int = 0
    declare: bool = True
    content_type: str = "text/html; charset=utf-8"
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    path: str
    status: int
    sent: int
    conditional: bool
    at: float  # when the request arrived (monotonic clock)


@dataclass
class FixtureSite:
    articles_count: int = 40
    per_page: int = 14
    # Articles are published ``spacing`` apart, the newest ``newest_age`` before now.
    spacing: timedelta = timedelta(hours=3)
    newest_age: timedelta = timedelta(minutes=30)
    robots: str = "User-agent: *\nDisallow: /admin/\n"
    conditional: bool = True
    latency: float = 0.0
    articles: list[Article] = field(default_factory=list)
    # Shown on top of page 1 besides their own place, as a featured story is.
    pinned: list[Article] = field(default_factory=list)
    _hits: list[Hit] = field(default_factory=list)
    _in_flight: int = 0
    _faults: dict[str, list[tuple[Fault, int | None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 704000
    # Set by SiteServer: sitemaps and feeds carry absolute URLs.
    base: str = ""

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        for i in range(self.articles_count):
            self.articles.append(self._make(now - self.newest_age - i * self.spacing))

    def _make(self, published: datetime) -> Article:
        self._next_id += 1
        n = self._next_id
        words = [_WORDS[(n * 7 + k * 3) % len(_WORDS)] for k in range(6)]
        slug = "-".join(words) + f"-{n % 97}"
        title = f"Bài {n}: Hoàn thiện thể chế để bảo đảm mô hình bộ máy mới vận hành hiệu quả"
        sapo = (f"Kinhtedothi - Sáng {published.astimezone(VN_TZ):%d/%m}, Ban Tổ chức Trung ương "
                f"tổ chức hội nghị số {n} về công tác xây dựng Đảng.")
        body = [_SENTENCES[(n + k) % len(_SENTENCES)] + f" (đoạn {k + 1} của bài {n})"
                for k in range(6)]
        return Article(n, slug, title, sapo, body, published)

    # --- knobs --------------------------------------------------------------------------

    def add(self, *, age: timedelta = timedelta(minutes=5), at: datetime | None = None) -> Article:
        """A new article, published ``age`` ago (the newest by default), or ``at`` that time
        (a simulated clock)."""
        with self._lock:
            article = self._make(at or datetime.now(UTC) - age)
            self.articles.append(article)
            self.articles.sort(key=lambda a: a.published, reverse=True)
            return article

    def edit(self, article: Article, sentence: str = "Nội dung được cập nhật lúc 15:00.") -> None:
        with self._lock:
            article.body.append(sentence)
            article.edits += 1
            article.updated = datetime.now(UTC)

    def fault(self, path: str, fault: Fault, *, times: int | None = 1) -> None:
        """Answer ``path`` with ``fault`` for the next ``times`` requests (None: always)."""
        with self._lock:
            self._faults.setdefault(path, []).append((fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if not queue:
                return None
            fault, times = queue[0]
            if times is not None:
                if times <= 1:
                    queue.pop(0)
                else:
                    queue[0] = (fault, times - 1)
            return fault

    def listing_path(self, page: int) -> str:
        return SECTION if page == 1 else f"{SECTION}/trang-{page}"

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.articles) // self.per_page))

    @property
    def hits(self) -> list[Hit]:
        """Every request answered so far. Waits (up to 2 s) for the requests being answered:
        a client can hold its response before the server thread has logged it."""
        deadline = time.monotonic() + 2.0
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            return list(self._hits)

    def requests_to(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def reset_log(self) -> None:
        self.hits  # noqa: B018 - let the requests in flight land first
        with self._lock:
            self._hits.clear()

    # --- pages --------------------------------------------------------------------------

    def render(self, path: str) -> tuple[int, str, bytes] | None:
        """(status, content type, body) of a path, or None for a 404."""
        if path == "/robots.txt":
            return 200, "text/plain", self.robots.encode()
        if path == "/sitemap.xml":
            return 200, "application/xml", self._sitemap().encode()
        if path == "/rss.xml":
            return 200, "application/rss+xml; charset=utf-8", self._rss().encode()
        for page in range(1, self.pages + 1):
            if path == self.listing_path(page):
                return 200, "text/html; charset=utf-8", self._listing(page).encode()
        for article in self.articles:
            if path == article.path:
                return 200, "text/html; charset=utf-8", self._article(article).encode()
        return None

    def _sitemap(self) -> str:
        """Every article; an edit moves its lastmod to the time of the edit."""
        urls = "".join(
            f"<url><loc>{self.base}{a.path}</loc><lastmod>"
            f"{(a.updated or a.published).isoformat(timespec='seconds')}</lastmod></url>"
            for a in self.articles)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9">{urls}</urlset>')

    def _rss(self) -> str:
        items = "".join(
            f"<item><title>{escape(a.title)}</title><link>{self.base}{a.path}</link>"
            f"<pubDate>{format_datetime(a.published)}</pubDate></item>"
            for a in self.articles[:20])
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Xây dựng Đảng</title>{items}</channel></rss>")

    def _chrome(self, title: str, main: str, head: str = "") -> str:
        menu = "".join(f'<li><a href="/{s}">{n}</a></li>' for s, n in (
            ("chinh-tri", "Chính trị"), ("xay-dung-dang", "Xây dựng Đảng"),
            ("kinh-te", "Kinh tế"), ("dieu-khoan-su-dung-trang-thong-tin-dien-tu.html",
                                      "Điều khoản")))
        return (
            f"<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{title}"
            f" - Kinh tế & Đô thị</title>{head}</head><body>"
            "<header class=\"site-header\"><div class=\"slogan\">Việt Nam vươn mình</div>"
            "<a class=\"logo\" href=\"/\">Logo</a><div class=\"account\">Đăng ký mua gói ấn phẩm"
            f" | Đăng nhập</div><nav class=\"main-menu\"><ul>{menu}</ul></nav></header>"
            f"<main>{main}</main>"
            "<footer class=\"site-footer\"><p>Cơ quan chủ quản: UBND thành phố Hà Nội</p>"
            "<a href=\"/dieu-khoan-su-dung-trang-thong-tin-dien-tu.html\">Điều khoản</a>"
            "</footer></body></html>"
        )

    def _listing(self, page: int) -> str:
        start = (page - 1) * self.per_page
        items = []
        for a in (self.pinned if page == 1 else []) + self.articles[start:start + self.per_page]:
            when = a.published.astimezone(VN_TZ).strftime("%d %b, %I:%M %p")
            items.append(
                f'<article class="story"><a class="thumb" href="{a.path}"><img src="/i/{a.id}.jpg"'
                f' alt="{escape(a.title)}"></a><h3 class="story-title"><a href="{a.path}">'
                f'{escape(a.title)}</a></h3><div class="story-time">{when}</div>'
                f'<p class="story-sapo">{escape(a.sapo)}</p></article>')
        nav = ""
        head = ""
        if page < self.pages:
            nxt = self.listing_path(page + 1)
            nav = (f'<div class="pagination"><a class="next" rel="next" href="{nxt}">'
                   "Trang sau</a></div>")
            head = f'<link rel="next" href="{nxt}">'
        main = (f'<h1 class="category-title">Xây dựng Đảng</h1><section class="story-list">'
                f'{"".join(items)}</section>{nav}')
        return self._chrome("Xây dựng Đảng", main, head)

    def _article(self, a: Article) -> str:
        local = a.published.astimezone(VN_TZ)
        when = f"{_WEEKDAYS[local.weekday()]}, {local:%H:%M %d/%m/%Y}"
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in a.body[:3])
        paragraphs += ('<figure class="image"><img src="https://resource.kinhtedothi.vn/r.jpg">'
                       "<figcaption>Quang cảnh hội nghị.</figcaption></figure>")
        paragraphs += "<h2>Tinh gọn tổ chức bộ máy tổng thể, triệt để, đồng bộ</h2>"
        paragraphs += "".join(f"<p>{escape(p)}</p>" for p in a.body[3:])
        others = [o for o in self.articles if o.id != a.id][:2]
        related = "".join(f'<li><a href="{o.path}">{escape(o.title)}</a></li>' for o in others)
        main = (
            f'<article class="article"><h1 class="article-title">{escape(a.title)}</h1>'
            f'<div class="article-published-on">{when}</div>'
            f'<div id="article-brief">{escape(a.sapo)}</div>'
            f'<div id="article-detail">{paragraphs}</div></article>'
            f'<div class="box-related"><h3>Đọc nhiều</h3><ul>{related}</ul></div>'
            '<div class="reaction">CẢM NHẬN CỦA BẠN VỀ BÀI VIẾT NÀY Rất hay Thích</div>'
            '<div class="comments">BÌNH LUẬN (0)</div>')
        return self._chrome(escape(a.title), main)


_BLOCK_PAGE = (b"<html><head><title>Just a moment...</title></head><body>"
               b"<div id=\"challenge-platform\">Please complete the captcha</div></body></html>")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        with site._lock:
            site._in_flight += 1
        try:
            self._get(site)
        finally:
            with site._lock:
                site._in_flight -= 1

    def _get(self, site: FixtureSite) -> None:
        arrived = time.monotonic()
        path = self.path.split("?", 1)[0]
        conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
        if site.latency:
            time.sleep(site.latency)
        try:
            status, sent = self._answer(site, path)
        except OSError:  # the client gave up (timeout tests): nothing to answer
            status, sent = 0, 0
        with site._lock:
            site._hits.append(Hit(path, status, sent, conditional, arrived))

    def _answer(self, site: FixtureSite, path: str) -> tuple[int, int]:
        fault = site._take_fault(path)
        page = site.render(path)
        if fault is None:
            if page is None:
                return self._send(404, "text/html", b"<html><body>404</body></html>")
            status, ctype, body = page
            return self._page(site, status, ctype, body)
        if fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._send(fault.status, "text/html", b"<html><body>error</body></html>",
                              extra)
        if fault.kind == "block":
            return self._send(fault.status, "text/html", _BLOCK_PAGE, fault.headers)
        if fault.kind == "redirect":
            return self._send(fault.status if fault.status in (301, 302, 307, 308) else 302,
                              "text/html", b"", {"Location": fault.location})
        if fault.kind == "body":
            return self._send(200, fault.content_type, fault.content, fault.headers)
        if fault.kind == "huge":
            return self._huge(fault)
        assert page is not None, f"fault {fault.kind} needs an existing page: {path}"
        status, ctype, body = page
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return self._page(site, status, ctype, body)
        if fault.kind == "type":
            return self._send(200, fault.content_type, body)
        if fault.kind == "reset":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return 200, len(body) // 2
        raise AssertionError(f"unknown fault {fault.kind}")

    def _page(self, site: FixtureSite, status: int, ctype: str, body: bytes) -> tuple[int, int]:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        extra: dict[str, str] = {}
        if site.conditional:
            extra["ETag"] = etag
            extra["Last-Modified"] = format_datetime(datetime(2025, 12, 8, tzinfo=UTC),
                                                     usegmt=True)
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, None, b"", extra)
        return self._send(status, ctype, body, extra)

    def _huge(self, fault: Fault) -> tuple[int, int]:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if fault.declare:
            self.send_header("Content-Length", str(fault.size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<p>" + b"x" * 65_530 + b"</p>"
        sent = 0
        try:
            while sent < fault.size:
                piece = chunk[: fault.size - sent]
                if fault.declare:
                    self.wfile.write(piece)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            if not fault.declare:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client stopped reading: what the test wants
        self.close_connection = True
        return 200, sent

    def _send(self, status: int, ctype: str | None, body: bytes,
              extra: dict[str, str] | None = None) -> tuple[int, int]:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and body:
            self.wfile.write(body)
        return status, len(body) if status != 304 else 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: FixtureSite


class SiteServer:
    def __init__(self, site: FixtureSite, port: int = 0) -> None:
        self.site = site
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.site = site
        site.base = self.base
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(site: FixtureSite) -> Iterator[SiteServer]:
    """For pytest fixtures: ``yield from serve(site)``."""
    with SiteServer(site) as server:
        yield server
