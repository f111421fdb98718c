"""Cleaning a body container and reading it as text blocks, for the profile extractor.

Nodes are detached with ``remove()`` rather than destroyed with ``decompose()``: a detached node's
descendants stay valid, so handles collected before a removal never point at freed memory.
Nothing here recurses in Python over the DOM (a page may nest thousands of levels deep).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from selectolax.lexbor import LexborNode

from monitor.extract.html import is_inside
from monitor.extract.profile import JUNK_TAGS
from monitor.extract.text import clean, fold, snippet
from monitor.models import Removed

# Elements that break text into separate blocks (paragraphs, headings, list items, cells, ...).
BLOCK_TAGS = frozenset(
    "p h1 h2 h3 h4 h5 h6 li blockquote pre dd dt td th div section article ul ol table tr "
    "tbody thead figure main dl center header footer address".split()
)
_CONTAINERS = "div, ul, ol, table, section, p, dl"
_INVISIBLE_TAGS = frozenset(("script", "style", "noscript", "template"))
_WORD_SPLIT = re.compile(r"[-_]")
_HEADING_TAIL = re.compile(r"\s*(\(\s*\d+\s*\)|:|»|›|>)\s*$")
_HEADING_MAX = 60


@functools.lru_cache(maxsize=8)
def _folded(headings: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(h) for h in headings)


def node_clean_text(node: LexborNode) -> str:
    return clean(node.text(deep=True, separator="", strip=False))


def _raw(node: LexborNode) -> str:
    return node.text(deep=True, separator="", strip=False) or ""


def _visible_len(text: str) -> int:
    """Characters other than common whitespace: cheap, and enough for ratios and size tests."""
    return (len(text) - text.count(" ") - text.count("\n") - text.count("\t")
            - text.count("\r") - text.count("\xa0"))


class Cleaner:
    """Removes boilerplate from one container, recording what went and why."""

    def __init__(self, words: Sequence[str], headings: Sequence[str]) -> None:
        self.words = frozenset(w.lower() for w in words)
        self.headings = _folded(tuple(headings))
        # fold() keeps lengths, so only a text as long as some heading can be one: most texts
        # are rejected without folding them.
        self.lengths = frozenset(map(len, self.headings))
        self.removed: list[Removed] = []

    def _drop(self, node: LexborNode, reason: str, *, record: bool = True) -> None:
        text = clean(node.text(deep=True, separator=" ", strip=False))
        if record and text:
            self.removed.append(Removed(snippet(text), reason))
        node.remove()

    def take_captions(self, root: LexborNode, chain: Sequence[str]) -> list[str]:
        captions: list[str] = []
        for selector in chain:
            for node in root.css(selector):
                if not is_inside(node, root):
                    continue
                text = node_clean_text(node)
                if text and text not in captions:
                    captions.append(text)
                node.remove()
        return captions

    def _boilerplate_word(self, node: LexborNode) -> str | None:
        attrs = node.attributes
        for token in f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower().split():
            if token in self.words:
                return token
            for part in _WORD_SPLIT.split(token):
                if part in self.words:
                    return token
        return None

    def is_box_heading(self, text: str) -> bool:
        if not 0 < len(text) <= _HEADING_MAX:
            return False
        key = _HEADING_TAIL.sub("", text)
        return len(key) in self.lengths and fold(key) in self.headings

    def clean(self, root: LexborNode) -> list[Removed]:
        for br in root.css("br"):
            br.replace_with(" ")
        for tag in JUNK_TAGS:
            for node in root.css(tag):
                if is_inside(node, root):
                    self._drop(node, f"<{tag}>", record=tag not in _INVISIBLE_TAGS)
        for node in root.css("[class], [id]"):
            word = self._boilerplate_word(node)
            if word and is_inside(node, root):
                self._drop(node, f"class/id {word!r}")
        self._drop_boxes(root)
        self._drop_link_blocks(root)
        return self.removed

    def _drop_boxes(self, root: LexborNode) -> None:
        """A site box goes whole when it opens with one of the known headings."""
        for node in root.css("h1, h2, h3, h4, h5, h6, p, div, span, strong, b, header"):
            if node.mem_id == root.mem_id:
                continue
            raw = _raw(node)
            # Cleaning a large container's text is costly; a heading is short anyway.
            if _visible_len(raw) > _HEADING_MAX or not is_inside(node, root):
                continue
            text = clean(raw)
            if not self.is_box_heading(text):
                continue
            box = node
            # Climb to the largest ancestor (below the container) that this heading opens.
            while box.parent is not None and box.parent.mem_id != root.mem_id:
                head = clean(_raw(box.parent).lstrip()[: len(raw) + 64])
                if not head.startswith(text):
                    break
                box = box.parent
            reason = f"box {text!r}"
            if box.parent is not None and box.parent.mem_id == root.mem_id and box is node:
                # A bare heading among the paragraphs: it takes the link lists that follow it.
                sibling = box.next
                while sibling is not None and (
                    not sibling.is_element_node or _link_share(sibling)[0] >= 0.8
                ):
                    following = sibling.next
                    if sibling.is_element_node:
                        self._drop(sibling, reason)
                    else:
                        sibling.remove()
                    sibling = following
            self._drop(box, reason)

    def _drop_link_blocks(self, root: LexborNode) -> None:
        """Blocks that are only headline links (inline related-article boxes)."""
        for node in root.css(_CONTAINERS):
            if node.mem_id == root.mem_id or not is_inside(node, root):
                continue
            share, links = _link_share(node)
            if links and (share >= 0.9 or (share >= 0.8 and links >= 2)):
                self._drop(node, f"links only ({links} link{'s' if links > 1 else ''})")


def _link_share(node: LexborNode) -> tuple[float, int]:
    """Share of the node's text that sits inside links, and the number of links."""
    total = _visible_len(_raw(node))
    if not total:
        return 0.0, 0
    links = node.css("a")
    linked = sum(_visible_len(_raw(a)) for a in links)
    return min(1.0, linked / total), len(links)


def _block_of(node: LexborNode, root: LexborNode) -> int:
    current = node.parent
    while current is not None and current.mem_id != root.mem_id:
        if current.tag in BLOCK_TAGS:
            return current.mem_id
        current = current.parent
    return root.mem_id


def block_texts(root: LexborNode) -> list[str]:
    """The container's text as blocks, in document order: runs of text under one block."""
    blocks: list[str] = []
    buffer: list[str] = []
    current: int | None = None
    for node in root.traverse(include_text=True):
        if not node.is_text_node:
            continue
        block = _block_of(node, root)
        if block != current:
            if text := clean("".join(buffer)):
                blocks.append(text)
            buffer, current = [], block
        buffer.append(node.text_content or "")
    if text := clean("".join(buffer)):
        blocks.append(text)
    return blocks
