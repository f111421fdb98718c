"""Bytes to text to a parsed tree: the one place a page is decoded and parsed.

Charset order, as browsers do for a served page: the HTTP header's charset, then a BOM, then the
page's own ``<meta charset>`` / ``http-equiv``, then UTF-8 with replacement characters. A page is
never refused for its encoding. Everything returned is NFC.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser, LexborNode

# The bytes a page may carry; anything longer is cut here, before parsing, so that one huge page
# cannot stall a run. Fetch applies its own, smaller limit.
MAX_HTML_CHARS = 20_000_000

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
# Lexbor's tree building is quadratic in nesting depth (50,000 nested <div> take seconds), so a
# hostile page could stall a run. Real pages nest < 200 deep; only pages with very many tags are
# scanned (the scan costs as much as a parse), and cut where they pass MAX_DEPTH.
MAX_DEPTH = 2_000
_SCAN_ABOVE_TAGS = 20_000
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr param keygen".split()
)
_ALIASES = {"windows-1258": "cp1258", "x-user-defined": "cp1252", "utf8": "utf-8"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def sniff_charset(data: bytes, header_charset: str | None = None) -> str:
    """The codec to decode ``data`` with (see the module docstring for the order)."""
    if found := _codec(header_charset):
        return found
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return name
    m = _META_CHARSET.search(data[:4096])
    if m and (found := _codec(m.group(1).decode("ascii", "replace"))):
        # A page that declares UTF-16 in ASCII meta cannot be UTF-16; browsers read it as UTF-8.
        return "utf-8" if found.startswith("utf-16") else found
    return "utf-8"


def decode(data: bytes | str, header_charset: str | None = None) -> str:
    """Page bytes to NFC text; never raises on bad bytes (they become U+FFFD)."""
    if isinstance(data, str):
        text = data
    else:
        codec = sniff_charset(data, header_charset)
        text = data.decode(codec, errors="replace")
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_HTML_CHARS:
        text = text[:MAX_HTML_CHARS]
    return unicodedata.normalize("NFC", text)


def limit_depth(text: str) -> tuple[str, str | None]:
    """The text cut where element nesting passes MAX_DEPTH, and a warning if it was cut."""
    if text.count("<") < _SCAN_ABOVE_TAGS:
        return text, None
    depth = 0
    for m in _TAG.finditer(text):
        if m.group(1):
            depth = max(0, depth - 1)
        elif m.group(2).lower() not in _VOID:
            depth += 1
            if depth > MAX_DEPTH:
                return text[: m.start()], f"page nested deeper than {MAX_DEPTH} elements; cut there"
    return text, None


def parse_page(
    data: bytes | str, header_charset: str | None = None
) -> tuple[LexborHTMLParser, tuple[str, ...]]:
    """Decode and parse, with the warnings met on the way (a page cut for its nesting)."""
    text, warning = limit_depth(decode(data, header_charset))
    return LexborHTMLParser(text), (warning,) if warning else ()


def parse(data: bytes | str, header_charset: str | None = None) -> LexborHTMLParser:
    """Decode and parse; Lexbor repairs truncated and malformed markup as browsers do."""
    return parse_page(data, header_charset)[0]


def node_text(node: LexborNode) -> str:
    """The visible text of a node, block boundaries kept as spaces (cleaned by the caller)."""
    return node.text(separator=" ", strip=False) or ""
