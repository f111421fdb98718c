"""Article extraction on kinhtedothi pages: the article itself, and nothing around it."""

from __future__ import annotations

import json
import time
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import NotAnArticle
from monitor.extract import extract_article
from monitor.extract.text import VN_TZ, clean
from monitor.models import Article

FIXTURES = Path(__file__).parent / "fixtures" / "kinhtedothi"
GOLD: dict[str, Any] = json.loads(
    (FIXTURES / "expected" / "reference-article.json").read_text(encoding="utf-8")
)
FULL_VERSIONS = ["article-current", "article-2022", "article-2021", "article-nfd",
                 "article-related-inline"]


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


def extract(name: str) -> Article:
    return extract_article((FIXTURES / f"{name}.html").read_bytes(), expected(name)["url"])


def lines(values: list[str] | tuple[str, ...]) -> list[str]:
    return [clean(v) for v in values]


@pytest.mark.parametrize("name", FULL_VERSIONS)
def test_reference_article_text_comes_back_line_for_line(name: str) -> None:
    article = extract(name)
    assert article.extractor == "profile"
    assert clean(article.title) == clean(GOLD["title"])
    assert clean(article.sapo) == clean(GOLD["sapo"])
    assert lines(article.body) == lines(GOLD["body"])


@pytest.mark.parametrize("name", FULL_VERSIONS)
def test_captions_come_back_as_captions_not_body(name: str) -> None:
    article = extract(name)
    assert lines(article.captions) == lines(GOLD["captions"])
    assert not set(lines(article.captions)) & set(lines(article.body))


@pytest.mark.parametrize("name", FULL_VERSIONS)
def test_no_boilerplate_line_of_the_reference_survives(name: str) -> None:
    article = extract(name)
    kept = [article.title, article.sapo, *article.body]
    text = "\n".join(kept)
    for line in GOLD["boilerplate"]:
        line = clean(line)
        assert line not in lines(kept), line
        if len(line) > 20:  # short labels ("Thích") may occur inside real sentences
            assert line not in text, line


@pytest.mark.parametrize("name", FULL_VERSIONS)
def test_metadata_of_each_markup_generation(name: str) -> None:
    article, want = extract(name), expected(name)
    assert article.canonical_url == want["canonical_url"]
    published = want["published_at"]
    assert article.published_at == (datetime.fromisoformat(published) if published else None)
    assert article.author == want["author"]
    assert list(article.tags) == want["tags"]


def test_decomposed_page_comes_back_composed() -> None:
    article = extract("article-nfd")
    for text in (article.title, article.sapo, *article.body, *article.captions):
        assert unicodedata.is_normalized("NFC", text)


def test_removed_pieces_are_listed_with_a_reason() -> None:
    article = extract("article-related-inline")
    assert article.removed
    assert all(r.reason and r.what for r in article.removed)


@pytest.mark.parametrize(
    "name",
    sorted(p.stem for p in FIXTURES.glob("edge-*.html")),
)
def test_edge_case_pages_match_their_expectation(name: str) -> None:
    want = expected(name)
    if want.get("not_article"):
        with pytest.raises(NotAnArticle):
            extract(name)
        return
    try:
        article = extract(name)
    except NotAnArticle:
        assert want.get("empty_body"), f"{name} should give an article"
        return
    assert clean(article.title) == clean(want["title"])
    if want.get("empty_body"):
        assert not article.body and article.warnings
        return
    assert clean(article.sapo) == clean(want["sapo"] or "")
    if name == "edge-truncated":
        # Cut mid-paragraph: every complete paragraph before the cut is kept, in order.
        assert lines(article.body[:-1]) == lines(want["body"])[: len(article.body) - 1]
    else:
        assert lines(article.body) == lines(want["body"])
    published = want["published_at"]
    assert article.published_at == (datetime.fromisoformat(published) if published else None)
    if published is None:
        assert "no publication time found" in article.warnings


def test_a_page_without_sapo_says_so() -> None:
    article = extract("edge-no-sapo")
    assert article.sapo == "" and "no sapo (lead) found" in article.warnings


def test_selectors_can_be_overridden_from_config() -> None:
    page = (FIXTURES / "article-current.html").read_bytes()
    url = expected("article-current")["url"]
    overridden = extract_article(page, url, selectors={"title": ["title"]})
    assert overridden.title != extract_article(page, url).title


def test_a_missed_body_falls_back_to_the_generic_extractor_with_a_warning() -> None:
    page = (FIXTURES / "article-current.html").read_bytes()
    url = expected("article-current")["url"]
    article = extract_article(page, url, selectors={"body": ["#no-such-container"]})
    assert article.extractor == "generic"
    assert any("generic extractor used" in w for w in article.warnings)
    assert len(" ".join(article.body)) > 2000


def test_times_are_vietnam_time() -> None:
    article = extract("article-current")
    assert article.published_at is not None
    assert article.published_at.utcoffset() == datetime(2025, 12, 8, tzinfo=VN_TZ).utcoffset()


def test_a_ten_megabyte_page_is_extracted_in_bounded_time() -> None:
    page = (FIXTURES / "article-current.html").read_bytes()
    filler = b"<div class='x'><p>" + b"noi dung lap lai " * 40 + b"</p></div>"
    huge = page.replace(b"</body>", filler * (10_000_000 // len(filler)) + b"</body>")
    started = time.perf_counter()
    article = extract_article(huge, expected("article-current")["url"])
    assert time.perf_counter() - started < 20
    assert clean(article.title) == clean(GOLD["title"])


def test_a_page_cut_before_its_byline_still_names_the_author_from_its_head() -> None:
    article, want = extract("edge-truncated"), expected("edge-truncated")
    assert article.author == want["author"] == "Hà Phong"
    assert list(article.tags) == want["tags"]
