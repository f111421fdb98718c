"""The generic main-content extractor: quality on in-repo pages, the kinhtedothi fixtures, the
eval set (skipped where ../shared/eval is absent), and that no input makes it raise."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.extract.generic import extract_generic, extract_generic_html
from monitor.models import Article

ROOT = Path(__file__).resolve().parent.parent
GENERIC = ROOT / "tests" / "fixtures" / "generic"
KINHTEDOTHI = ROOT / "tests" / "fixtures" / "kinhtedothi"
EVAL = ROOT.parent / "shared" / "eval" / "wcxb-dev-articles"
KTD_URL = "https://kinhtedothi.vn/hoan-thien-the-che-de-bao-dam-mo-hinh-bo-may-moi.751234.html"

_WORD = re.compile(r"\w+")


def gram_f1(gold: str, pred: str, n: int = 4) -> float:
    """Word 4-gram F1, as ../shared/eval/score.py computes it for one page."""

    def grams(text: str) -> Counter[tuple[str, ...]]:
        w = _WORD.findall(unicodedata.normalize("NFC", text).lower())
        if len(w) < n:
            return Counter([tuple(w)]) if w else Counter()
        return Counter(tuple(w[i : i + n]) for i in range(len(w) - n + 1))

    g, p = grams(gold), grams(pred)
    hit = sum((g & p).values())
    if not g or not p:
        return 1.0 if g == p else 0.0
    precision, recall = hit / sum(p.values()), hit / sum(g.values())
    return 2 * precision * recall / (precision + recall) if hit else 0.0


def _fixture_cases() -> list[str]:
    return sorted(p.stem for p in GENERIC.glob("*.json"))


def _load(name: str) -> tuple[dict[str, Any], Article]:
    expected = json.loads((GENERIC / f"{name}.json").read_text(encoding="utf-8"))
    html = (GENERIC / f"{name}.html").read_bytes()
    return expected, extract_generic_html(html, expected["url"])


# --- quality gate on in-repo pages -------------------------------------------------------------


@pytest.mark.parametrize("name", _fixture_cases())
def test_body_is_the_article_text_in_order(name: str) -> None:
    expected, article = _load(name)
    assert gram_f1("\n\n".join(expected["body"]), "\n\n".join(article.body)) >= 0.95
    assert article.extractor == "generic"


@pytest.mark.parametrize("name", _fixture_cases())
def test_no_boilerplate_block_is_kept(name: str) -> None:
    expected, article = _load(name)
    kept = [b for b in expected["boilerplate"] if b in article.text]
    assert kept == []


@pytest.mark.parametrize("name", _fixture_cases())
def test_title_lead_and_captions_are_separate_fields(name: str) -> None:
    expected, article = _load(name)
    assert article.title == expected["title"]
    assert article.sapo == expected.get("sapo", "")
    assert list(article.captions) == expected["captions"]


@pytest.mark.parametrize("name", _fixture_cases())
def test_metadata_where_the_page_has_it(name: str) -> None:
    expected, article = _load(name)
    if "published_at" in expected:
        assert article.published_at == datetime.fromisoformat(expected["published_at"])
    if "author" in expected:
        assert article.author == expected["author"]
    if "canonical_url" in expected:
        assert article.canonical_url == expected["canonical_url"]


def test_dropped_parts_are_listed_with_a_reason() -> None:
    _, article = _load("en-blog-comments")
    reasons = " ".join(r.reason for r in article.removed)
    assert "comment" in reasons and "<nav>" in reasons
    assert all(len(r.what) <= 80 for r in article.removed)


def test_a_clear_article_gets_a_high_confidence_and_a_menu_page_a_low_one() -> None:
    _, article = _load("vi-news-boxes")
    assert 0.7 <= article.confidence <= 1.0
    menu = "<html><body><ul>" + "".join(
        f"<li><a href='/{i}'>Section number {i}</a></li>" for i in range(40)
    ) + "</ul></body></html>"
    poor = extract_generic_html(menu, "https://example.org/")
    assert poor.confidence < 0.5
    assert any("confidence" in w for w in poor.warnings)


def test_the_site_dateline_is_removed_from_the_lead() -> None:
    html = (
        "<html><body><h1>Tiêu đề bài</h1><div class='article'><p>Kinhtedothi - Sáng 8/12, hội "
        "nghị tổng kết công tác tổ chức xây dựng Đảng năm 2025 đã diễn ra tại Hà Nội.</p>"
        + "<p>Đoạn văn thân bài có đủ độ dài, có dấu phẩy, và nội dung rõ ràng.</p>" * 5
        + "</div></body></html>"
    )
    article = extract_generic_html(html, KTD_URL)
    assert article.sapo.startswith("Sáng 8/12, hội nghị")
    assert not any(b.startswith("Kinhtedothi") for b in article.body)


def test_text_after_a_block_is_its_own_line_and_a_button_is_not_the_author() -> None:
    paragraph = "<p>Đoạn văn thân bài có đủ độ dài, có dấu phẩy, và nội dung rõ ràng.</p>"
    html = (
        "<html><body><h1>Tiêu đề bài</h1><div class='article'>" + paragraph * 4
        + "<div><p>Hội nghị kết thúc lúc 17 giờ.</p>Chiều cùng ngày, đoàn về Hà Nội.</div>"
        + "<p>Tinh gọn bộ máy</p><a href='/x'>Learn More</a></div></body></html>"
    )
    article = extract_generic_html(html, "https://example.org/a")
    # Once glued as "...17 giờ.Chiều cùng ngày..." (the walk sees no end tags).
    assert "Hội nghị kết thúc lúc 17 giờ." in article.body
    assert "Chiều cùng ngày, đoàn về Hà Nội." in article.body
    assert article.author is None  # not "Learn More", nor the words before it
    assert "Learn More" not in " ".join(article.body)


def test_the_tree_form_and_the_html_form_agree() -> None:
    html = (GENERIC / "en-split-layout.html").read_bytes()
    url = "https://railreview.example.com/2025/05/night-trains"
    from_tree = extract_generic(LexborHTMLParser(html.decode()), url)
    assert from_tree.body == extract_generic_html(html, url).body


# --- kinhtedothi fixtures (written by another helper; skipped until they exist) ----------------


def _reference() -> dict[str, Any]:
    path = KINHTEDOTHI / "expected" / "reference-article.json"
    if not path.exists():
        pytest.skip("kinhtedothi reference fixture absent")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    "page", ["article-current", "article-2022", "article-2021", "article-nfd",
             "article-related-inline"]
)
def test_kinhtedothi_body_from_the_generic_extractor_alone(page: str) -> None:
    reference = _reference()
    path = KINHTEDOTHI / f"{page}.html"
    if not path.exists():
        pytest.skip(f"{page}.html absent")
    article = extract_generic_html(path.read_bytes(), KTD_URL)
    assert gram_f1("\n\n".join(reference["body"]), "\n\n".join(article.body)) >= 0.95
    lines = {article.sapo, *article.body}
    for block in reference["boilerplate"]:
        assert block not in lines
        if len(block) >= 20:
            assert block not in article.text
    assert article.sapo == reference["sapo"]
    assert article.title == reference["title"]


# --- never raises ------------------------------------------------------------------------------

_TAGS = ["div", "p", "span", "a", "li", "ul", "table", "td", "h1", "h2", "article", "nav",
         "footer", "aside", "figure", "figcaption", "script", "style", "br", "section"]
_ATTRS = ["", " class='comment'", " class='related-posts'", " id='content'", " hidden",
          " style='display:none'", " class='sapo'", " itemprop='articleBody'", " role='dialog'",
          " class='caption'", " class='title'"]


@st.composite
def _pages(draw: st.DrawFn) -> str:
    parts = draw(st.lists(
        st.one_of(
            st.builds(lambda t, a: f"<{t}{a}>", st.sampled_from(_TAGS), st.sampled_from(_ATTRS)),
            st.builds(lambda t: f"</{t}>", st.sampled_from(_TAGS)),
            st.text(max_size=80),
            st.sampled_from(["Related", "Bình luận", "Đọc nhiều", "Kinhtedothi - x", "<!--",
                             "&amp;", "<meta property='og:title' content='T'>", "\x00", "<"]),
        ),
        max_size=60,
    ))
    return "".join(parts)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.one_of(_pages(), st.text(max_size=300), st.binary(max_size=300)))
def test_never_raises_on_any_input(page: str | bytes) -> None:
    article = extract_generic_html(page, "https://example.org/a")
    assert isinstance(article, Article)
    assert 0.0 <= article.confidence <= 1.0
    assert article.extractor == "generic"


@settings(max_examples=25, deadline=2000)
@given(url=st.text(max_size=40))
def test_never_raises_on_any_url(url: str) -> None:
    assert isinstance(extract_generic_html("<p>Hello, world, again and again.</p>", url), Article)


def test_a_deeply_nested_page_is_read_without_recursion() -> None:
    depth = 5000
    text = "Deep text, with commas, and enough words to count as a paragraph. " * 3
    html = f"<html><body>{'<div>' * depth}<p>{text}</p>{'</div>' * depth}</body></html>"
    article = extract_generic(LexborHTMLParser(html), "https://example.org/deep")
    assert article.body and article.body[0].startswith("Deep text")


def test_a_page_without_body_or_text_gives_an_empty_article_with_a_warning() -> None:
    for page in ("", b"", "<html><head><title>x</title></head></html>"):
        article = extract_generic_html(page, "https://example.org/")
        assert article.body == ()
        assert article.warnings


# --- the eval set (../shared/eval, outside the repository) ---------------------------------------


def test_eval_set_sample_scores_like_the_full_run() -> None:
    """A sample of the scored pages, to catch a regression fast; `make bench` scores them all."""
    truths = sorted((EVAL / "ground-truth").glob("*.json"))
    if not truths:
        pytest.skip(f"{EVAL} absent")
    scores = []
    for truth in truths[::15]:
        gold = json.loads(truth.read_text(encoding="utf-8"))
        html = gzip.decompress((EVAL / "html" / f"{truth.stem}.html.gz").read_bytes())
        scores.append(gram_f1(gold.get("main_content") or "", extract_generic_html(
            html, gold.get("url") or "").text))
    assert sum(scores) / len(scores) >= 0.85
