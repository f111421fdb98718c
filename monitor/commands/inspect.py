"""``monitor inspect``: what extraction keeps and drops from a page, and why.

For developers tuning selectors against the live site: each TARGET (a local file or a URL on an
allowed host) is read, extracted and shown, as text or as one JSON object per line. A TARGET that
fails still gets its line (``target`` and ``error``) and the exit code is then 1; all TARGETs are
processed in one process.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from monitor.config import Config
from monitor.errors import ConfigError, MonitorError
from monitor.extract import extract_article, extract_listing
from monitor.extract.html import parse
from monitor.extract.text import VN_TZ, format_local
from monitor.models import Article, Listing, Relevance

log = logging.getLogger(__name__)

_MAX_FILE_BYTES = 50_000_000
_MARKUP = re.compile(rb"<(?:!doctype|!--|html|head|body|meta|title|div|p|a|span|article|h1)[\s>/]",
                     re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Page:
    target: str
    url: str  # what relative links are resolved against
    content: bytes
    charset: str | None = None
    base: str = "fetched URL"  # where ``url`` came from, shown to the user


# Where a saved page names its own address, in the order they are trusted.
_BASE_SOURCES = (('link[rel="canonical"]', "href", "<link rel=canonical>"),
                 ('meta[property="og:url"]', "content", "<meta property=og:url>"))


def saved_page_base(content: bytes) -> tuple[str, str] | None:
    """The URL a saved page was served from, as it declares it (canonical link, else og:url),
    and which of the two said so; None when it declares no absolute http(s) URL. The URL is
    kept as written, query included: a listing's "?page=3" is resolved against it."""
    tree = parse(content)
    for selector, attribute, name in _BASE_SOURCES:
        for node in tree.css(selector):
            value = (node.attributes.get(attribute) or "").strip()
            try:
                parts = urlsplit(value)
            except ValueError:
                continue
            if parts.scheme in ("http", "https") and parts.hostname:
                return value, name
    return None


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def read_target(target: str, config: Config) -> Page:
    """The bytes of a local file or a URL; MonitorError with a one-line reason otherwise."""
    if _is_url(target):
        from monitor.fetch import fetch_page

        response = fetch_page(target, config)
        return Page(target, response.final_url, response.content, response.charset)
    path = Path(target)
    if "://" in target:
        raise MonitorError(f"{target}: only http(s) URLs and local files can be inspected")
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise MonitorError(f"{target}: larger than {_MAX_FILE_BYTES // 1_000_000} MB")
        content = path.read_bytes()
    except FileNotFoundError:
        raise MonitorError(f"{target}: no such file") from None
    except IsADirectoryError:
        raise MonitorError(f"{target}: is a directory, not an HTML file") from None
    except OSError as exc:
        raise MonitorError(f"{target}: cannot read: {exc.strerror}") from exc
    head = content[:2048]
    if b"\x00" in head.replace(b"\x00<", b"<") and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MonitorError(f"{target}: not an HTML page (binary content)")
    if not _MARKUP.search(content[:65536]):
        raise MonitorError(f"{target}: not an HTML page (no HTML tags)")
    # A local file stands for the page it was saved from: its links are resolved against the
    # address the page declares, so a saved page lists what the live one does.
    declared = saved_page_base(content)
    if declared is None:
        return Page(target, path.resolve().as_uri(), content, base="local file (the page "
                    "declares no canonical URL or og:url)")
    return Page(target, declared[0], content, base=declared[1])


def _relevance(article: Article, config: Config) -> Relevance:
    from monitor.classify import classify

    return classify(article, config.topics)


def article_record(page: Page, article: Article, relevance: Relevance) -> dict[str, Any]:
    return {
        "target": page.target,
        "url": article.url,
        "base": page.base,
        "title": article.title,
        "sapo": article.sapo,
        "body": list(article.body),
        "captions": list(article.captions),
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "tags": list(article.tags),
        "canonical_url": article.canonical_url,
        "image": article.image,
        "extractor": article.extractor,
        "confidence": round(article.confidence, 3),
        "text": article.text,
        "removed": [{"what": r.what, "reason": r.reason} for r in article.removed],
        "warnings": list(article.warnings),
        "relevance": {
            "score": round(relevance.score, 3),
            "relevant": relevance.relevant,
            "verdict": relevance.verdict,
            "matched": [
                {"topic": m.topic, "phrase": m.phrase, "kind": m.kind, "where": m.where,
                 "count": m.count, "points": m.points, "terms": list(m.terms)}
                for m in relevance.matched
            ],
            "excluded": [
                {"topic": m.topic, "by": m.phrase, "kind": m.kind, "where": m.where,
                 "terms": list(m.terms)}
                for m in relevance.excluded
            ],
        },
    }


def listing_record(page: Page, listing: Listing) -> dict[str, Any]:
    return {
        "target": page.target,
        "url": listing.url,
        "base": page.base,
        "links": [
            {"url": link.url, "title": link.title, "id": link.article_id,
             "published_at": link.published_at.isoformat() if link.published_at else None}
            for link in listing.links
        ],
        "next_page": listing.next_page,
        "warnings": list(listing.warnings),
    }


def _human_article(record: dict[str, Any], out: TextIO) -> None:
    w = out.write
    w(f"== {record['target']}  [{record['extractor']} extractor]\n")
    w(f"title      {record['title']}\n")
    w(f"canonical  {record['canonical_url']}\n")
    w(f"base       {record['url']} (from {record['base']})\n")
    published = record["published_at"]
    if published:
        from datetime import datetime

        local = format_local(datetime.fromisoformat(published).astimezone(VN_TZ))
        w(f"published  {local} (Vietnam time)\n")
    else:
        w("published  -\n")
    w(f"author     {record['author'] or '-'}\n")
    w(f"tags       {', '.join(record['tags']) or '-'}\n")
    w(f"sapo       {record['sapo'] or '-'}\n")
    w(f"body       {len(record['body'])} blocks\n")
    for i, block in enumerate(record["body"], 1):
        w(f"  {i:>3}. {block}\n")
    w(f"captions   {len(record['captions'])}\n")
    for caption in record["captions"]:
        w(f"     - {caption}\n")
    w(f"removed    {len(record['removed'])}\n")
    for item in record["removed"]:
        w(f"     - [{item['reason']}] {item['what']}\n")
    rel = record["relevance"]
    w(f"relevance  {rel['verdict']}, score {rel['score']}\n")
    for m in rel["matched"]:
        words = f" [{'; '.join(m['terms'][:3])}]" if m["kind"] == "near" else ""
        what = f"near rule {m['phrase']!r}" if m["kind"] == "near" else repr(m["phrase"])
        w(f"     + {what}{words} in {m['where']} x{m['count']} = {m['points']:g}\n")
    for m in rel["excluded"]:
        w(f"     - {'; '.join(m['terms'][:3])} in {m['where']}: cancelled by {m['by']!r}\n")
    for warning in record["warnings"]:
        w(f"warning    {warning}\n")
    w("\n")


def _human_listing(record: dict[str, Any], out: TextIO) -> None:
    out.write(f"== {record['target']}  [listing]\n")
    out.write(f"base       {record['url']} (from {record['base']})\n")
    out.write(f"links      {len(record['links'])}\n")
    for i, link in enumerate(record["links"], 1):
        when = link["published_at"][:16].replace("T", " ") if link["published_at"] else "-"
        out.write(f"  {i:>3}. {when:16}  {link['title']}\n       {link['url']}\n")
    out.write(f"next page  {record['next_page'] or '-'}\n")
    for warning in record["warnings"]:
        out.write(f"warning    {warning}\n")
    out.write("\n")


def _inspect_config(config: Callable[[], Config]) -> Config:
    """The config if there is one; a local file can be inspected without any."""
    try:
        return config()
    except ConfigError as exc:
        if "config file not found" not in exc.message:
            raise
        log.info("no config file: built-in defaults, no topics")
        return Config()


def inspect_command(
    targets: Sequence[str],
    *,
    as_json: bool,
    generic: bool,
    listing: bool,
    config: Callable[[], Config],
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    import sys

    err = err or sys.stderr
    settings = _inspect_config(config)
    failed = False
    for target in targets:
        try:
            page = read_target(target, settings)
            if listing:
                found = extract_listing(page.content, page.url, header_charset=page.charset,
                                        hosts=settings.site.allowed_hosts)
                record = listing_record(page, found)
            else:
                article = extract_article(page.content, page.url, header_charset=page.charset,
                                          selectors=settings.site.selectors,
                                          force_generic=generic)
                record = article_record(page, article, _relevance(article, settings))
        except MonitorError as exc:
            if isinstance(exc, ConfigError):
                raise
            failed = True
            if as_json:
                out.write(json.dumps({"target": target, "error": str(exc)}, ensure_ascii=False))
                out.write("\n")
            else:
                err.write(f"monitor: error: {exc}\n")
            continue
        if as_json:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif listing:
            _human_listing(record, out)
        else:
            _human_article(record, out)
    return 1 if failed else 0
