"""Profile extraction of one article page, with the generic extractor as fallback.

The order matters: fields outside the body (title, lead, time, author, tags) are read first, then
captions are taken out of the body, then boilerplate goes (junk tags, class/id words, site boxes
by their heading, blocks that are only headline links), and what remains is read block by block.
Every piece dropped is recorded with its reason, for ``monitor inspect``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import NotAnArticle
from monitor.extract.blocks import Cleaner, block_texts, node_clean_text
from monitor.extract.html import is_inside, parse_page
from monitor.extract.meta import PageMeta, read_meta
from monitor.extract.profile import KINHTEDOTHI, SAPO_MARKER, SiteProfile
from monitor.extract.text import clean, fold, parse_datetime
from monitor.extract.urls import canonicalize
from monitor.models import Article, Removed

log = logging.getLogger(__name__)

_SITE_SUFFIX = (" - Kinh tế & Đô thị", " | Kinh tế & Đô thị", " - Báo Kinh tế & Đô thị",
                " - kinhtedothi.vn", " | kinhtedothi.vn", " - Kinhtedothi")


def _first(tree: LexborHTMLParser | LexborNode, chain: Sequence[str]) -> LexborNode | None:
    """The first node, in chain order, whose text is not empty."""
    for selector in chain:
        for node in tree.css(selector):
            if node_clean_text(node):
                return node
    return None


def _first_container(tree: LexborHTMLParser, chain: Sequence[str]) -> LexborNode | None:
    """The first node matched by the chain, empty or not (an empty body is still a body)."""
    for selector in chain:
        node = tree.css_first(selector)
        if node is not None:
            return node
    return None


def strip_marker(sapo: str) -> str:
    return SAPO_MARKER.sub("", sapo, count=1)


def _title(tree: LexborHTMLParser, profile: SiteProfile, meta: PageMeta) -> str:
    node = _first(tree, profile.chain("title"))
    if node is not None:
        return node_clean_text(node)
    title = meta.title or ""
    for suffix in _SITE_SUFFIX:
        title = title.removesuffix(suffix)
    return clean(title)


def _tags(tree: LexborHTMLParser, profile: SiteProfile, meta: PageMeta) -> tuple[str, ...]:
    for selector in profile.chain("tags"):
        found = [t for n in tree.css(selector) if (t := node_clean_text(n).lstrip("#").strip())]
        if found:
            return tuple(dict.fromkeys(found))
    return meta.tags


def _author(tree: LexborHTMLParser, profile: SiteProfile, meta: PageMeta) -> str | None:
    node = _first(tree, profile.chain("author"))
    if node is not None:
        name = node_clean_text(node)
        # "Tác giả: Hà Phong" / "Theo Hà Phong" / "Bài, ảnh: ..." keep only the name.
        for prefix in ("Tác giả:", "Theo", "Bài và ảnh:", "Bài, ảnh:", "Bài:", "Ảnh:"):
            name = name.removeprefix(prefix).strip()
        if 0 < len(name) <= 80:
            return name
    return meta.author


def _published(
    tree: LexborHTMLParser, profile: SiteProfile, meta: PageMeta
) -> tuple[datetime | None, str | None]:
    if meta.published_at is not None:
        return meta.published_at, None
    for selector in profile.chain("time"):
        for node in tree.css(selector):
            value = parse_datetime(node.attributes.get("datetime") or node_clean_text(node))
            if value is not None:
                return value, None
    return None, "no publication time found"


def extract(
    html: bytes | str,
    url: str,
    *,
    selectors: Mapping[str, Sequence[str]] | None = None,
    header_charset: str | None = None,
    force_generic: bool = False,
    profile: SiteProfile = KINHTEDOTHI,
) -> Article:
    """The article of one page (see the module docstring). Raises NotAnArticle when none."""
    profile = profile.with_overrides(selectors)
    tree, parse_warnings = parse_page(html, header_charset)
    if tree.body is None and tree.head is None:
        raise NotAnArticle("the page is empty", hint="is the target an HTML page?")
    if force_generic:
        return _checked(_generic(tree, url, parse_warnings, "generic extractor forced"), None)
    article, container = _profile(tree, url, profile, parse_warnings)
    if article is not None and _chars(article) >= profile.min_body_chars:
        return article
    reason = (
        "the profile's selectors found no article body" if not container
        else "the profile's article body is empty" if article is None or not article.body
        else "the profile's article body is implausibly short"
    )
    # Where the profile found its container, its body stands when empty (a video or photo
    # article: the generic extractor would make a body of the sidebar), and when short unless
    # the generic result is confident and much fuller (the container holds only part now).
    kept = replace(article, warnings=(*article.warnings, reason)) if article else None
    if container and kept is not None and not kept.body:
        return _checked(kept, kept)
    # The profile consumed parts of the tree; the generic extractor needs a fresh one.
    fresh, _ = parse_page(html, header_charset)
    generic = _generic(fresh, url, parse_warnings, f"{reason}; generic extractor used")
    if container and kept is not None and not (
        generic.confidence >= _TRUST_GENERIC
        and _chars(generic) >= max(profile.min_body_chars, 3 * _chars(kept))
    ):
        return _checked(kept, kept)
    return _checked(generic, article)


_TRUST_GENERIC = 0.7


def _chars(article: Article) -> int:
    return sum(len(p) for p in article.body)


def _checked(result: Article, profile_result: Article | None) -> Article:
    """The result, unless it holds no article at all."""
    if result.title and result.body:
        return result
    if profile_result is not None and profile_result.title:
        return replace(profile_result,
                       warnings=(*profile_result.warnings, "no article body found"))
    raise NotAnArticle("no article found on the page",
                       hint="is it a section page? try `monitor inspect --listing`")


def _generic(tree: LexborHTMLParser, url: str, warnings: tuple[str, ...], why: str) -> Article:
    from monitor.extract.generic import extract_generic

    article = extract_generic(tree, url)
    log.info("%s: %s", url, why)
    return replace(article, extractor="generic", warnings=(*warnings, why, *article.warnings))


def _profile(
    tree: LexborHTMLParser, url: str, profile: SiteProfile, warnings: tuple[str, ...]
) -> tuple[Article | None, bool]:
    """The profile's article (None without title and body), and whether the body was found."""
    meta = read_meta(tree, url)
    title = _title(tree, profile, meta)
    body_node = _first_container(tree, profile.chain("body"))
    if not title and body_node is None:
        return None, False
    notes = list(warnings)
    published, time_warning = _published(tree, profile, meta)
    if time_warning:
        notes.append(time_warning)
    author = _author(tree, profile, meta)
    tags = _tags(tree, profile, meta)

    sapo_node = _first(tree, profile.chain("sapo"))
    if sapo_node is not None and body_node is not None and is_inside(body_node, sapo_node):
        sapo_node = None  # a "sapo" class matched the whole body container: not a lead
    sapo = strip_marker(node_clean_text(sapo_node)) if sapo_node is not None else ""

    removed: list[Removed] = []
    captions: list[str] = []
    body: list[str] = []
    if body_node is not None:
        byline = _take_byline(body_node)
        author = author or byline
        cleaner = Cleaner(profile.boilerplate_words, profile.box_headings)
        captions = cleaner.take_captions(body_node, profile.chain("captions"))
        removed = cleaner.clean(body_node)
        body = block_texts(body_node)
    if not sapo and body and SAPO_MARKER.match(body[0]):
        sapo, body = strip_marker(body[0]), body[1:]
    body = _drop_tail(body, author, sapo)
    if not sapo:
        notes.append("no sapo (lead) found")
    article = Article(
        url=url,
        title=title,
        sapo=sapo,
        body=tuple(body),
        captions=tuple(captions),
        author=author,
        published_at=published,
        tags=tags,
        canonical_url=meta.canonical_url or canonicalize(url),
        image=meta.image,
        extractor="profile",
        confidence=1.0,
        removed=tuple(removed),
        warnings=tuple(notes),
    )
    return article, body_node is not None


_RIGHT = re.compile(r"text-align\s*:\s*right", re.IGNORECASE)


def _take_byline(body: LexborNode) -> str | None:
    """The byline the site writes as the body's last paragraph, right-aligned (older pages)."""
    paragraphs = body.css("p")
    for node in reversed(paragraphs):
        text = node_clean_text(node)
        if not text:
            continue
        aligned = _RIGHT.search(node.attributes.get("style") or "") or (
            (node.attributes.get("align") or "").lower() == "right"
        )
        if aligned and len(text) <= 60 and len(text.split()) <= 8:
            node.remove()
            return text.removeprefix("Theo ").strip()
        return None
    return None


def _drop_tail(body: list[str], author: str | None, sapo: str) -> list[str]:
    """Drop the byline repeated as the body's last line, and a lead repeated as its first."""
    if author and body and len(body[-1]) <= len(author) + 8 and (
        fold(body[-1]).strip(" .") in {fold(author), fold(f"Theo {author}")}
    ):
        body = body[:-1]
    if sapo and body and abs(len(body[0]) - len(sapo)) <= 20 and (
        fold(strip_marker(body[0])) == fold(sapo)
    ):
        body = body[1:]
    return body
