"""The generic main-content extractor: the article of any news page, without a site profile.

The site profile falls back to it when its selectors miss (after a redesign, or on the first day
against markup nobody has seen), and ``monitor inspect --generic`` forces it. Pure, no I/O.

How a page is read (each step in ``generic_dom``/``generic_clean``, after one selection in
``generic_select``; the words it judges by in ``generic_rules``):

1. prune what is never the article: scripts and other invisible tags, ``nav``/``aside``/
   ``footer``/forms and their ARIA roles, hidden parts (a hidden microdata copy of the body
   too), and parts whose class or id names boilerplate (comments, related, share, newsletter,
   cookie, disclaimer, ... in several languages);
2. choose the container: every paragraph of some length (a line of text written with ``<br>``
   too) scores its parent and, less, two more ancestors, on its length and commas, less its
   links; legal and disclosure text votes little; class words and ``itemprop=articleBody`` weigh
   in; the article split over sibling parts is joined. A class word marks a box only on its
   evidence: a part holding most of the page's prose is the article's wrapper, whatever its
   class says ("layout-with-sidebar", "post-body-readmore");
3. clean the container: captions are taken out, boxes under a boilerplate heading ("Related",
   "Đọc nhiều", ...) and link lists are dropped (a heading takes its own box, never the
   article's wrapper);
4. read it as blocks, drop stray lines (share buttons, bylines, the title again, a disclosure,
   a second copy of the text), find the lead (a lead-named part, the meta description, or a
   "Site - " dateline) and judge a confidence.

Every drop is recorded with its reason in ``Article.removed``, for ``monitor inspect``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.generic_clean import Block, clean_container, read_blocks
from monitor.extract.generic_dom import (
    Work,
    choose_container,
    find_leads,
    link_len,
    node_text,
    prune,
    prune_boxes,
)
from monitor.extract.generic_rules import (
    is_box_heading,
    is_call_to_action,
    is_junk_line,
    is_legal,
)
from monitor.extract.generic_select import select_parts
from monitor.extract.html import is_inside, parse
from monitor.extract.meta import PageMeta, read_meta
from monitor.extract.text import clean, fold, fold_ascii, parse_datetime, snippet
from monitor.extract.urls import canonicalize, host_of
from monitor.models import Article, Removed

log = logging.getLogger(__name__)

_BYLINE = re.compile(
    r"^(?:by|written by|posted by|words by|story by|reporting by|von|par|por|"
    r"tác giả|bài và ảnh|bài, ảnh|ảnh)\s*:?\s+\S", re.IGNORECASE
)
_DATELINE = re.compile(r"^\(?\s*(?P<name>[^\s()\-–—:][^()\-–—:]{1,30}?)\s*\)?\s*[-–—:]\s+")
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·»]\s+|\s*::\s*")
_COMPACT = re.compile(r"[^a-z0-9]")
# Two to five capitalised words, no digits, no sentence end: a name signing the article.
_SIGNATURE = re.compile(r"^(?=.{3,40}$)(?:[^\W\d_a-zđ][^\s\d]*\s+){1,4}[^\W\d_a-zđ][^\s\d.!?:]*$")
_COPY_RUN, _COPY_CHARS = 3, 200  # what a copy of the article's text is at least
_COPY_STARTS = 4  # the first places of a repeated text where a copied run may start
_TIME_SELECTOR = ("time, [class*=publish], [class*=date], [class*=time], [itemprop=datePublished], "
                  "[class*=ngay]")


def extract_generic_html(html: bytes | str, url: str) -> Article:
    """Parse a page and extract its article (see ``extract_generic``). Never raises."""
    try:
        tree = parse(html)
    except Exception as exc:
        log.warning("%s: page could not be parsed: %s", url, exc)
        return _failed(url, f"page could not be parsed: {type(exc).__name__}")
    return extract_generic(tree, url)


def extract_generic(tree: LexborHTMLParser, url: str) -> Article:
    """The article of a parsed page, with a confidence in [0, 1]. Never raises.

    The tree is consumed: boilerplate is removed from it in place (parse the page again to read
    it whole afterwards).
    """
    try:
        return _extract(tree, url)
    except Exception as exc:  # the contract: a page, however broken, never stops a run
        log.warning("%s: generic extraction failed: %s", url, exc, exc_info=True)
        return _failed(url, f"generic extraction failed: {type(exc).__name__}")


def _failed(url: str, why: str) -> Article:
    return Article(url=url, title="", extractor="generic", confidence=0.0, warnings=(why,))


def _extract(tree: LexborHTMLParser, url: str) -> Article:
    try:
        meta = read_meta(tree, url)
    except Exception as exc:
        log.debug("%s: metadata unreadable: %s", url, exc)
        meta = PageMeta()
    body = tree.body
    if body is None:
        return _failed(url, "the page has no body")
    # One selection over the page serves the title and the pruning (see generic_select).
    parts = select_parts(body)
    title = _title(parts.h1, meta, url)
    published = meta.published_at or _visible_time(tree)
    work = Work()
    prune(body, work, parts)
    container = choose_container(body, work)
    prune_boxes(container, work)
    work.semantic = _semantic(container)
    lead_node = _lead_node(find_leads(_scope(container)), container, tree.root)
    sapo = clean(node_text(lead_node)) if lead_node is not None else ""
    clean_container(container, work)
    blocks = _filter(read_blocks(container), title, sapo, meta.author, work)
    texts = [b.text for b in blocks]
    signature = None
    if texts and _SIGNATURE.match(texts[-1]) and len(texts) > 3 and \
            not is_call_to_action(texts[-1]):
        # A name alone on the last line ("Hà Phong") signs the article: the author, not the text.
        signature = texts.pop()
        work.removed.append(Removed(signature, "signature"))
    if not sapo and texts and (lead := _lead_from_text(texts[0], meta, url)):
        sapo, texts = lead, texts[1:]
    sapo = _strip_dateline(sapo, meta, url)
    confidence, notes = _confidence(texts, sapo, container, title, work)
    return Article(
        url=url,
        title=title,
        sapo=sapo,
        body=tuple(texts),
        captions=tuple(dict.fromkeys(work.captions)),
        author=meta.author or signature,
        published_at=published,
        tags=meta.tags,
        canonical_url=meta.canonical_url or canonicalize(url),
        image=meta.image,
        extractor="generic",
        confidence=confidence,
        removed=tuple(work.removed),
        warnings=tuple(notes),
    )


# --- title, lead, dateline -------------------------------------------------------------------


def _title(h1: list[LexborNode], meta: PageMeta, url: str) -> str:
    """The h1 that agrees with the page's declared title, else that title without the site."""
    declared = _strip_site(meta.title or "", meta, url)
    key = fold(declared)
    first = ""
    for node in h1[:5]:
        text = clean(node_text(node))
        if not 3 <= len(text) <= 300:
            continue
        if key and (fold(text) in key or key in fold(text)):
            return text
        first = first or text
    return declared or first


def _site_keys(meta: PageMeta, url: str) -> set[str]:
    keys = set()
    host = host_of(url)
    if host:
        keys.add(_COMPACT.sub("", host))
        keys.add(_COMPACT.sub("", host.split(".")[0]))
    if meta.site_name:
        keys.add(_COMPACT.sub("", fold_ascii(meta.site_name)))
    return {k for k in keys if len(k) >= 3}


def _strip_site(title: str, meta: PageMeta, url: str) -> str:
    """ "Headline | Site" -> "Headline", when the last part names the site."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    keys = _site_keys(meta, url)
    for candidate in (parts[-1], parts[0]):
        compact = _COMPACT.sub("", fold_ascii(candidate))
        if compact and any(compact in k or k in compact for k in keys):
            sep = _TITLE_SEPARATORS.search(title) if candidate is parts[0] else None
            if sep is not None:
                return title[sep.end():].strip()
            last = list(_TITLE_SEPARATORS.finditer(title))[-1]
            return title[: last.start()].strip()
    return title


def _strip_dateline(sapo: str, meta: PageMeta, url: str) -> str:
    """ "Kinhtedothi - Sáng 8/12, ..." -> "Sáng 8/12, ...": a lead that opens with the site."""
    m = _DATELINE.match(sapo)
    if m is None:
        return sapo
    compact = _COMPACT.sub("", fold_ascii(m.group("name")))
    if compact and compact in _site_keys(meta, url):
        return sapo[m.end():].strip()
    return sapo


def _scope(container: LexborNode) -> LexborNode:
    """Where a lead may sit: the container and its two nearest ancestors."""
    node = container
    for _ in range(2):
        if node.parent is None or node.parent.tag in ("html", "body"):
            break
        node = node.parent
    return node


def _lead_node(
    leads: list[LexborNode], container: LexborNode, document: LexborNode | None
) -> LexborNode | None:
    """The first lead-named part of plausible length that is not the container itself, nor in
    it, and still in the ``document`` (a removed part's nodes stay valid, detached)."""
    for node in leads:
        if node.parent is None or node.tag in ("h1", "body", "html"):
            continue
        text = clean(node_text(node))
        if not 40 <= len(text) <= 1200 or link_len(node) > 0.3 * len(text):
            continue
        if is_inside(container, node) or document is None or not is_inside(node, document):
            continue
        return node
    return None


def _lead_from_text(first: str, meta: PageMeta, url: str) -> str:
    """The first block is the lead when it opens with the site's dateline or repeats the
    page's description."""
    if _strip_dateline(first, meta, url) != first:
        return first
    description = fold(meta.description or "").rstrip(" .…")
    if len(description) >= 40:
        start = description[:120]
        key = fold(_head(first, len(start)))
        if key.startswith(start) and len(first) < 1.5 * len(description) + 20:
            return first
    return ""


def _head(text: str, size: int) -> str:
    """The start of ``text`` up to a space past ``size`` characters: folding it gives the start
    of the whole text's fold (fold, like lower case and NFC, never joins across a space)."""
    end = text.find(" ", size + 1)
    return text if end < 0 else text[:end]


# --- blocks ----------------------------------------------------------------------------------


def _filter(
    blocks: list[Block], title: str, sapo: str, author: str | None, work: Work
) -> list[Block]:
    """Drop the lines that are not the article: the title again, share buttons, bylines."""
    # casefold, not fold: an exact repeat is all that is looked for, and fold is slow on long text
    title_key, sapo_key = title.casefold(), sapo.casefold()
    author_keys = {author.casefold(), f"theo {author.casefold()}", f"by {author.casefold()}"} \
        if author else set()
    # Case folding never shortens a text: a longer block cannot be the title or lead again.
    longest = max(len(title_key), len(sapo_key))
    kept: list[Block] = []
    copies = _copies([b.text for b in blocks])
    for i, block in enumerate(blocks):
        text = block.text
        reason = ""
        if i in copies:
            reason = "a copy of the text above"
        elif len(text) <= longest and text.casefold() in (title_key, sapo_key):
            reason = "title or lead again"
        elif len(text) <= 80 and text.casefold().strip(" .") in author_keys:
            reason = "author"
        elif len(text) <= 80 and is_junk_line(text):
            reason = "stray line"
        elif len(text) <= 60 and is_box_heading(text):
            reason = f"heading '{text}'"
        elif len(text) <= 80 and (i < 4 or i >= len(blocks) - 3) and _byline_or_date(text):
            reason = "byline or date"
        elif len(text) <= 600 and (i < 2 or i >= len(blocks) - 3) and is_legal(text):
            # Where a disclosure or notice sits: before the text or after it.
            reason = "legal or disclosure text"
        if reason:
            work.removed.append(Removed(snippet(text), reason))
        else:
            kept.append(block)
    return kept


def _copies(texts: list[str]) -> set[int]:
    """The blocks that repeat a run of the blocks before them: a second copy of the article (a
    mobile or print version, a hidden duplicate) read with the first. A run is at least
    _COPY_RUN blocks in a row and _COPY_CHARS characters; a paragraph said again alone (an
    event's blurb, a training plan's warm-up) is not a copy."""
    copies: set[int] = set()
    counts = Counter(texts)
    if len(counts) == len(texts):
        return copies
    starts: dict[str, list[int]] = {}  # where each repeated text was seen first
    i = 0
    while i < len(texts):
        text = texts[i]
        if counts[text] < 2:
            i += 1
            continue
        best = 0
        for start in starts.get(text, ()):
            run = 0
            while i + run < len(texts) and start + run < i and \
                    texts[start + run] == texts[i + run]:
                run += 1
            best = max(best, run)
        if best >= _COPY_RUN and sum(len(t) for t in texts[i : i + best]) >= _COPY_CHARS:
            copies.update(range(i, i + best))
            i += best
            continue
        seen = starts.setdefault(text, [])
        if len(seen) < _COPY_STARTS:  # a line repeated thousands of times costs no more
            seen.append(i)
        i += 1
    return copies


def _byline_or_date(text: str) -> bool:
    if _BYLINE.match(text):
        return True
    value = parse_datetime(text)
    return value is not None and len(text) <= 40


def _visible_time(tree: LexborHTMLParser) -> datetime | None:
    """A publication time printed on the page, for pages whose head declares none: a <time>
    element, then a short element whose class names a date or time."""
    for node in tree.css(_TIME_SELECTOR)[:10]:
        text = node.attributes.get("datetime") or node_text(node)
        if text and len(text) <= 120 and (value := parse_datetime(text)) is not None:
            return value
    return None


# --- confidence ------------------------------------------------------------------------------


def _semantic(container: LexborNode) -> bool:
    node: LexborNode | None = container
    for _ in range(4):
        if node is None:
            break
        if node.tag in ("article", "main") or "articlebody" in str(
            node.attributes.get("itemprop") or ""
        ).lower():
            return True
        node = node.parent
    return False


def _confidence(
    texts: list[str], sapo: str, container: LexborNode, title: str, work: Work
) -> tuple[float, list[str]]:
    notes: list[str] = []
    chars = sum(len(t) for t in texts) + len(sapo)
    # Every text is clean (single spaces, no others, not empty), so its spaces count its words.
    words = sum(t.count(" ") for t in texts) + len(texts) + (sapo.count(" ") + 1 if sapo else 0)
    length = min(1.0, words / 250.0)
    share = min(1.0, chars / work.prose_chars) if work.prose_chars else 0.0
    margin = 1.0 - work.second_score / work.top_score if work.top_score > 0 else 0.0
    value = 0.1 + 0.45 * length + 0.2 * share + 0.1 * (1.0 if work.semantic else 0.4)
    value += 0.15 * max(0.0, min(1.0, margin * 2))
    if words < 80:
        notes.append(f"short body ({words} words)")
    if not title:
        notes.append("no title found")
        value -= 0.1
    if share < 0.5 and work.prose_chars > 1000:
        notes.append(f"the body holds only {share:.0%} of the page's prose")
    confidence = round(max(0.0, min(1.0, value)), 3)
    if confidence < 0.5:
        notes.append(f"low confidence ({confidence:.2f}): check the page with monitor inspect")
    return confidence, notes
