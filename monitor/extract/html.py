"""Bytes to a parsed tree: the one place a page is decoded and parsed.

Charset order, as browsers do for a served page: the HTTP header's charset, then a BOM, then the
page's own ``<meta charset>`` / ``http-equiv``, then UTF-8 with replacement characters. One
exception to the meta: a page that declares a legacy charset but is valid UTF-8 is UTF-8 (a
stale template declaration; legacy Vietnamese bytes are practically never valid UTF-8). A page is
never refused for its encoding.

Lexbor is handed UTF-8 bytes: parsing from ``str`` costs it a second conversion (measured 1.8 vs
3.1 ms a page on the evaluation set), so a UTF-8 page is never decoded here at all. The whole
document is not NFC-normalised either (1.3 ms a page): every text value leaves extraction through
``text.clean``, which normalises it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

# The bytes a page may carry; anything longer is cut here, before parsing, so that one huge page
# cannot stall a run. Fetch applies its own, smaller limit.
MAX_HTML_BYTES = 20_000_000

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
# Lexbor's tree building is quadratic in nesting depth (50,000 nested <div> take seconds), so a
# hostile page could stall a run. Real pages nest < 200 deep; only pages with very many tags are
# scanned (the scan costs as much as a parse), and cut where they pass MAX_DEPTH.
MAX_DEPTH = 2_000
_SCAN_ABOVE_TAGS = 20_000
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_VOID = frozenset(
    b"area base br col embed hr img input link meta source track wbr param keygen".split()
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
        if found.startswith("utf-16") or found == "utf-8" or _is_utf8(data):
            return "utf-8"
        return found
    return "utf-8"


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return False  # pure ASCII reads the same in any declared charset
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes | str, header_charset: str | None = None) -> tuple[bytes, str | None]:
    """The page as UTF-8 bytes, what Lexbor parses fastest, at most MAX_HTML_BYTES; and a warning
    when the declared charset was wrong and another one was used.

    A page declared (or defaulted) UTF-8 whose bytes are mostly not UTF-8 is read in the charset
    its meta names, else windows-1258 (the legacy Vietnamese code page), when that decodes it
    without a replacement: garbled text stored silently would match no topic and read as noise.
    """
    warning = None
    if isinstance(data, str):
        raw = data.removeprefix("\ufeff").encode("utf-8", errors="replace")
    else:
        codec = sniff_charset(data, header_charset)
        if codec == "utf-8" and (legacy := _legacy(data)) is not None:
            codec = legacy
            warning = (f"declared {header_charset or 'utf-8'} but not UTF-8; read as {codec}, "
                       "which decodes it cleanly")
        if codec == "utf-8":
            raw = data.removeprefix(codecs.BOM_UTF8)  # Lexbor replaces bad sequences itself
        else:
            text = data.decode(codec, errors="replace").removeprefix("\ufeff")
            raw = text.encode("utf-8", errors="replace")
    return raw[:MAX_HTML_BYTES], warning


def _legacy(data: bytes) -> str | None:
    """The legacy charset that reads ``data`` cleanly, if its bytes are mostly not UTF-8."""
    if data.isascii():
        return None
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    # A stray bad byte in a UTF-8 page (a cut multi-byte character) is no reason to re-read
    # the whole page: only when invalid sequences outnumber the valid non-ASCII characters.
    if bad == 0 or bad < sum(1 for c in text if ord(c) > 127) - bad:
        return None
    m = _META_CHARSET.search(data[:4096])
    meta = _codec(m.group(1).decode("ascii", "replace")) if m else None
    for codec in dict.fromkeys(c for c in (meta, "cp1258") if c and c != "utf-8"):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return codec
    return None


def limit_depth(raw: bytes) -> tuple[bytes, str | None]:
    """The page cut where element nesting passes MAX_DEPTH, and a warning if it was cut."""
    if raw.count(b"<") < _SCAN_ABOVE_TAGS:
        return raw, None
    depth = 0
    for m in _TAG.finditer(raw):
        if m.group(1):
            depth = max(0, depth - 1)
        elif m.group(2).lower() not in _VOID:
            depth += 1
            if depth > MAX_DEPTH:
                return raw[: m.start()], f"page nested deeper than {MAX_DEPTH} elements; cut there"
    return raw, None


def parse_page(
    data: bytes | str, header_charset: str | None = None
) -> tuple[LexborHTMLParser, tuple[str, ...]]:
    """Decode and parse, with the warnings met on the way (a page cut for its nesting)."""
    decoded, charset_warning = decode(data, header_charset)
    raw, warning = limit_depth(decoded)
    return LexborHTMLParser(raw), tuple(w for w in (charset_warning, warning) if w)


def parse(data: bytes | str, header_charset: str | None = None) -> LexborHTMLParser:
    """Decode and parse; Lexbor repairs truncated and malformed markup as browsers do."""
    return parse_page(data, header_charset)[0]


def is_inside(node: LexborNode, root: LexborNode) -> bool:
    """Whether ``node`` is ``root`` or below it (a removed node no longer is)."""
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == root.mem_id:
            return True
        current = current.parent
    return False


def climb(
    start: LexborNode | None, memo: dict[int, bool], judge: Callable[[LexborNode], bool | None]
) -> bool:
    """A verdict on ``start`` and its ancestors, walking up without recursion: the first node
    that ``judge`` decides (True or False) or that ``memo`` already holds gives it, and the top
    of the tree without one gives False. Every node passed on the way is memoised with the
    verdict, so over many starts on one page each ancestor is judged once."""
    chain: list[int] = []
    node = start
    verdict = False
    while node is not None:
        key = node.mem_id
        if key in memo:
            verdict = memo[key]
            break
        chain.append(key)
        decided = judge(node)
        if decided is not None:
            verdict = decided
            break
        node = node.parent
    for key in chain:
        memo[key] = verdict
    return verdict
