"""Listing extraction: the article links of a section page, in page order, and the next page.

A link is an article when its URL has one of the site's article shapes (``urls.article_id``), is
on an allowed host, and does not sit in the page's navigation, header or footer (footer pages such
as "/dieu-khoan-su-dung.html" have article-like slugs). Links are deduplicated by id; the title
comes from the first link of an item that has text (image links come first on most cards), the
time from the item around it.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.blocks import node_clean_text
from monitor.extract.html import parse_page
from monitor.extract.text import fold, parse_datetime
from monitor.extract.urls import article_id, bare_host, canonicalize, host_of
from monitor.models import Listing, ListingLink

_NAV_TAGS = frozenset(("nav", "header", "footer"))
_NAV_WORDS = frozenset(
    ("menu", "nav", "navbar", "navigation", "footer", "breadcrumb", "breadcrumbs", "header",
     "topbar", "mega", "tags", "tag", "keywords")
)
_NEXT_TEXTS = frozenset(fold(t) for t in ("sau", "trang sau", "tiếp", "tiếp theo", "»", "›",
                                           ">", ">>", "next", "next page", "xem tiếp"))
_WORD_SPLIT = re.compile(r"[\s_-]+")
# How far up from a link an item (card) may extend; a card is one or two wrappers deep.
_ITEM_LEVELS = 4


def _in_navigation(node: LexborNode) -> bool:
    current = node.parent
    while current is not None and current.tag not in ("body", "html"):
        if current.tag in _NAV_TAGS:
            return True
        attrs = current.attributes
        words = _WORD_SPLIT.split(f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower())
        if _NAV_WORDS.intersection(words):
            return True
        current = current.parent
    return False


def _link_title(anchor: LexborNode) -> str:
    text = node_clean_text(anchor)
    if text:
        return text
    attr = anchor.attributes.get("title")
    if attr:
        return attr.strip()
    img = anchor.css_first("img[alt]")
    return (img.attributes.get("alt") or "").strip() if img is not None else ""


def _item(anchor: LexborNode, ident: str, ids_of: dict[int, str | None]) -> LexborNode:
    """The largest ancestor whose article links all point at ``ident``: the item's card."""
    item = anchor
    for _ in range(_ITEM_LEVELS):
        parent = item.parent
        if parent is None or parent.tag in ("body", "html"):
            break
        ids = {ids_of.get(a.mem_id) for a in parent.css("a[href]")}
        ids.discard(None)
        if ids != {ident}:
            break
        item = parent
    return item


def _item_time(item: LexborNode, now: datetime | None) -> datetime | None:
    for node in item.css("time, [class*=time], [class*=date]"):
        found = parse_datetime(node.attributes.get("datetime") or node_clean_text(node), now=now)
        if found is not None:
            return found
    # Otherwise the item's own text, without its links (a title may hold a date of its own).
    text = node_clean_text(item)
    for anchor in item.css("a"):
        text = text.replace(node_clean_text(anchor), " ")
    return parse_datetime(text, now=now)


def _next_page(tree: LexborHTMLParser, base: str, allowed: set[str]) -> str | None:
    candidates = [n.attributes.get("href") for n in tree.css('link[rel="next"], a[rel="next"]')]
    for anchor in tree.css("a[href]"):
        attrs = anchor.attributes
        text = fold(node_clean_text(anchor) or (attrs.get("title") or "").strip())
        if text in _NEXT_TEXTS or "next" in (attrs.get("class") or "").lower().split():
            candidates.append(attrs.get("href"))
    for href in candidates:
        if not href or href.startswith(("#", "javascript:")):
            continue
        url = urljoin(base, href.strip())
        if host_of(url) in allowed and url.split("#")[0] != base.split("#")[0]:
            return url.split("#")[0]
    return None


def extract(
    html: bytes | str,
    url: str,
    *,
    hosts: tuple[str, ...] | None = None,
    header_charset: str | None = None,
    now: datetime | None = None,
) -> Listing:
    tree, warnings = parse_page(html, header_charset)
    allowed = {bare_host(h) for h in (hosts or ())} | {host_of(url)}
    found: dict[str, ListingLink] = {}
    anchors = tree.css("a[href]")
    # Each link's canonical URL and identity, computed once: finding an item's card asks
    # for the identities of every link around it.
    urls = {a.mem_id: canonicalize(a.attributes.get("href") or "", url) for a in anchors}
    ids_of = {key: article_id(u) if u else None for key, u in urls.items()}
    for anchor in anchors:
        canonical = urls[anchor.mem_id]
        if canonical is None:
            continue
        ident = ids_of[anchor.mem_id]
        if ident is None or host_of(canonical) not in allowed or _in_navigation(anchor):
            continue
        known = found.get(ident)
        if known is not None and known.title:
            continue
        title = _link_title(anchor)
        item = _item(anchor, ident, ids_of)
        published = (known.published_at if known else None) or _item_time(item, now)
        # Keep the first position; a later link of the same article only fills a missing title.
        found[ident] = ListingLink(url=known.url if known else canonical, title=title,
                                   published_at=published, article_id=ident)
    if not found:
        warnings = (*warnings, "no article links found")
    return Listing(url=url, links=tuple(found.values()),
                   next_page=_next_page(tree, url, allowed), warnings=warnings)
