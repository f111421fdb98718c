"""The only module that speaks HTTP: one polite ``httpx.AsyncClient`` for a whole run.

``Fetcher.get(url)`` returns a ``Response`` value (the body as bytes; never parsed here) or raises
one of the ``FetchError`` family (see ``monitor/errors.py``). What it does on the way:

- politeness: an identifying User-Agent; per host, a minimum delay between two request starts
  plus random jitter (raised to robots.txt's ``Crawl-delay`` when that is longer); a cap on the
  requests in flight; robots.txt read, cached and obeyed (``fetch_policy``);
- conditional GET: the caller's ETag / Last-Modified go out as If-None-Match / If-Modified-Since
  and a 304 comes back as ``Response.not_modified``;
- retries with exponential backoff and jitter on connect errors, timeouts, broken bodies, 429 and
  5xx, honouring Retry-After, bounded by ``[fetch] retries`` and ``max_retry_seconds``;
- limits: timeouts, ``max_bytes`` enforced while the body streams in, content type checked;
- redirects followed by hand, one hop at a time, each checked like the first URL;
- a challenge or block page is ``BlockedError`` whatever its status (a 403/429/503 with a captcha
  or challenge marker; a 200 with a challenge header, a challenge-only marker, or a challenge
  title on a page too small to be an article: ``fetch_response.challenge``), and the host is not
  asked again during the run, requests already queued included: a site that is pushing back
  must not be pushed harder.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.config import Config, FetchConfig, SiteConfig
from monitor.errors import (
    BlockedError,
    FetchError,
    RobotsDisallowed,
    TooLarge,
)
from monitor.fetch_policy import (
    ALLOW_ALL,
    DISALLOW_ALL,
    ROBOTS_MAX_BYTES,
    HostGuard,
    MemoryRobots,
    Resolver,
    Robots,
    RobotsMemory,
    origin_of,
)
from monitor.fetch_response import (
    SNIFF_BYTES,
    Accept,
    FetchStats,
    Response,
    Validators,
    challenge,
    check_type,
    media_type,
    read_capped,
    retry_after,
    to_response,
)

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_ACCEPT_HEADER = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "xml": "application/xml,text/xml,application/rss+xml,application/atom+xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


@dataclass(frozen=True, slots=True)
class _Final:
    """A status that is neither success nor worth retrying (404, 410, 403 without challenge)."""

    status: int
    reason: str


@dataclass(slots=True)
class _Host:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    crawl_delay: float = 0.0


Sleep = Callable[[float], Awaitable[None]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Fetcher:
    """Use as ``async with Fetcher(site, fetch) as fetcher: await fetcher.get(url)``."""

    def __init__(
        self,
        site: SiteConfig,
        config: FetchConfig,
        *,
        robots: RobotsMemory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.stats = FetchStats()
        self._guard = HostGuard(
            site.allowed_hosts,
            # A test transport opens no socket, so there is no address to guard.
            resolver if resolver is not None or transport is not None else system_resolver,
        )
        self._robots_memory = robots if robots is not None else MemoryRobots()
        self._robots: dict[str, Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._hosts: dict[str, _Host] = {}
        self._blocked: dict[str, str] = {}
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(config.timeout_seconds),
            headers={"User-Agent": config.user_agent},
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- the public call ------------------------------------------------------------------

    async def get(self, url: str, *, accept: Accept = "html",
                  validators: Validators | None = None) -> Response:
        """GET ``url`` politely; a 2xx or 304 ``Response``, else a ``FetchError``."""
        result = await self._follow(url, accept, validators, obey_robots=accept != "robots")
        if isinstance(result, _Final):
            raise FetchError(f"HTTP {result.status} {result.reason}", url=url,
                             status=result.status,
                             hint="the page is gone or forbidden; it is tried again in a day")
        return result

    # --- redirects, retries ----------------------------------------------------------------

    async def _follow(self, url: str, accept: Accept, validators: Validators | None,
                      *, obey_robots: bool) -> Response | _Final:
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            host = self._guard.check_host(current)
            self._stop_if_blocked(current, host)
            await self._guard.check_address(current)
            if obey_robots:
                await self._check_robots(current)
            result = await self._retrying(current, host, accept,
                                          validators if hop == 0 else None)
            if not isinstance(result, _Redirect):
                if isinstance(result, Response) and current != url:
                    return replace(result, url=url, final_url=current)
                return result
            log.debug("redirect %s -> %s", current, result.location)
            current = result.location
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url,
                         hint="open the URL in a browser to see where it leads")

    async def _retrying(self, url: str, host: str, accept: Accept,
                        validators: Validators | None) -> Response | _Redirect | _Final:
        deadline = time.monotonic() + self.config.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._attempt(url, host, accept, validators)
            except _Retry as exc:
                delay = self._backoff(attempt, exc.retry_after)
                if attempt > self.config.retries:
                    raise FetchError(f"{exc.reason}, after {attempt} attempts", url=url,
                                     hint="it is tried again on the next run") from None
                if time.monotonic() + delay > deadline:
                    raise FetchError(
                        f"{exc.reason}; the next try ({delay:.1f} s away) would exceed "
                        f"max_retry_seconds ({self.config.max_retry_seconds:g})", url=url,
                        hint="it is tried again on the next run") from None
                log.info("retrying %s in %.2f s: %s", url, delay, exc.reason)
                self.stats.retries += 1
                await self._sleep(delay)
                continue
            if isinstance(result, Response) and attempt > 1:
                return replace(result, attempts=attempt)
            return result

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = self.config.backoff_seconds * 2.0 ** (attempt - 1)
        # "Equal jitter": half fixed, half random, so clients that failed together spread out.
        delay = base / 2 + self._rng.uniform(0, base / 2)
        return max(delay, retry_after or 0.0)

    # --- one request ----------------------------------------------------------------------

    async def _attempt(self, url: str, host: str, accept: Accept,
                       validators: Validators | None) -> Response | _Redirect | _Final:
        headers = {"Accept": _ACCEPT_HEADER[accept]}
        if validators:
            headers.update(validators.headers())
        self._stop_if_blocked(url, host)
        async with self._slots:
            # Checked again after each wait: a request queued behind the one that met the
            # block must not go out.
            self._stop_if_blocked(url, host)
            await self._polite(host)
            self._stop_if_blocked(url, host)
            self.stats.requests += 1
            try:
                # httpx's timeout bounds each read; this bounds a body that trickles in.
                async with asyncio.timeout(self.config.timeout_seconds * 3):
                    return await self._send(url, host, accept, headers)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise _Retry(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _Retry(f"connection failed: {type(exc).__name__}: {exc}") from exc
            except httpx.DecodingError as exc:
                raise FetchError(f"the body could not be decoded: {exc}", url=url) from exc

    async def _send(self, url: str, host: str, accept: Accept,
                    headers: dict[str, str]) -> Response | _Redirect | _Final:
        async with self._client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            try:
                return await self._read(url, host, accept, resp)
            finally:
                self.stats.bytes += resp.num_bytes_downloaded

    async def _read(self, url: str, host: str, accept: Accept,
                    resp: httpx.Response) -> Response | _Redirect | _Final:
        status = resp.status_code
        if status in (301, 302, 303, 307, 308) and "location" in resp.headers:
            return _Redirect(urljoin(url, resp.headers["location"]))
        if status == 304:
            self.stats.not_modified += 1
            return to_response(url, resp, b"")
        if status in (403, 429, 503):
            sniff = await read_capped(resp, SNIFF_BYTES, url, refuse=False)
            self._check_challenge(url, host, challenge(status, resp.headers, sniff))
        if status in _RETRY_STATUSES:
            raise _Retry(f"HTTP {status}", retry_after(resp.headers.get("retry-after")))
        if not 200 <= status < 300:
            return _Final(status, resp.reason_phrase)
        check_type(url, accept, media_type(resp))
        declared = resp.headers.get("content-length", "")
        limit = ROBOTS_MAX_BYTES if accept == "robots" else self.config.max_bytes
        if accept != "robots" and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"the body is {int(declared):,} bytes, over max_bytes ({limit:,})",
                           url=url, hint="raise [fetch] max_bytes if the page is genuine")
        body = await read_capped(resp, limit, url, refuse=accept != "robots")
        if accept != "robots":
            self._check_challenge(url, host, challenge(status, resp.headers, body))
        return to_response(url, resp, body)

    def _check_challenge(self, url: str, host: str, reason: str | None) -> None:
        if reason is None:
            return
        self._blocked[host] = reason
        raise BlockedError(
            f"the site answered {reason}", url=url,
            hint="the site is blocking automated requests; slow down [fetch] or ask the site "
            "for access; no request goes to this host until the next run")

    def _stop_if_blocked(self, url: str, host: str) -> None:
        if host in self._blocked:
            raise BlockedError(f"{host} blocked an earlier request of this run "
                               f"({self._blocked[host]}); not asked again", url=url)

    async def _polite(self, host: str) -> None:
        """Wait until this host may get its next request (delay counted between starts)."""
        state = self._hosts.setdefault(host, _Host())
        async with state.lock:
            wait = state.next_start - time.monotonic()
            if wait > 0:
                await self._sleep(wait)
            gap = max(self.config.min_delay_seconds, state.crawl_delay)
            jitter = self._rng.uniform(0, self.config.jitter_seconds)
            state.next_start = time.monotonic() + gap + jitter

    # --- robots.txt -----------------------------------------------------------------------

    async def _check_robots(self, url: str) -> None:
        robots = await self._robots_for(origin_of(url))
        if not robots.allowed(url):
            raise RobotsDisallowed(
                f"robots.txt of {origin_of(url)} disallows {urlsplit(url).path}", url=url,
                hint="the site asks crawlers not to fetch it; it is not fetched")

    async def _robots_for(self, origin: str) -> Robots:
        if origin in self._robots:
            return self._robots[origin]
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        return self._robots[origin]

    async def _load_robots(self, origin: str) -> Robots:
        ua = self.config.user_agent
        text = self._robots_memory.load_robots(origin)
        if text is None:
            text, keep = await self._fetch_robots(origin)
            if keep:
                self._robots_memory.save_robots(origin, text)
        robots = Robots(text, ua)
        if (delay := robots.crawl_delay()) is not None:
            host = urlsplit(origin).hostname or ""
            self._hosts.setdefault(host, _Host()).crawl_delay = delay
            log.info("robots.txt of %s asks for %.1f s between requests", origin, delay)
        return robots

    async def _fetch_robots(self, origin: str) -> tuple[str, bool]:
        """The text to obey, and whether it may be remembered across runs."""
        try:
            result = await self._follow(f"{origin}/robots.txt", "robots", None, obey_robots=False)
        except BlockedError:
            raise
        except FetchError as exc:
            log.warning("robots.txt of %s unreachable (%s): fetching nothing there this run",
                        origin, exc)
            return DISALLOW_ALL, False
        if isinstance(result, _Final):
            # RFC 9309: a 4xx robots.txt means there are no rules.
            return ALLOW_ALL, True
        return result.body.decode("utf-8", errors="replace"), True


def fetch_page(url: str, config: Config, *, accept: Accept = "html") -> Response:
    """One polite GET outside a run (``monitor inspect URL``, ``monitor check --network``)."""

    async def one() -> Response:
        async with Fetcher(config.site, config.fetch) as fetcher:
            return await fetcher.get(url, accept=accept)

    return asyncio.run(one())


__all__ = ["Accept", "FetchStats", "Fetcher", "Response", "Validators", "fetch_page",
           "system_resolver"]
