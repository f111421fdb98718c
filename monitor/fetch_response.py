"""What an HTTP answer becomes: the ``Response`` value and the checks made while reading it.

Split from ``fetch.py`` (which decides when and whether to ask); nothing here sends a request.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from monitor.errors import BadContentType, TooLarge
from monitor.extract.page import readable_len

Accept = Literal["html", "xml", "robots"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
XML_TYPES = frozenset({"application/xml", "text/xml", "application/rss+xml",
                       "application/atom+xml", "application/rdf+xml"})
# Words of the pages CDNs and anti-bot services answer with instead of the site. On a refusal
# (403, 429, 503) any of them is enough.
CHALLENGE_MARKERS = (
    b"captcha", b"cf-challenge", b"challenge-platform", b"cf-browser-verification",
    b"cf_chl_", b"just a moment", b"attention required", b"ddos-guard", b"ddos protection",
    b"access denied", b"are you a robot", b"verify you are human", b"bot verification",
)
# On a 200 they must be specific: an article may mention a captcha, and Cloudflare injects its
# challenge-platform script into ordinary pages. These occur only on the challenge pages.
CHALLENGE_ONLY_MARKERS = (
    b"cf_chl_opt", b"cf-browser-verification", b"captcha-delivery.com", b"px-captcha",
    b"sgcaptcha", b"cf-error-details", b"sucuri_cloudproxy_js", b"incapsula incident id",
)
# Their titles (lower case, as the page starts); trusted on a small page only, where no article
# with such a headline would fit.
CHALLENGE_TITLES = (
    "just a moment", "attention required", "access denied", "ddos-guard", "please wait",
    "checking your browser", "verifying you are human", "verify you are human", "security check",
    "captcha", "are you a robot", "pardon our interruption", "request rejected",
    "bot verification", "one more step", "you have been blocked", "sucuri website firewall",
    "web page blocked", "site blocked",
)
CHALLENGE_PAGE_MAX = 48 * 1024
CHALLENGE_TEXT_MAX = 1500  # bytes of readable text: a wall says a sentence or two, not an article
# Headers the services set on the challenge itself, whatever its status.
CHALLENGE_HEADERS = {"cf-mitigated": (), "x-amzn-waf-action": ("captcha", "challenge", "block")}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.S | re.I)
# How much of a body is looked at for challenge markers (of a refused one, all that is read).
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Validators:
    """What makes a GET conditional: the previous answer's ETag and Last-Modified."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        found = {}
        if self.etag:
            found["If-None-Match"] = self.etag
        if self.last_modified:
            found["If-Modified-Since"] = self.last_modified
        return found


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # as asked for
    final_url: str  # after redirects
    status: int  # a 2xx, or 304
    body: bytes = b""
    content_type: str = ""  # media type, lower case, without parameters
    charset: str | None = None  # from the Content-Type header only
    etag: str | None = None
    last_modified: str | None = None
    attempts: int = 1
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified)

    @property
    def content(self) -> bytes:
        """The body, under httpx's name for it."""
        return self.body


@dataclass(slots=True)
class FetchStats:
    """Counters over the fetcher's life: every request sent, retries and robots.txt included."""

    requests: int = 0
    bytes: int = 0
    not_modified: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def media_type(resp: httpx.Response) -> str:
    return str(resp.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def check_type(url: str, accept: Accept, media: str) -> None:
    if accept == "robots" or not media:
        # A missing Content-Type is the server's omission, not a sign of a wrong resource.
        return
    ok = media in HTML_TYPES if accept == "html" else (
        media in XML_TYPES or media.endswith("+xml") or media == "text/plain")
    if not ok:
        raise BadContentType(f"content type {media!r} where {accept.upper()} was expected",
                             url=url, hint="the URL does not point at a page of the site")


async def read_capped(resp: httpx.Response, limit: int, url: str, *, refuse: bool) -> bytes:
    """The body, read as it streams in; past ``limit`` bytes: TooLarge, or the first ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if refuse:
                raise TooLarge(f"the body exceeds max_bytes ({limit:,}) and was cut off",
                               url=url, hint="raise [fetch] max_bytes if the page is genuine")
            break
    return b"".join(chunks)[:limit]


def to_response(url: str, resp: httpx.Response, body: bytes) -> Response:
    return Response(
        url=url, final_url=url, status=resp.status_code, body=body,
        content_type=media_type(resp), charset=resp.charset_encoding,
        etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"),
    )


def challenge(status: int, headers: httpx.Headers, body: bytes) -> str | None:
    """Why this answer is an anti-bot wall rather than the site's page, or None.

    ``body`` may be the first bytes only. A refusal (403, 429, 503) needs one of the broad
    markers; a success needs a challenge header, a marker found only on challenge pages, or a
    challenge title on a page too small to be an article.
    """
    for name, values in CHALLENGE_HEADERS.items():
        value = headers.get(name, "").strip().lower()
        if value and (not values or value in values):
            return f"HTTP {status} with {name}: {value}"
    sniff = body[:SNIFF_BYTES].lower()
    if status in (403, 429, 503):
        marker = next((m for m in CHALLENGE_MARKERS if m in sniff), None)
        if marker is not None:
            return f"HTTP {status} with a challenge page ({marker.decode()!r})"
        return None
    marker = next((m for m in CHALLENGE_ONLY_MARKERS if m in sniff), None)
    if marker is not None:
        return f"HTTP {status} with a challenge page ({marker.decode()!r})"
    found = _TITLE.search(sniff)
    if found and len(body) <= CHALLENGE_PAGE_MAX and readable_len(sniff) <= CHALLENGE_TEXT_MAX:
        title = " ".join(found.group(1).decode("utf-8", "replace").split())
        if title.startswith(CHALLENGE_TITLES):
            return f"HTTP {status} with a challenge page titled {title[:60]!r}"
    return None


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
