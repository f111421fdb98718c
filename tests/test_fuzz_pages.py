"""Fuzzing: whatever bytes an article URL answers with, collect's store path never stores an
article without a title and a body (the bytes go through the real fetcher, over an
httpx.MockTransport, and the real store, a SQLite database in memory)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.collect import Job, _process
from monitor.config import loads
from monitor.fetch import Fetcher
from monitor.store import db
from monitor.store import runs as run_store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kinhtedothi"
PAGES = [p.read_bytes() for p in sorted(FIXTURES.glob("*.html"))]
URL = "https://kinhtedothi.vn/bai-viet.704001.html"
CONFIG = loads("[site]\nallowed_hosts = ['kinhtedothi.vn']\n[fetch]\nmin_delay_seconds = 0\n"
               "jitter_seconds = 0\nretries = 0\n")


@st.composite
def page_bytes(draw: st.DrawFn) -> bytes:
    page = draw(st.sampled_from(PAGES))
    how = draw(st.sampled_from(["cut", "flip", "insert", "random", "empty", "strip-tags"]))
    if how == "cut":
        return page[: draw(st.integers(0, len(page)))]
    if how == "flip":
        data = bytearray(page)
        for _ in range(draw(st.integers(1, 50))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "insert":
        at = draw(st.integers(0, len(page)))
        return page[:at] + draw(st.binary(max_size=200)) + page[at:]
    if how == "random":
        return draw(st.binary(max_size=2000))
    if how == "empty":
        return draw(st.sampled_from([b"", b"   \n", b"<html></html>", b"<html><body> </body>"]))
    return page.replace(b"<h1", b"<div").replace(b"<p>", b"<span>")


def store_once(body: bytes, content_type: str) -> list[tuple[str, str]]:
    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, content=body, headers={"content-type": content_type})
        if request.url.path != "/robots.txt" else httpx.Response(404))
    conn = db.connect(":memory:")
    try:
        now = datetime.now(UTC)
        run_id = run_store.start_run(conn, now=now, baseline=False)

        async def go() -> None:
            async with Fetcher(CONFIG.site, CONFIG.fetch, transport=transport) as fetcher:
                await _process(Job("704001", URL, "s", "new"), fetcher, conn, CONFIG, run_id,
                               now)

        asyncio.run(go())
        return [(r[0], r[1]) for r in conn.execute("SELECT title, body FROM articles")]
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_bytes(), st.sampled_from(["text/html; charset=utf-8", "text/html",
                                      "text/html; charset=windows-1258"]))
def test_no_page_bytes_store_an_article_without_title_and_body(body: bytes, ctype: str) -> None:
    for title, text in store_once(body, ctype):
        assert title.strip() and text not in ("", "[]"), (title, text[:80])


def test_the_fuzz_harness_stores_a_whole_page() -> None:
    page = (FIXTURES / "article-current.html").read_bytes()
    assert len(store_once(page, "text/html; charset=utf-8")) == 1
