"""Discover article refs: section listings (with pagination), sitemaps (and indexes), RSS/Atom.

Every page is fetched conditionally. What a page yielded is remembered with its validators (a
``PageMemory``, backed by the state database), so a 304 is followed from memory without its body.

A listing is read newest first, up to ``max_pages``, and stops at the first page holding an
article already known, one that is not pinned: the pages after it hold older articles, known
too. A known article with an unseen one after it on the same page is taken as pinned (a
featured story kept on top) and does not stop the walk, so a burst of publishing that pushes
unseen articles onto page 2 or 3 has those pages read; one new article costs the listing page
and the article, a quiet section one conditional request. The safety net, for an article slipped
onto page 2 while page 1 is unchanged (a back-dated story, a page-1 item removed): every
``deep_read_hours`` the walk goes one page past where it would stop. A page that failed is marked
so, and the walk does not stop before a page marked failed, so a listing page that failed in one
run is read in the next, even when the pages before it hold nothing new by then. A sitemap index
is read the same way, its most recently modified child sitemaps first, while they still name an
article not yet seen (a sitemap is not in publication order).

XML is parsed with the standard library, defensively: a document with a DOCTYPE or an ENTITY
declaration is refused outright (entity expansion is the "billion laughs" attack).
"""

from __future__ import annotations

import email.utils
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from monitor.config import SourceConfig
from monitor.errors import BlockedError, ExtractError, FetchError, MonitorError, RefusedError
from monitor.extract import extract_listing
from monitor.extract.text import clean, parse_iso
from monitor.extract.urls import article_id, bare_host, canonicalize, host_of
from monitor.fetch import Fetcher, Response, Validators
from monitor.models import ArticleRef

log = logging.getLogger(__name__)

PageStatus = Literal["fetched", "not_modified", "failed", "blocked", "refused"]
# When a walk stops: at a page holding a known article that is not pinned (listings, newest
# first), at a page with nothing unseen (sitemaps), or only when the pages run out (feeds).
StopRule = Literal["known", "stale", "never"]
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PageSummary:
    """What one listing, sitemap or feed page yielded: refs, and the pages it leads to."""

    refs: tuple[ArticleRef, ...] = ()
    next_pages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "refs": [
                {"url": r.url, "id": r.article_id, "title": r.title,
                 "published_at": r.published_at.isoformat() if r.published_at else None,
                 "lastmod": r.lastmod.isoformat() if r.lastmod else None}
                for r in self.refs
            ],
            "next": list(self.next_pages),
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> PageSummary | None:
        if not isinstance(data, dict):
            return None
        try:
            refs = tuple(
                ArticleRef(url=r["url"], article_id=r["id"], source=source, title=r["title"],
                           published_at=_iso(r["published_at"]), lastmod=_iso(r["lastmod"]))
                for r in data["refs"]
            )
            return cls(refs, tuple(str(u) for u in data["next"]))
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class PageOutcome:
    url: str
    status: PageStatus
    links: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    source: str
    refs: tuple[ArticleRef, ...]
    pages: tuple[PageOutcome, ...]

    @property
    def links(self) -> int:
        return len(self.refs)

    def count(self, status: PageStatus) -> int:
        return sum(1 for p in self.pages if p.status == status)


class PageMemory(Protocol):
    def page_validators(self, url: str) -> Validators | None:
        """Validators of a page whose summary is remembered (else None: fetch it whole)."""
        ...

    def page_summary(self, url: str, source: str) -> PageSummary | None: ...

    def remember_page(self, source: str, response: Response, summary: PageSummary) -> None:
        """Store the summary with its validators, and its refs as pending, in one transaction:
        a 304 later is trusted only because the refs it stands for were saved."""
        ...

    def mark_failed(self, url: str) -> None:
        """Forget what a page yielded, and note that it failed: the next run reads it whole."""
        ...

    def page_failed(self, url: str) -> bool: ...

    def page_not_modified(self, url: str) -> None:
        """A page answered 304: it was read (for ``page_read_at``) and is as remembered."""
        ...

    def page_read_at(self, url: str) -> datetime | None:
        """When the page was last read whole or answered 304; None if never (or failed)."""
        ...

    def is_known(self, ident: str) -> bool: ...


Parser = Callable[[Response], PageSummary]


async def discover(source: SourceConfig, fetcher: Fetcher, memory: PageMemory, *,
                   hosts: tuple[str, ...], now: datetime) -> Discovery:
    """The refs of one source, in page order, without duplicates."""
    walker = _Walker(source, fetcher, memory, now)
    if source.kind == "listing":
        await walker.follow([source.url], lambda r: parse_listing(r, source.name, hosts, now),
                            accept="html", stop="known")
    elif source.kind == "sitemap":
        await walker.sitemap(hosts)
    else:
        await walker.follow([source.url], lambda r: parse_feed(r.body, source.name, hosts),
                            accept="xml", stop="never")
    return Discovery(source.name, tuple(walker.refs.values()), tuple(walker.pages))


class _Walker:
    def __init__(self, source: SourceConfig, fetcher: Fetcher, memory: PageMemory,
                 now: datetime) -> None:
        self.source = source
        self.fetcher = fetcher
        self.memory = memory
        self.now = now
        self.refs: dict[str, ArticleRef] = {}
        self.pages: list[PageOutcome] = []
        self.visited: set[str] = set()

    async def follow(self, start: list[str], parse: Parser, *, accept: Literal["html", "xml"],
                     stop: StopRule) -> None:
        """Read pages while they lead on (listing: next page) and budget remains."""
        queue = list(start)
        deeper = False  # the safety net goes one page past the stop, once per walk
        while queue and len(self.pages) < self.source.max_pages:
            url = queue.pop(0)
            if url in self.visited:
                continue
            self.visited.add(url)
            read = await self.page(url, parse, accept)
            if read is None:
                return  # a failed page: where it led is unknown
            summary, fresh = read
            # A next page that failed in an earlier run may hold what that run could not reach:
            # the walk goes on to it even from a page of known refs.
            retry = any(self.memory.page_failed(n) for n in summary.next_pages)
            settled = ((stop == "known" and _holds_known(summary.refs, fresh))
                       or (stop == "stale" and not fresh))
            if settled and not retry:
                if deeper or not any(self._deep_read_due(n) for n in summary.next_pages):
                    return
                deeper = True
                log.info("source %s: reading one page deeper (every %g h), for articles "
                         "slipped past page %d", self.source.name, self.source.deep_read_hours,
                         len(self.pages))
            queue.extend(summary.next_pages)

    def _deep_read_due(self, url: str) -> bool:
        hours = self.source.deep_read_hours
        if not hours:
            return False
        last = self.memory.page_read_at(url)
        return last is None or self.now - last >= timedelta(hours=hours)

    async def sitemap(self, hosts: tuple[str, ...]) -> None:
        read = await self.page(self.source.url, lambda r: parse_sitemap(
            r.body, self.source.name, hosts), "xml")
        if read is None or not read[0].next_pages:
            return
        self.visited.add(self.source.url)
        await self.follow(list(read[0].next_pages),
                          lambda r: parse_sitemap(r.body, self.source.name, hosts),
                          accept="xml", stop="stale")

    async def page(self, url: str, parse: Parser,
                   accept: Literal["html", "xml"]) -> tuple[PageSummary, set[str]] | None:
        """The page's summary and the ids of its refs not known before it was read."""
        name = self.source.name
        fresh: set[str] = set()
        status: PageStatus
        try:
            response = await self.fetcher.get(url, accept=accept,
                                              validators=self.memory.page_validators(url))
            remembered = (self.memory.page_summary(url, name) if response.not_modified
                          else None)
            if response.not_modified and remembered is not None:
                summary, status = remembered, "not_modified"
            elif response.not_modified:
                # A 304 to a request we made unconditional: never expected; refetch next run.
                raise FetchError("304 Not Modified without a remembered page", url=url)
            else:
                summary, status = parse(response), "fetched"
            # Judged before the page is remembered: remembering makes its refs known.
            fresh = {r.article_id for r in summary.refs if not self.memory.is_known(r.article_id)}
            if status == "fetched":
                self.memory.remember_page(name, response, summary)
            else:
                self.memory.page_not_modified(url)
        except BlockedError as exc:
            self._failed(url, "blocked", exc)
            return None
        except RefusedError as exc:
            self._failed(url, "refused", exc)
            return None
        except MonitorError as exc:
            self._failed(url, "failed", exc)
            return None
        except Exception as exc:  # a parser bug must not stop the run
            log.exception("source %s: page %s could not be read", name, url)
            self._failed(url, "failed", exc)
            return None
        for ref in summary.refs:
            self.refs.setdefault(ref.article_id, ref)
        self.pages.append(PageOutcome(url, status, links=len(summary.refs)))
        log.info("source %s: %s %s, %d links, %d unseen", name, status, url, len(summary.refs),
                 len(fresh))
        return summary, fresh

    def _failed(self, url: str, status: PageStatus, exc: Exception) -> None:
        log.info("source %s: page %s %s: %s", self.source.name, url, status, exc)
        self.memory.mark_failed(url)
        self.pages.append(PageOutcome(url, status, error=str(exc)))


def _holds_known(refs: tuple[ArticleRef, ...], fresh: set[str]) -> bool:
    """Whether the page holds a known article that is not pinned: one with no unseen article
    after it (newest first, a known story above an unseen one was put there by hand). That is,
    whether the page's last article is known."""
    return bool(refs) and refs[-1].article_id not in fresh


# --- parsers (pure) -----------------------------------------------------------------------


def make_ref(url: str, source: str, hosts: tuple[str, ...], *, base: str | None = None,
             title: str = "", published_at: datetime | None = None,
             lastmod: datetime | None = None) -> ArticleRef | None:
    """A ref for an article URL on one of ``hosts``; None for anything else."""
    canonical = canonicalize(url, base)
    if canonical is None:
        return None
    if host_of(canonical) not in {bare_host(h) for h in hosts}:
        return None
    ident = article_id(canonical)
    if ident is None:
        return None
    return ArticleRef(url=canonical, article_id=ident, source=source, title=clean(title),
                      published_at=published_at, lastmod=lastmod)


def parse_listing(response: Response, source: str, hosts: tuple[str, ...],
                  now: datetime) -> PageSummary:
    listing = extract_listing(response.body, response.final_url, hosts=hosts,
                              header_charset=response.charset, now=now)
    refs = [make_ref(link.url, source, hosts, base=response.final_url, title=link.title,
                     published_at=link.published_at) for link in listing.links]
    return PageSummary(_unique(refs), (listing.next_page,) if listing.next_page else ())


def _xml_root(body: bytes) -> ET.Element:
    head = body.lstrip()[:4096]
    if _DTD.search(body):
        raise ExtractError("XML with a DOCTYPE or ENTITY declaration refused",
                           hint="sitemaps and feeds never need one; entity expansion is an "
                           "attack (billion laughs)")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        kind = "HTML" if head[:100].lower().startswith((b"<!doc", b"<html")) else "XML"
        raise ExtractError(f"not well-formed XML ({kind} received?): {exc}",
                           hint="check that the source URL is a sitemap or feed") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(node: ET.Element, *names: str) -> str:
    for child in node:
        if _local(child.tag) in names and child.text:
            return child.text.strip()
    return ""


def parse_sitemap(body: bytes, source: str, hosts: tuple[str, ...]) -> PageSummary:
    """A urlset (refs, with lastmod and Google News fields) or a sitemap index (children,
    most recently modified first)."""
    root = _xml_root(body)
    if _local(root.tag) == "sitemapindex":
        children = [(_iso(_child_text(s, "lastmod")), _child_text(s, "loc"))
                    for s in root if _local(s.tag) == "sitemap"]
        oldest = datetime.min.replace(tzinfo=UTC)
        children.sort(key=lambda c: c[0] or oldest, reverse=True)
        return PageSummary((), tuple(loc for _, loc in children if loc))
    refs = []
    for entry in root:
        if _local(entry.tag) != "url":
            continue
        title, published = "", None
        for child in entry:
            if _local(child.tag) == "news":
                title = _child_text(child, "title")
                published = _iso(_child_text(child, "publication_date"))
        refs.append(make_ref(_child_text(entry, "loc"), source, hosts, title=title,
                             published_at=published,
                             lastmod=_iso(_child_text(entry, "lastmod"))))
    return PageSummary(_unique(refs))


def parse_feed(body: bytes, source: str, hosts: tuple[str, ...]) -> PageSummary:
    """RSS 2.0, RSS 1.0 (RDF) or Atom."""
    root = _xml_root(body)
    refs = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":
            link = _child_text(item, "link") or _child_text(item, "guid")
            when = _rfc822(_child_text(item, "pubDate")) or _iso(_child_text(item, "date"))
            refs.append(make_ref(link, source, hosts, title=_child_text(item, "title"),
                                 published_at=when))
        elif name == "entry":
            links = [c for c in item if _local(c.tag) == "link"]
            alternate = next((c.get("href", "") for c in links
                              if c.get("rel", "alternate") == "alternate"), "")
            refs.append(make_ref(alternate, source, hosts, title=_child_text(item, "title"),
                                 published_at=_iso(_child_text(item, "published", "updated")),
                                 lastmod=_iso(_child_text(item, "updated"))))
    return PageSummary(_unique(refs))


def _unique(refs: Iterable[ArticleRef | None]) -> tuple[ArticleRef, ...]:
    found: dict[str, ArticleRef] = {}
    for ref in refs:
        if ref is not None:
            found.setdefault(ref.article_id, ref)
    return tuple(found.values())


def _iso(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def _rfc822(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
