"""sources.py: listing pagination and its stop rule, sitemaps and indexes, RSS/Atom, and XML
parsed defensively."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from support import FAST_FETCH
from support.sitesrv import Fault, FixtureSite, SiteServer

from monitor.config import FetchConfig, SiteConfig, SourceConfig
from monitor.errors import ExtractError
from monitor.fetch import Fetcher, Response, Validators
from monitor.fetch_policy import MemoryRobots
from monitor.sources import Discovery, PageSummary, discover, parse_feed, parse_sitemap

HOSTS = ("kinhtedothi.vn", "www.kinhtedothi.vn")
LOCAL = SiteConfig(allowed_hosts=("127.0.0.1",))


class Memory(MemoryRobots):
    """A PageMemory (and RobotsMemory) in dicts: what the state database does, without it."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, tuple[Validators, PageSummary]] = {}
        self.known: set[str] = set()
        self.failed: set[str] = set()
        self.read_at: dict[str, datetime] = {}
        self.now = datetime.now(UTC)  # the walk's clock: tests move it on

    def page_validators(self, url: str) -> Validators | None:
        return self.pages[url][0] if url in self.pages else None

    def page_summary(self, url: str, source: str) -> PageSummary | None:
        return self.pages[url][1] if url in self.pages else None

    def remember_page(self, source: str, response: Response, summary: PageSummary) -> None:
        self.pages[response.url] = (response.validators, summary)
        self.read_at[response.url] = self.now
        self.failed.discard(response.url)
        self.known.update(r.article_id for r in summary.refs)

    def mark_failed(self, url: str) -> None:
        self.pages.pop(url, None)
        self.failed.add(url)

    def page_failed(self, url: str) -> bool:
        return url in self.failed

    def page_not_modified(self, url: str) -> None:
        self.read_at[url] = self.now

    def page_read_at(self, url: str) -> datetime | None:
        return self.read_at.get(url)

    def is_known(self, ident: str) -> bool:
        return ident in self.known


def run(server: SiteServer, memory: Memory, *, kind: str = "listing", path: str = "/xay-dung-dang",
        max_pages: int = 5) -> Discovery:
    source = SourceConfig("xdd", kind, server.url(path), max_pages)  # type: ignore[arg-type]

    async def go() -> Discovery:
        config = FetchConfig(**FAST_FETCH)  # type: ignore[arg-type]
        async with Fetcher(LOCAL, config, robots=memory) as fetcher:
            return await discover(source, fetcher, memory, hosts=("127.0.0.1",),
                                  now=memory.now)

    return asyncio.run(go())


# --- listings -----------------------------------------------------------------------------


def test_a_first_run_follows_every_listing_page(server: SiteServer, site: FixtureSite) -> None:
    found = run(server, Memory())
    assert len(found.refs) == 40 and found.count("fetched") == 3
    assert [r.article_id for r in found.refs] == [str(a.id) for a in site.articles]
    assert found.refs[0].title == site.articles[0].title


def test_a_quiet_section_costs_one_conditional_request(server: SiteServer,
                                                       site: FixtureSite) -> None:
    memory = Memory()
    run(server, memory)
    site.reset_log()
    found = run(server, memory)
    assert [(h.path, h.status, h.conditional) for h in site.hits] == [
        ("/xay-dung-dang", 304, True)]
    assert found.count("not_modified") == 1 and len(found.refs) == 14  # replayed from memory


def test_a_burst_of_new_articles_is_followed_onto_the_next_page(server: SiteServer,
                                                                site: FixtureSite) -> None:
    memory = Memory()
    run(server, memory)
    burst = [site.add() for _ in range(16)]  # more than one page of them
    site.reset_log()
    found = run(server, memory)
    assert {str(a.id) for a in burst} <= {r.article_id for r in found.refs}
    # Page 1 held only unseen articles; page 2 ends with known ones: page 3 is not read.
    assert [h.path for h in site.hits] == ["/xay-dung-dang", "/xay-dung-dang/trang-2"]


def test_one_new_article_costs_one_listing_page(server: SiteServer, site: FixtureSite) -> None:
    memory = Memory()
    run(server, memory)
    added = site.add()
    site.reset_log()
    found = run(server, memory)
    assert str(added.id) in {r.article_id for r in found.refs}
    assert [h.path for h in site.hits] == ["/xay-dung-dang"]  # its last article is known


def test_a_pinned_known_article_on_top_does_not_stop_the_walk(server: SiteServer,
                                                              site: FixtureSite) -> None:
    memory = Memory()
    run(server, memory)
    site.pinned = [site.articles[5]]  # a featured story kept above the newest
    burst = [site.add() for _ in range(15)]  # 14 on page 1 under the pinned one, 1 on page 2
    site.reset_log()
    found = run(server, memory)
    assert {str(a.id) for a in burst} <= {r.article_id for r in found.refs}
    assert [h.path for h in site.hits] == ["/xay-dung-dang", "/xay-dung-dang/trang-2"]


def test_an_article_slipped_onto_page_2_is_found_by_the_occasional_deeper_read(
        server: SiteServer, site: FixtureSite) -> None:
    memory = Memory()
    run(server, memory)
    slipped = site.add(age=timedelta(hours=50))  # back-dated: page 2, page 1 unchanged
    site.reset_log()
    run(server, memory)
    assert [h.path for h in site.hits] == ["/xay-dung-dang"]  # 304: nothing to follow
    memory.now += timedelta(hours=6)  # deep_read_hours later
    site.reset_log()
    found = run(server, memory)
    assert [h.path for h in site.hits] == ["/xay-dung-dang", "/xay-dung-dang/trang-2"]
    assert str(slipped.id) in {r.article_id for r in found.refs}
    site.reset_log()
    run(server, memory)  # and not again before another 6 h
    assert [h.path for h in site.hits] == ["/xay-dung-dang"]


def test_max_pages_bounds_the_walk(server: SiteServer, site: FixtureSite) -> None:
    found = run(server, Memory(), max_pages=2)
    assert found.count("fetched") == 2 and len(found.refs) == 28


def test_a_failed_page_keeps_what_the_earlier_pages_gave(server: SiteServer,
                                                         site: FixtureSite) -> None:
    site.fault("/xay-dung-dang/trang-2", Fault("status", status=500), times=None)
    found = run(server, Memory())
    assert len(found.refs) == 14
    assert [p.status for p in found.pages] == ["fetched", "failed"]
    assert "HTTP 500" in (found.pages[1].error or "")


def test_a_blocked_listing_is_reported_as_blocked(server: SiteServer, site: FixtureSite) -> None:
    site.fault("/xay-dung-dang", Fault("block", status=403))
    found = run(server, Memory())
    assert [p.status for p in found.pages] == ["blocked"] and found.refs == ()


def test_a_sitemap_source_is_read_through_its_index(server: SiteServer,
                                                    site: FixtureSite) -> None:
    index = (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
             f'sitemap/0.9"><sitemap><loc>{server.url("/s1.xml")}</loc>'
             f"<lastmod>2025-12-08</lastmod></sitemap></sitemapindex>").encode()
    urls = "".join(f"<url><loc>{server.url(a.path)}</loc><lastmod>2025-12-08T10:05:00+07:00"
                   f"</lastmod></url>" for a in site.articles[:5])
    child = (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
             ).encode()
    site.fault("/sitemap.xml", Fault("body", content=index, content_type="application/xml"))
    site.fault("/s1.xml", Fault("body", content=child, content_type="text/xml"))
    found = run(server, Memory(), kind="sitemap", path="/sitemap.xml")
    assert len(found.refs) == 5
    assert found.refs[0].lastmod == datetime(2025, 12, 8, 3, 5, tzinfo=UTC)


# --- sitemaps and feeds (pure) ------------------------------------------------------------


def test_a_sitemap_gives_article_refs_with_lastmod_and_news_fields() -> None:
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://kinhtedothi.vn/hoan-thien-the-che-bo-may-moi.704067.html</loc>
       <lastmod>2025-12-08T10:05:00+07:00</lastmod>
       <news:news><news:publication_date>2025-12-08T10:00:00+07:00</news:publication_date>
       <news:title>Ho\xc3\xa0n thi\xe1\xbb\x87n th\xe1\xbb\x83 ch\xe1\xba\xbf</news:title>
       </news:news></url>
  <url><loc>https://kinhtedothi.vn/xay-dung-dang</loc></url>
  <url><loc>https://other.example/hoan-thien-the-che-bo-may-moi.704068.html</loc></url>
</urlset>"""
    summary = parse_sitemap(xml, "sm", HOSTS)
    [ref] = summary.refs
    assert ref.article_id == "704067" and ref.title == "Hoàn thiện thể chế"
    assert ref.lastmod == datetime(2025, 12, 8, 3, 5, tzinfo=UTC)
    assert ref.published_at == datetime(2025, 12, 8, 3, 0, tzinfo=UTC)


def test_a_sitemap_index_lists_its_newest_children_first() -> None:
    xml = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://kinhtedothi.vn/sitemap-2025-11.xml</loc><lastmod>2025-11-30</lastmod></sitemap>
  <sitemap><loc>https://kinhtedothi.vn/sitemap-2025-12.xml</loc><lastmod>2025-12-08</lastmod></sitemap>
</sitemapindex>"""
    assert parse_sitemap(xml, "sm", HOSTS).next_pages == (
        "https://kinhtedothi.vn/sitemap-2025-12.xml", "https://kinhtedothi.vn/sitemap-2025-11.xml")


def test_rss_items_become_refs() -> None:
    xml = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>KTDT</title>
<item><title>B\xc3\xa0i m\xe1\xbb\x99t</title>
<link>https://kinhtedothi.vn/bai-mot-ve-sap-xep.704100.html?utm_source=rss</link>
<pubDate>Mon, 08 Dec 2025 10:05:00 +0700</pubDate></item>
</channel></rss>"""
    [ref] = parse_feed(xml, "rss", HOSTS).refs
    assert ref.url == "https://kinhtedothi.vn/bai-mot-ve-sap-xep.704100.html"
    assert ref.title == "Bài một"
    assert ref.published_at == datetime(2025, 12, 8, 3, 5, tzinfo=UTC)


def test_atom_entries_become_refs() -> None:
    xml = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>KTDT</title>
<entry><title>Hai</title><link rel="alternate" href="https://www.kinhtedothi.vn/bai-hai-ve-tinh-gon.704101.html"/>
<published>2025-12-08T10:05:00+07:00</published><updated>2025-12-08T11:00:00+07:00</updated></entry>
</feed>"""
    [ref] = parse_feed(xml, "atom", HOSTS).refs
    assert ref.article_id == "704101" and ref.url.startswith("https://kinhtedothi.vn/")
    assert ref.lastmod == datetime(2025, 12, 8, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    b"<urlset><url><loc>&lol2;</loc></url></urlset>",
    b'<!DOCTYPE urlset SYSTEM "http://evil.example/x.dtd"><urlset/>',
])
def test_xml_with_doctype_or_entities_is_refused(xml: bytes) -> None:
    with pytest.raises(ExtractError, match="DOCTYPE or ENTITY"):
        parse_sitemap(xml, "sm", HOSTS)


def test_html_where_xml_was_expected_is_a_clear_error() -> None:
    with pytest.raises(ExtractError, match="not well-formed XML"):
        parse_feed(b"<html><body><p>Trang chu<br></body></html>", "rss", HOSTS)


def test_a_summary_survives_its_json_round_trip() -> None:
    xml = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
           b"https://kinhtedothi.vn/a-b-c-d.704067.html</loc><lastmod>2025-12-08</lastmod>"
           b"</url></urlset>")
    summary = parse_sitemap(xml, "sm", HOSTS)
    assert PageSummary.from_json(summary.to_json(), "sm") == summary
