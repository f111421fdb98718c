"""``monitor demo``: the whole pipeline, offline, against a bundled sample site.

A small site in the current kinhtedothi markup (two listing pages, article pages with their
boilerplate) is served on 127.0.0.1; a throw-away state directory gets a collect and a delivery to
the file outbox; then one article is edited and one published on the server, and a second round
shows "changed" and "new" being told apart and only the new item being mailed. Nothing reaches the
internet and nothing outside the temporary folder is written.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from monitor import config as config_module
from monitor.config import Config
from monitor.errors import ConfigError
from monitor.extract.text import VN_TZ

PER_PAGE = 3
_PAGE = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
{head}</head><body><header class="site-header"><div class="slogan">Việt Nam vươn mình trong
kỷ nguyên mới</div><a class="logo" href="/">Logo</a><nav class="menu"><a href="/">Trang chủ</a>
<a href="/xay-dung-dang">Xây dựng Đảng</a><a href="/chinh-tri">Chính trị</a></nav></header>
<main>{main}</main><aside class="most-read"><h3>Đọc nhiều</h3>{sidebar}</aside>
<footer><a href="/dieu-khoan-su-dung.html">Điều khoản sử dụng</a> Báo Kinh tế &amp; Đô thị
</footer></body></html>"""


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("monitor.sample").joinpath("articles.json").read_text(encoding="utf-8")
    )
    return data


def _path(item: dict[str, Any]) -> str:
    return f"/{item['slug']}.{item['id']}.html"


def _time(item: dict[str, Any]) -> str:
    """Publication times relative to now, so that edits fall inside the re-check window."""
    when = datetime.now(VN_TZ) - timedelta(hours=item["hours_ago"])
    return when.strftime("%d/%m/%Y %H:%M")


class SampleSite:
    """The pages of the sample site, rebuilt whenever an article is edited or published."""

    def __init__(self) -> None:
        data = _load()
        self.articles: list[dict[str, Any]] = list(data["first"])
        self._edit: dict[str, Any] = data["edit"]
        self._second: list[dict[str, Any]] = data["second"]
        self.pages: dict[str, bytes] = {}
        self.rebuild()

    def advance(self) -> None:
        """An article edited and one published, as between two runs on the real site."""
        for item in self.articles:
            if item["id"] == self._edit["id"]:
                item["body"] = self._edit["body"]
        self.articles = [*self._second, *self.articles]
        self.rebuild()

    def _sidebar(self) -> str:
        return "<ol>" + "".join(
            f'<li><a href="{_path(a)}">{escape(a["title"])}</a></li>' for a in self.articles[:2]
        ) + "</ol>"

    def _article(self, item: dict[str, Any]) -> bytes:
        body = "".join(f"<p>{escape(p)}</p>" for p in item["body"])
        main = (
            f'<article><h1 class="article-title">{escape(item["title"])}</h1>'
            f'<div class="article-published-on">{_time(item)}</div>'
            f'<div id="article-brief">{escape(item["sapo"])}</div>'
            f'<div id="article-detail">{body}</div>'
            '<div class="box-comment"><h3>Bình luận (0)</h3></div></article>'
        )
        head = f'<link rel="canonical" href="{_path(item)}">'
        return _PAGE.format(title=escape(item["title"]), head=head, main=main,
                            sidebar=self._sidebar()).encode("utf-8")

    def _listing(self, page: int, pages: int) -> bytes:
        chunk = self.articles[(page - 1) * PER_PAGE : page * PER_PAGE]
        items = "".join(
            f'<article class="story"><h3><a href="{_path(a)}">{escape(a["title"])}</a></h3>'
            f'<span class="story__time">{_time(a)}</span><p>{escape(a["sapo"])}</p></article>'
            for a in chunk
        )
        more = f'<a rel="next" href="/xay-dung-dang?page={page + 1}">Sau »</a>' if page < pages \
            else ""
        return _PAGE.format(title="Xây dựng Đảng", head="", main=items + more,
                            sidebar=self._sidebar()).encode("utf-8")

    def rebuild(self) -> None:
        pages = -(-len(self.articles) // PER_PAGE)
        self.pages = {_path(a): self._article(a) for a in self.articles}
        self.pages["/xay-dung-dang"] = self._listing(1, pages)
        for page in range(2, pages + 1):
            self.pages[f"/xay-dung-dang?page={page}"] = self._listing(page, pages)
        self.pages["/robots.txt"] = b"User-agent: *\nDisallow: /admin/\n"


@contextmanager
def serve(site: SampleSite) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            kind = "text/plain" if self.path.endswith(".txt") else "text/html; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:  # the demo prints its own
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_CONFIG = """
[site]
base_url = "{base}"
allowed_hosts = ["127.0.0.1"]
[fetch]
min_delay_seconds = 0.05
jitter_seconds = 0.0
retries = 1
[state]
dir = "state"
[[sources]]
name = "xay-dung-dang"
kind = "listing"
url = "{base}/xay-dung-dang"
[[schedules]]
name = "asap"
times = []
[mail]
sender = "Kinhtedothi monitor (demo) <monitor@example.org>"
unsubscribe = "mailto:monitor@example.org?subject=unsubscribe"
outbox_dir = "outbox"
[[subscribers]]
email = "ban-doc@example.org"
name = "Bạn đọc"
schedule = "asap"
since = "2025-01-01T00:00:00+07:00"
"""


def demo_config(base: str, root: Path, topics_from: Config | None) -> Config:
    """The demo's config: the project's topics when it has a config, else the bundled topic."""
    text = _CONFIG.format(base=base)
    loaded = config_module.loads(text, root=root, name="demo config")
    if topics_from is not None and topics_from.topics:
        return replace(loaded, topics=topics_from.topics)
    fallback = config_module.loads(
        resources.files("monitor.sample").joinpath("topics.toml").read_text(encoding="utf-8")
    )
    return replace(loaded, topics=fallback.topics)


def _project_config(config: Callable[[], Config] | None) -> Config | None:
    if config is None:
        return None
    try:
        return config()
    except ConfigError:
        return None


def demo_command(*, out: TextIO, config: Callable[[], Config] | None = None,
                 workdir: Path | None = None) -> int:
    from monitor.collect import run_collect
    from monitor.commands.collect import render_summary
    from monitor.commands.deliver import render_report
    from monitor.deliver import run_deliver

    root = workdir or Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    site = SampleSite()
    code = 0
    with serve(site) as base:
        settings = demo_config(base, root, _project_config(config))
        out.write(f"monitor demo: sample site at {base}, state and outbox in {root}\n\n")
        # The second round runs as if 4 hours later: an article is re-checked for edits at set
        # ages (the edited one is 20 h old, so its 24 h re-check is due), not at every collect.
        for round_no, title in ((1, "first run"),
                                (2, "second run, as 4 hours later: one article edited, one new")):
            now = datetime.now(UTC) + timedelta(hours=4 if round_no == 2 else 0)
            if round_no == 2:
                site.advance()
            out.write(f"== {title}\n")
            report = run_collect(settings, now=now)
            out.write(render_summary(report))
            delivered = run_deliver(settings, now=now)
            out.write(render_report(delivered))
            code |= report.exit_code | delivered.exit_code
            out.write("\n")
    mails = sorted(settings.outbox_dir.glob("*.eml"))
    out.write(f"{len(mails)} digest(s) written to {settings.outbox_dir}:\n")
    for mail in mails:
        out.write(f"  {mail}\n")
    return 1 if code else 0
