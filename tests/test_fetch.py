"""fetch.py: politeness, robots.txt, conditional GET, retries, limits, redirects, blocks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import httpx
import pytest
from support import FAST_FETCH
from support.sitesrv import Fault, FixtureSite, SiteServer

from monitor.config import FetchConfig, SiteConfig
from monitor.errors import (
    BadContentType,
    BlockedError,
    FetchError,
    HostNotAllowed,
    RobotsDisallowed,
    TooLarge,
)
from monitor.fetch import Fetcher, Response, Sleep, Validators
from monitor.fetch_policy import DISALLOW_ALL, MemoryRobots, Resolver

LOCAL = SiteConfig(allowed_hosts=("127.0.0.1",))
KINHTEDOTHI = SiteConfig(allowed_hosts=("kinhtedothi.vn",))


def fast(**changes: object) -> FetchConfig:
    return FetchConfig(**{**FAST_FETCH, **changes})  # type: ignore[arg-type]


@pytest.fixture
def site() -> FixtureSite:
    return FixtureSite(articles_count=3)


def get(server: SiteServer, path: str, *, config: FetchConfig | None = None,
        site: SiteConfig = LOCAL, accept: str = "html", validators: Validators | None = None,
        robots: MemoryRobots | None = None) -> Response:
    async def go() -> Response:
        async with Fetcher(site, config or fast(), robots=robots) as fetcher:
            return await fetcher.get(server.url(path), accept=accept,  # type: ignore[arg-type]
                                     validators=validators)

    return asyncio.run(go())


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/html"})


def mock_get(url: str, handler: Callable[[httpx.Request], httpx.Response] = _ok, *,
             site: SiteConfig = KINHTEDOTHI, config: FetchConfig | None = None,
             resolver: Resolver | None = None, sleep: Sleep = asyncio.sleep) -> Response:
    """One GET of ``url`` through a Fetcher whose network is ``handler``: for what a local
    server cannot be (a named host, a name's addresses, a slept wait)."""
    async def go() -> Response:
        async with Fetcher(site, config or fast(), transport=httpx.MockTransport(handler),
                           resolver=resolver, sleep=sleep) as fetcher:
            return await fetcher.get(url)

    return asyncio.run(go())


def article_path(site: FixtureSite) -> str:
    return site.articles[0].path


# --- success, conditional GET -------------------------------------------------------------


def test_a_page_comes_back_with_body_charset_and_validators(server: SiteServer,
                                                            site: FixtureSite) -> None:
    response = get(server, article_path(site))
    assert response.status == 200
    assert b"article-title" in response.body
    assert response.charset == "utf-8"
    assert response.content_type == "text/html"
    assert response.etag and response.last_modified


def test_the_user_agent_names_the_monitor_and_a_contact() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="", headers={"content-type": "text/html"})

    mock_get("https://kinhtedothi.vn/a-b-c-d.123456.html", handler)
    agent = seen[-1].headers["user-agent"]
    assert agent.startswith("kinhtedothi-monitor/") and "@" in agent


def test_a_conditional_get_sends_the_validators_and_a_304_means_not_modified(
        server: SiteServer, site: FixtureSite) -> None:
    first = get(server, article_path(site))
    second = get(server, article_path(site), validators=first.validators)
    assert second.not_modified and second.body == b""
    hit = site.requests_to(article_path(site))[-1]
    assert hit.conditional and hit.status == 304 and hit.sent == 0


# --- retries ------------------------------------------------------------------------------


def test_a_500_is_retried_and_the_page_still_arrives(server: SiteServer,
                                                     site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("status", status=500), times=2)
    response = get(server, article_path(site))
    assert response.status == 200 and response.attempts == 3


def test_retries_are_bounded_in_count(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("status", status=502), times=None)
    with pytest.raises(FetchError, match="after 3 attempts"):
        get(server, article_path(site), config=fast(retries=2))
    assert len(site.requests_to(article_path(site))) == 3


def test_a_timeout_is_retried(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("slow", delay=1.0), times=1)
    response = get(server, article_path(site), config=fast(timeout_seconds=0.3))
    assert response.status == 200 and response.attempts == 2


def test_a_body_cut_off_midway_is_retried(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("reset"), times=1)
    response = get(server, article_path(site))
    assert response.attempts == 2 and response.body.endswith(b"</html>")


def test_429_waits_at_least_retry_after() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "3"})
        return httpx.Response(200, text="ok", headers={"content-type": "text/html"})

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    response = mock_get("https://kinhtedothi.vn/x", handler,
                        config=fast(max_retry_seconds=10.0), sleep=fake_sleep)
    assert response.attempts == 2
    assert max(slept) >= 3.0


def test_429_with_retry_after_beyond_the_budget_gives_up_at_once(
        server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("status", status=429, retry_after="3600"), times=None)
    started = time.monotonic()
    with pytest.raises(FetchError, match="max_retry_seconds"):
        get(server, article_path(site))
    assert time.monotonic() - started < 2
    assert len(site.requests_to(article_path(site))) == 1


def test_a_real_429_with_a_short_retry_after_is_honoured(server: SiteServer,
                                                          site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("status", status=429, retry_after="1"), times=1)
    started = time.monotonic()
    response = get(server, article_path(site))
    assert response.status == 200
    assert time.monotonic() - started >= 1.0


def test_a_404_is_not_retried(server: SiteServer, site: FixtureSite) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        get(server, "/khong-co-bai-nay-dau.999999.html")
    assert len(site.requests_to("/khong-co-bai-nay-dau.999999.html")) == 1


# --- refusals -----------------------------------------------------------------------------


def test_a_redirect_to_another_host_is_refused(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("redirect", location="http://evil.example/x.html"))
    with pytest.raises(HostNotAllowed, match=r"evil\.example"):
        get(server, article_path(site))


def test_a_redirect_on_an_allowed_host_is_followed(server: SiteServer,
                                                   site: FixtureSite) -> None:
    target = site.articles[1].path
    site.fault(article_path(site), Fault("redirect", status=301, location=target))
    response = get(server, article_path(site))
    assert response.url == server.url(article_path(site))
    assert response.final_url == server.url(target)


def test_a_host_outside_allowed_hosts_is_never_asked(server: SiteServer) -> None:
    with pytest.raises(HostNotAllowed):
        get(server, "/", site=KINHTEDOTHI)


def test_a_listed_name_resolving_to_a_private_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["10.1.2.3"]

    with pytest.raises(HostNotAllowed, match=r"10\.1\.2\.3"):
        mock_get("https://kinhtedothi.vn/x", resolver=resolver)


def test_a_private_address_listed_explicitly_is_allowed() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["10.1.2.3"]

    site = SiteConfig(allowed_hosts=("intranet.test", "10.1.2.3"))
    assert mock_get("https://intranet.test/x", site=site, resolver=resolver).status == 200


def test_a_path_disallowed_by_robots_txt_is_not_fetched(server: SiteServer,
                                                        site: FixtureSite) -> None:
    site.robots = f"User-agent: *\nDisallow: /*.{site.articles[0].id}.html$\n"
    with pytest.raises(RobotsDisallowed, match="disallows"):
        get(server, article_path(site))
    assert site.requests_to(article_path(site)) == []
    # The wildcard rule matches only that article: the standard library would get this wrong.
    assert get(server, site.articles[1].path).status == 200


def test_robots_txt_is_read_once_and_kept_in_memory(server: SiteServer,
                                                    site: FixtureSite) -> None:
    memory = MemoryRobots()
    for article in site.articles:
        get(server, article.path, robots=memory)
    assert len(site.requests_to("/robots.txt")) == 1
    assert memory.texts[server.base].startswith("User-agent")


def test_an_unreachable_robots_txt_means_disallow_all_and_is_not_remembered(
        server: SiteServer, site: FixtureSite) -> None:
    site.fault("/robots.txt", Fault("status", status=500), times=None)
    memory = MemoryRobots()
    with pytest.raises(RobotsDisallowed):
        get(server, article_path(site), robots=memory)
    assert memory.texts == {}
    assert DISALLOW_ALL  # the rule RFC 9309 asks for


def test_a_missing_robots_txt_allows_everything(server: SiteServer, site: FixtureSite) -> None:
    site.fault("/robots.txt", Fault("status", status=404), times=None)
    assert get(server, article_path(site)).status == 200


class Noting(httpx.AsyncHTTPTransport):
    """A real transport that notes the path and time of each request as it leaves. The politeness
    tests measure there: arrival times at the server shrink the gaps whenever the loaded machine
    delays one."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, float]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, time.monotonic()))
        return await super().handle_async_request(request)


def test_robots_crawl_delay_slows_requests_down(server: SiteServer, site: FixtureSite) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 0.3\n"
    noting = Noting()

    async def go() -> None:
        async with Fetcher(LOCAL, fast(), transport=noting) as fetcher:
            for article in site.articles:
                await fetcher.get(server.url(article.path))

    asyncio.run(go())
    sent = [at for path, at in noting.sent if path != "/robots.txt"]
    assert len(sent) == len(site.articles) == 3
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 0.29


def test_a_declared_20_mb_body_is_refused_without_reading_it(server: SiteServer,
                                                             site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("huge", size=20_000_000, declare=True))

    async def go() -> Fetcher:
        async with Fetcher(LOCAL, fast()) as fetcher:
            with pytest.raises(TooLarge, match="20,000,000"):
                await fetcher.get(server.url(article_path(site)))
            return fetcher

    fetcher = asyncio.run(go())
    assert fetcher.stats.bytes < 2_000_000


def test_an_undeclared_20_mb_body_is_cut_off_at_max_bytes(server: SiteServer,
                                                          site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("huge", size=20_000_000, declare=False))

    async def go() -> Fetcher:
        async with Fetcher(LOCAL, fast(max_bytes=500_000)) as fetcher:
            with pytest.raises(TooLarge, match="exceeds max_bytes"):
                await fetcher.get(server.url(article_path(site)))
            return fetcher

    assert asyncio.run(go()).stats.bytes < 2_000_000


def test_a_non_html_content_type_is_refused(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("type", content_type="application/pdf"))
    with pytest.raises(BadContentType, match="application/pdf"):
        get(server, article_path(site))


def test_xml_is_accepted_where_xml_is_expected(server: SiteServer, site: FixtureSite) -> None:
    site.fault("/sitemap.xml", Fault("body", content=b"<urlset/>",
                                     content_type="application/xml"))
    assert get(server, "/sitemap.xml", accept="xml").body == b"<urlset/>"


# --- blocks -------------------------------------------------------------------------------


def test_a_challenge_page_is_blocked_and_the_host_is_left_alone(server: SiteServer,
                                                                site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("block", status=403))

    async def go() -> None:
        async with Fetcher(LOCAL, fast()) as fetcher:
            with pytest.raises(BlockedError, match="challenge"):
                await fetcher.get(server.url(article_path(site)))
            with pytest.raises(BlockedError, match="not asked again"):
                await fetcher.get(server.url(site.articles[1].path))

    asyncio.run(go())
    assert site.requests_to(site.articles[1].path) == []


def test_a_503_challenge_is_blocked_not_retried(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("block", status=503), times=None)
    with pytest.raises(BlockedError):
        get(server, article_path(site))
    assert len(site.requests_to(article_path(site))) == 1


def test_a_plain_403_is_a_failure_not_a_block(server: SiteServer, site: FixtureSite) -> None:
    site.fault(article_path(site), Fault("status", status=403))
    with pytest.raises(FetchError, match="403") as info:
        get(server, article_path(site))
    assert not isinstance(info.value, BlockedError)


# --- politeness ---------------------------------------------------------------------------


def test_requests_to_one_host_keep_the_minimum_delay(server: SiteServer,
                                                     site: FixtureSite) -> None:
    noting = Noting()  # measured where the requests leave, robots.txt included

    async def go() -> None:
        async with Fetcher(LOCAL, fast(min_delay_seconds=0.2, jitter_seconds=0.05,
                                       concurrency=4), transport=noting) as fetcher:
            await asyncio.gather(*(fetcher.get(server.url(a.path)) for a in site.articles))

    asyncio.run(go())
    sent = [at for _, at in noting.sent]
    assert len(sent) == 4 == len(site.hits)  # robots.txt and three articles
    assert min(b - a for a, b in itertools.pairwise(sorted(sent))) >= 0.19


def test_no_more_requests_in_flight_than_the_concurrency_cap(server: SiteServer,
                                                             site: FixtureSite) -> None:
    site.latency = 0.2

    async def go() -> None:
        async with Fetcher(LOCAL, fast(concurrency=1)) as fetcher:
            await asyncio.gather(*(fetcher.get(server.url(a.path)) for a in site.articles))

    started = time.monotonic()
    asyncio.run(go())
    # Four requests of 0.2 s each, one at a time.
    assert time.monotonic() - started >= 0.8


def test_a_name_that_does_not_resolve_is_a_fetch_failure() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(FetchError, match=r"cannot resolve 'kinhtedothi\.vn'"):
        mock_get("https://kinhtedothi.vn/x", resolver=resolver)
