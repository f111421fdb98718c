"""The generic extractor's work inside the chosen container: clean it, then read it as blocks.

Like ``generic_dom``, nothing here recurses in Python over the DOM, and lists are walked in reverse
document order so that a part inside a removed part is judged (and recorded) first. The
container is consumed: parts are removed from it.
"""

from __future__ import annotations

from typing import NamedTuple

from selectolax.lexbor import LexborNode

from monitor.extract.generic_dom import HEADINGS, Work, node_text, text_len
from monitor.extract.generic_rules import CAPTION_WORDS, attribute_words, is_box_heading
from monitor.extract.text import clean

BLOCK_TAGS = frozenset(
    "p h1 h2 h3 h4 h5 h6 li blockquote pre dd dt td th div section article ul ol dl table tr "
    "figure main center header address details summary caption hr".split()
)
# What a box's heading is written with: a heading tag, or an element whose class says "title".
_CLEAN_SELECTOR = ("figure, figcaption, [class*=caption], [class*=credit], [class*=legend], "
                   "h1, h2, h3, h4, h5, h6, [class*=tit], [class*=heading], [class*=tieude]")
_KIND = {"li": "li", "dd": "li", "dt": "li", "blockquote": "quote", "pre": "pre",
         "td": "cell", "th": "cell", **{h: "heading" for h in HEADINGS}}


def clean_container(root: LexborNode, work: Work) -> None:
    """Take the captions out and drop boxes, link lists and figures inside the container."""
    # One selection for captions, figures and box headings: each pass over the tree costs.
    found = root.css(_CLEAN_SELECTOR)
    headings: list[LexborNode] = []
    for node in reversed(found):
        tag = node.tag
        if tag == "figure":
            # A figure holding a table or a quote is part of the text; one holding an image and
            # a credit line is not.
            if node.css_first("table, blockquote, pre, p, ul, ol") is None and \
                    text_len(node) < 300:
                work.drop(node, "figure")
            continue
        words = attribute_words(node.attributes.get("class") or "")
        if tag == "figcaption" or CAPTION_WORDS.intersection(words):
            text = clean(node_text(node))
            if len(text) <= 600:
                if text:
                    work.captions.append(text)
                node.remove()
                continue
        if tag in HEADINGS or tag not in ("figcaption", "img"):
            headings.append(node)
    work.captions.reverse()
    for node in reversed(headings):
        if node.parent is None:
            continue
        text = node_text(node)
        if len(text) <= 200 and is_box_heading(text := clean(text)):
            _drop_box(node, text, work)
    _drop_link_lists(root, work)


def _drop_link_lists(root: LexborNode, work: Work) -> None:
    """Drop the parts of the container that are mostly link text (menus, tag lists)."""
    candidates = root.css("ul, ol, dl, div, section, table, td, p, li")
    # The link text under every element, from one selection of the links: a selection per
    # candidate cost more than the rest of the cleaning together.
    linked = _link_lengths(root)
    root_id = root.mem_id
    for node in reversed(candidates):
        link = linked.get(node.mem_id, 0)
        if link <= 0:  # no link text: never dense
            continue
        length = text_len(node)
        if length == 0:
            continue
        density = link / length
        limit = 0.9 if node.tag in ("p", "li") else 0.5
        if density > limit:
            _forget_links(node, link, length, linked, root_id)
            work.drop(node, f"link density {density:.1f}")


def _link_lengths(root: LexborNode) -> dict[int, int]:
    """The text length of the links under each element of ``root`` (``link_len`` of each, by
    ``mem_id``), from one selection: each link's length is added to its ancestors up to root."""
    lengths: dict[int, int] = {}
    chains: dict[int, list[int]] = {}  # a parent's mem_id -> it and its ancestors up to root
    root_id = root.mem_id
    for a in root.css("a"):
        length = text_len(a)
        parent = a.parent
        if length == 0 or parent is None or a.mem_id == root_id:
            continue
        chain = chains.get(parent.mem_id)
        if chain is None:
            chain = []
            up: LexborNode | None = parent
            while up is not None:
                key = up.mem_id
                chain.append(key)
                if key == root_id:
                    break
                up = up.parent
            chains[chain[0]] = chain
        for key in chain:
            lengths[key] = lengths.get(key, 0) + length
    return lengths


def _forget_links(
    node: LexborNode, link: int, length: int, linked: dict[int, int], root_id: int
) -> None:
    """Keep ``linked`` true when ``node`` (``link`` link text of ``length`` text) is removed:
    its ancestors lose its link text, and above a link that holds it, its whole text too."""
    delta = link
    up = node.parent
    while up is not None:
        key = up.mem_id
        linked[key] = linked.get(key, 0) - delta
        if key == root_id:
            break
        if up.tag == "a":
            delta += length
        up = up.parent


def _drop_box(heading: LexborNode, text: str, work: Work) -> None:
    """A box heading goes with what follows it, up to the next heading. A heading alone in its
    wrapper ("<div class=box-title><h3>Related</h3></div>") stands for the wrapper."""
    for _ in range(2):
        parent = heading.parent
        if _next_element(heading) is not None or parent is None or parent.tag == "body" or \
                text_len(parent) > text_len(heading) + _HEADING_SLACK:
            # Not alone: the heading ends a part that holds more (the article's own wrapper,
            # with a trailing "Related" heading whose box was already taken out).
            break
        heading = parent
    node = heading.next
    work.drop(heading, f"heading '{text[:40]}'")
    while node is not None:
        following = node.next
        if node.tag in HEADINGS:
            break
        if node.tag not in ("-text", "-comment"):
            work.drop(node, f"under heading '{text[:40]}'")
        node = following


def _next_element(node: LexborNode) -> LexborNode | None:
    following = node.next
    while following is not None and following.tag in ("-text", "-comment"):
        following = following.next
    return following


_HEADING_SLACK = 20  # characters beside a heading in a wrapper that stands for it (a count)


class Block(NamedTuple):
    kind: str  # "p", "heading", "li", "quote", "pre", "cell"
    text: str


def read_blocks(root: LexborNode) -> list[Block]:
    """The container's text as blocks in document order: one per paragraph-like element."""
    # (Selecting the block elements and splitting the container's text at marks inserted before
    # them was tried: with one selector per block tag, Lexbor's selection costs as much as this
    # walk.)
    blocks: list[Block] = []
    parts: list[str] = []
    kind = "p"
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag in BLOCK_TAGS or tag == "br":
            if parts:
                _flush(parts, kind, blocks)
                parts = []
            if tag != "br":
                kind = _KIND.get(tag, "p")
            continue
        if parts and (before := node.prev) is not None and before.tag in BLOCK_TAGS:
            # Text after a block, in its parent ("<div><p>One.</p>Two</div>"): the walk sees no
            # end tags, so this is where the block before it ended.
            _flush(parts, kind, blocks)
            parts, kind = [], "p"
        if tag == "-text":
            parts.append(node.text_content or "")
    if parts:
        _flush(parts, kind, blocks)
    return blocks


def _flush(parts: list[str], kind: str, blocks: list[Block]) -> None:
    if text := clean("".join(parts)):
        blocks.append(Block(kind, text))
