"""Is this response a whole page? Checks on the raw bytes of an article page, before extraction.

A server may answer 200 with nothing (an empty body, a template without text) or with a page cut
off mid-document (a dropped connection behind a proxy that still sent a matching
Content-Length). Neither must become a stored article: the collect asks for them again on the
next run, and stores a page still cut on the retry with a warning.
"""

from __future__ import annotations

import re

_SCRIPTS = re.compile(rb"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
_TAGS = re.compile(rb"<[^>]*>")
_TAIL = 4096
# Below this much readable text a page holds no article (a title alone is ~60 bytes).
EMPTY_TEXT_MAX = 40


def readable_len(html: bytes) -> int:
    """Roughly how much readable text a page holds: scripts, styles and tags removed."""
    return len(b" ".join(_TAGS.sub(b" ", _SCRIPTS.sub(b" ", html)).split()))


def emptiness(html: bytes) -> str | None:
    """Why the page counts as empty, or None."""
    if not html.strip():
        return f"the page is empty ({len(html)} bytes)"
    if readable_len(html) <= EMPTY_TEXT_MAX:
        return f"the page holds no text ({len(html)} bytes)"
    return None


def truncation(html: bytes) -> str | None:
    """Why the page looks cut off mid-document, or None.

    Every page of the site, as almost every HTML page, ends with ``</body></html>``; a page whose
    end lacks both, or that ends inside a tag, was cut short on the way.
    """
    tail = html.rstrip()[-_TAIL:].lower()
    if tail.rfind(b"<") > tail.rfind(b">"):
        return "the page ends inside a tag"
    if b"</html" not in tail and b"</body" not in tail:
        return "the page ends before </body></html>"
    return None
