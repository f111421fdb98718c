"""Extraction never raises on page content: a result with warnings, or a clear NotAnArticle."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import NotAnArticle
from monitor.extract import extract_article, extract_listing
from monitor.models import Article

FIXTURE = Path(__file__).parent / "fixtures" / "kinhtedothi" / "article-current.html"
URL = "https://kinhtedothi.vn/bai-viet-thu-nghiem-mot-hai.751234.html"
PAGE = FIXTURE.read_bytes()


def outcome(html: bytes | str) -> Article | None:
    try:
        return extract_article(html, URL)
    except NotAnArticle:
        return None


BOUNDED = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@BOUNDED
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    outcome(data)
    extract_listing(data, URL)


@BOUNDED
@given(st.integers(min_value=0, max_value=len(PAGE)))
def test_a_page_cut_anywhere_never_raises(cut: int) -> None:
    outcome(PAGE[:cut])


@BOUNDED
@given(st.lists(st.sampled_from(["<div>", "</div>", "<p>", "</p>", "<table>", "<td>", "<a href=x>",
                                 "</a>", "<!--", "-->", "<script>", "</script>", "text ", "&amp;",
                                 "<br>", "<h2>", "<figcaption>", "\x00", "\ud7ff", "<>"]),
                max_size=400))
def test_malformed_markup_never_raises(parts: list[str]) -> None:
    html = "".join(parts)
    outcome(html)
    extract_listing(html, URL)


def test_fifty_thousand_nested_tags_give_a_result_quickly() -> None:
    started = time.perf_counter()
    deep = "<div>" * 50_000 + "<p>bài viết</p>" + "</div>" * 50_000
    result = outcome(deep)
    assert result is None or result.warnings
    assert time.perf_counter() - started < 5


def test_a_page_without_an_article_is_refused_clearly() -> None:
    try:
        extract_article(b"<html><body><p>404</p></body></html>", URL)
    except NotAnArticle as exc:
        assert "no article" in str(exc)
    else:
        raise AssertionError("an error page is not an article")
