"""Article URLs: canonical form and identity.

An article is identified by its canonical URL and, where the URL carries one, its numeric id, so
that reordering, paging, tracking parameters and http/https or www variants never make an old
article look new. The site has used three URL shapes (../shared/reference/README.md):

- current (vPress, since 2025): ``/<slug>.<id>.html``
- 2022 to early 2025:           ``/<slug>.html``
- up to 2021:                   ``/<slug>-<id>.html``
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

_CURRENT = re.compile(r"^/(?:[\w-]+/)*(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)+)\.(?P<id>\d{4,})\.html?$")
_OLDEST = re.compile(r"^/(?:[\w-]+/)*(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)+)-(?P<id>\d{4,})\.html?$")
# A slug of several words; a bare section name ("/xay-dung-dang.html") has too few to be one.
_MIDDLE = re.compile(r"^/(?:[\w-]+/)*(?P<slug>[a-z0-9]+(?:-[a-z0-9]+){3,})\.html?$")
# Tag, topic, author and search pages have article-like slugs but list articles.
_NOT_ARTICLES = re.compile(
    r"^/(?:tags?|chu-de|tu-khoa|topics?|tim-kiem|search|tac-gia|authors?|su-kien|events?)(?:/|$)"
)


def bare_host(host: str) -> str:
    """A host name the way sites are compared here: lower case, without ``www.``."""
    return host.lower().removeprefix("www.")


def host_of(url: str) -> str:
    """The bare host of a URL (``bare_host``); "" when it has none or cannot be parsed."""
    try:
        return bare_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def canonicalize(url: str, base: str | None = None) -> str | None:
    """Absolute https URL without query, fragment or ``www.``; None if not http(s)."""
    try:
        absolute = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = bare_host(parts.hostname)
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    # Local test servers speak plain http; only public hosts are upgraded to https.
    scheme = "http" if parts.hostname in ("127.0.0.1", "localhost") else "https"
    return urlunsplit((scheme, host, path, "", ""))


def article_id(url: str) -> str | None:
    """The identity of an article URL: its numeric id, else its slug; None if not an article."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if _NOT_ARTICLES.match(path):
        return None
    for pattern in (_CURRENT, _OLDEST):
        m = pattern.match(path)
        if m:
            return m.group("id")
    m = _MIDDLE.match(path)
    return m.group("slug") if m else None
