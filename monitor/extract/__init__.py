"""Pure extraction: page text or bytes and its URL in, an ``Article`` or ``Listing`` out.

No I/O happens here. The site profile is tried first; when it cannot find a title and a body of
plausible length, the generic extractor takes over and the result says ``extractor="generic"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from monitor.models import Article, Listing


def extract_article(
    html: bytes | str,
    url: str,
    *,
    selectors: Mapping[str, Sequence[str]] | None = None,
    header_charset: str | None = None,
    force_generic: bool = False,
) -> Article:
    """The article of a page. Never raises on page content; raises NotAnArticle when none."""
    from monitor.extract.article import extract

    return extract(html, url, selectors=selectors, header_charset=header_charset,
                   force_generic=force_generic)


def extract_listing(
    html: bytes | str,
    url: str,
    *,
    hosts: tuple[str, ...] | None = None,
    header_charset: str | None = None,
    now: datetime | None = None,
) -> Listing:
    """The article links of a section page, in page order, and the next page's URL."""
    from monitor.extract.listing import extract

    return extract(html, url, hosts=hosts, header_charset=header_charset, now=now)


__all__ = ["extract_article", "extract_listing"]
