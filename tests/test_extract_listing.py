"""Listing extraction: the articles of a section page, and nothing else, in page order."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import extract_listing
from monitor.extract.text import VN_TZ

FIXTURES = Path(__file__).parent / "fixtures" / "kinhtedothi"
NOW = datetime(2026, 1, 5, tzinfo=VN_TZ)
PAGES = ["listing-page1", "listing-page2"]


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


def listing(name: str) -> Any:
    page = (FIXTURES / f"{name}.html").read_bytes()
    return extract_listing(page, expected(name)["url"], now=NOW,
                           hosts=("kinhtedothi.vn", "www.kinhtedothi.vn"))


@pytest.mark.parametrize("name", PAGES)
def test_exactly_the_main_list_and_sidebar_articles_in_page_order(name: str) -> None:
    got = [link.url for link in listing(name).links]
    assert got == [link["url"] for link in expected(name)["links"]]


@pytest.mark.parametrize("name", PAGES)
def test_links_are_canonical_and_unique_by_id(name: str) -> None:
    links = listing(name).links
    ids = [link.article_id for link in links]
    assert len(ids) == len(set(ids))
    for link in links:
        assert link.url.startswith("https://kinhtedothi.vn/")
        assert "?" not in link.url and "#" not in link.url


@pytest.mark.parametrize("name", PAGES)
def test_titles_and_times_where_the_page_shows_them(name: str) -> None:
    for link, want in zip(listing(name).links, expected(name)["links"], strict=True):
        assert link.title == want["title"]
        when = want["published_at"]
        assert link.published_at == (datetime.fromisoformat(when) if when else None), link.url


@pytest.mark.parametrize("name", PAGES)
def test_next_page(name: str) -> None:
    assert listing(name).next_page == expected(name)["next_page"]


def test_menu_tag_and_footer_links_are_not_articles() -> None:
    urls = {link.url for name in PAGES for link in listing(name).links}
    assert not any("/tag/" in u or u.endswith(("/gioi-thieu.html", "/lien-he.html",
                                                "/dieu-khoan-su-dung.html")) for u in urls)
