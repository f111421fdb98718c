"""Page metadata from the head: meta tags, JSON-LD, <link rel=canonical>, <time>.

Shared by the profile and generic extractors. Each field is read from the most specific source a
page usually gets right (Open Graph / article:* tags, then JSON-LD, then plain tags); every value
is cleaned text or None. Never raises on page content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.text import clean, fold, parse_datetime, parse_iso
from monitor.extract.urls import canonicalize

log = logging.getLogger(__name__)

_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "blogposting",
                  "analysisnewsarticle", "opinionnewsarticle", "webpage"}


@dataclass(frozen=True, slots=True)
class PageMeta:
    title: str | None = None
    description: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    author: str | None = None
    image: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    tags: tuple[str, ...] = ()


# Each tree.css() walks the whole document whatever it matches (0.03-0.13 ms on an evaluation
# page, cached or not), most of read_meta's time, so the meta tags (article:tag included) and the
# JSON-LD scripts are found in one walk. Both are searched for in the whole page, not the head:
# real pages put them in the body too (135 and 84 of the 711 evaluation pages). Split by tag, the
# matches are exactly what each selector gave alone, in document order. The type test stays in
# the selector: Lexbor compares type values case-insensitively, as HTML says.
_METAS_AND_JSON_LD = 'meta[content], script[type="application/ld+json"]'


def _select(tree: LexborHTMLParser) -> tuple[list[LexborNode], list[LexborNode]]:
    """The page's <meta content> tags and its JSON-LD scripts, each in document order."""
    metas: list[LexborNode] = []
    scripts: list[LexborNode] = []
    for node in tree.css(_METAS_AND_JSON_LD):
        (metas if node.tag == "meta" else scripts).append(node)
    return metas, scripts


def _metas(nodes: list[LexborNode]) -> tuple[dict[str, str], list[str]]:
    """Every <meta property|name|itemprop=key content=...>, first value per key, in one pass.

    Also the cleaned contents of the article's <meta property="article:tag"> tags, in order (an
    exact, case-sensitive match, as Lexbor's attribute selector does). One without content
    is left out: it would add "", which nothing reads.
    """
    found: dict[str, str] = {}
    tags: list[str] = []
    for node in nodes:
        attrs = node.attributes  # builds a dict each time: read once per node
        content = attrs.get("content")
        if not content:
            continue
        prop = attrs.get("property")
        if prop == "article:tag":
            tags.append(clean(content))
        for key in (prop, attrs.get("name"), attrs.get("itemprop")):
            if key:
                found.setdefault(key.strip().lower(), content)
    return found, tags


def _meta(metas: dict[str, str], *keys: str) -> str | None:
    """The first non-empty cleaned value among ``keys``, in order."""
    for key in keys:
        value = clean(metas.get(key.lower()))
        if value:
            return value
    return None


def _json_ld(scripts: list[LexborNode]) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object of the page, @graph members flattened; bad JSON skipped."""
    for script in scripts:
        try:
            data = json.loads(script.text(deep=True) or "null", strict=False)
        except (ValueError, RecursionError):
            log.debug("unreadable JSON-LD skipped")
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))
                yield item


def _ld_type(item: dict[str, Any]) -> set[str]:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds if k}


def _name(value: Any) -> str | None:
    """A person/organisation name from a JSON-LD value (string, object or list of them)."""
    if isinstance(value, list):
        names = [n for v in value if (n := _name(v))]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    return clean(value) if isinstance(value, str) and clean(value) else None


def _url(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return value if isinstance(value, str) and value.strip() else None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    return parse_iso(value) or parse_datetime(value)


def _split_tags(value: str | None) -> list[str]:
    return [clean(t) for t in (value or "").split(",") if clean(t)]


def read_meta(tree: LexborHTMLParser, url: str) -> PageMeta:
    """What the page says about itself; fields it does not say are None / empty."""
    meta_nodes, scripts = _select(tree)
    ld = next((i for i in _json_ld(scripts) if _ld_type(i) & _ARTICLE_TYPES), {})
    metas, tags = _metas(meta_nodes)
    title = _meta(metas, "og:title", "twitter:title")
    if not title and isinstance(ld.get("headline"), str):
        title = clean(ld["headline"]) or None
    if not title:
        node = tree.css_first("title")
        title = clean(node.text()) if node is not None else None

    published = _date(_meta(metas, "article:published_time", "datePublished", "pubdate",
                            "publishdate", "dc.date.issued", "date"))
    if published is None and isinstance(ld.get("datePublished"), str):
        published = _date(ld["datePublished"])
    if published is None:
        node = tree.css_first("time[datetime]")
        if node is not None:
            published = _date(node.attributes.get("datetime"))
    modified = _date(_meta(metas, "article:modified_time", "dateModified"))
    if modified is None and isinstance(ld.get("dateModified"), str):
        modified = _date(ld["dateModified"])

    site_name = _meta(metas, "og:site_name")
    author = _meta(metas, "author", "article:author", "dc.creator")
    # A profile URL is not a name, and many pages name the paper itself as the author.
    if author and (author.startswith(("http://", "https://"))
                   or (site_name and fold(site_name) in fold(author))):
        author = None
    author = author or _name(ld.get("author"))

    image = _url(_meta(metas, "og:image", "twitter:image")) or _url(ld.get("image"))
    canonical_node = tree.css_first('link[rel="canonical"]')
    canonical_raw = canonical_node.attributes.get("href") if canonical_node is not None else None
    canonical_raw = canonical_raw or _meta(metas, "og:url") or _url(ld.get("mainEntityOfPage"))
    canonical = canonicalize(canonical_raw, url) if canonical_raw else None

    # The article's own tags (its article:tag metas, read above) first; keyword lists are often
    # SEO padding, used only without them.
    keywords = ld.get("keywords")
    if not any(tags) and isinstance(keywords, str):
        tags = _split_tags(keywords)
    elif not any(tags) and isinstance(keywords, list):
        tags = [clean(k) for k in keywords if isinstance(k, str)]
    if not any(tags):
        tags = _split_tags(_meta(metas, "keywords", "news_keywords"))
    return PageMeta(
        title=title or None,
        description=_meta(metas, "og:description", "description", "twitter:description"),
        published_at=published,
        modified_at=modified,
        author=author,
        image=urljoin(url, image) if image else None,
        canonical_url=canonical,
        site_name=site_name,
        tags=tuple(dict.fromkeys(t for t in tags if t)),
    )
