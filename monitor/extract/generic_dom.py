"""The generic extractor's work on the tree: prune, choose the main container, clean it, read it.

Everything runs in C where selectolax allows it (CSS selection, ``text()``); Python loops touch
only the nodes a selector returned, a few ancestors of each paragraph, and the chosen container.
Nothing recurses in Python over the DOM, so a page nested 50,000 levels deep is no danger.

Nodes are detached with ``remove()``: a detached node's descendants stay valid objects, so the
handles a selector returned before a removal never point at freed memory. Lists are walked in
reverse document order so that a part inside a removed part is judged (and recorded) first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from monitor.extract.generic_rules import (
    CAPTION_WORDS,
    LEAD_WORDS,
    WEAK_WORDS,
    attribute_verdict,
    attribute_words,
    is_box_heading,
    is_positive,
)
from monitor.extract.generic_select import SEMANTIC_ROLES, SEMANTIC_TAGS, PageParts, attached
from monitor.extract.text import clean
from monitor.models import Removed

# Elements whose class never makes them a box worth judging (or that are never removed).
_NOT_BOXES = frozenset("body html main a img i b strong em label abbr time small br hr".split())
_LEAD_SELECTOR = ", ".join(
    [f"[class*={word}]" for word in ("sapo", "lead", "lede", "standfirst", "dek", "excerpt",
                                      "summary", "intro", "desc", "subtitle", "subhead", "brief",
                                      "chapo", "abstract", "tomtat")]
    + [f"[id*={word}]" for word in ("sapo", "lead", "brief", "summary", "desc")]
)
# A part holding more than this share of the page's text is a wrapper, whatever its class says.
_WRAPPER_SHARE = 0.5
BLOCK_TAGS = frozenset(
    "p h1 h2 h3 h4 h5 h6 li blockquote pre dd dt td th div section article ul ol dl table tr "
    "figure main center header address details summary caption hr".split()
)
HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# What a box's heading is written with: a heading tag, or an element whose class says "title".
_CLEAN_SELECTOR = ("figure, figcaption, [class*=caption], [class*=credit], [class*=legend], "
                   "h1, h2, h3, h4, h5, h6, [class*=tit], [class*=heading], [class*=tieude]")
_KIND = {"li": "li", "dd": "li", "dt": "li", "blockquote": "quote", "pre": "pre",
         "td": "cell", "th": "cell", **{h: "heading" for h in HEADINGS}}
_SNIPPET = 80
_COMMAS = re.compile(r"[,،，、]")


def _commas(text: str) -> int:
    # The regex only for text that may hold the other scripts' commas; str.count is faster.
    return text.count(",") if text.isascii() else len(_COMMAS.findall(text))


def snippet(text: str) -> str:
    text = clean(text[:400])
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def node_text(node: LexborNode) -> str:
    return node.text(deep=True, separator=" ", strip=False) or ""


def text_len(node: LexborNode) -> int:
    return len(node.text(deep=True, separator="", strip=True) or "")


def solid_len(text: str) -> int:
    """Characters other than whitespace: indentation must not make a part look big."""
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


def link_len(node: LexborNode) -> int:
    return sum(len(a.text(deep=True, separator="", strip=True) or "") for a in node.css("a"))


@dataclass(slots=True)
class Work:
    """What one extraction gathered on the way: drops, captions, scores, protected wrappers."""

    removed: list[Removed] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    protected: set[int] = field(default_factory=set)
    page_chars: int = 0
    prose_chars: float = 0.0
    top_score: float = 0.0
    second_score: float = 0.0
    semantic: bool = False

    def drop(self, node: LexborNode, reason: str) -> None:
        text = node_text(node)
        if text.strip():
            self.removed.append(Removed(snippet(text), reason))
        node.remove()


def prune(body: LexborNode, work: Work, parts: PageParts) -> None:
    """Remove what is never the article: invisible tags, navigation, asides, hidden parts."""
    for node in reversed(parts.invisible):
        node.remove()
    # Whitespace does not count, so no separator is needed between the text nodes.
    work.page_chars = max(1, solid_len(body.text(deep=True, separator="", strip=False) or ""))
    # The ancestors of the title and of a declared article body hold the article: whatever their
    # class says ("__next", "page-has-sidebar"), they are wrappers, not boxes.
    protected = work.protected
    protected.add(body.mem_id)
    if parts.invisible:  # what was inside an invisible tag is gone with it
        anchors = attached(parts.anchors, body)
        boilerplate = attached(parts.boilerplate, body)
    else:
        anchors, boilerplate = parts.anchors, parts.boilerplate
    for anchor in anchors[:4]:
        up: LexborNode | None = anchor
        while up is not None and up.mem_id not in protected:
            protected.add(up.mem_id)
            up = up.parent
    for node in reversed(boilerplate):
        if node.mem_id in protected:
            continue
        tag = node.tag
        if tag in SEMANTIC_TAGS:
            if tag == "header" and node.css_first("h1") is not None:
                continue
            _drop_small(node, f"<{tag}>", work)
            continue
        role = (node.attributes.get("role") or "").lower()
        if role in SEMANTIC_ROLES:
            _drop_small(node, f"role '{role}'", work)
        else:
            work.drop(node, "hidden")


def _drop_small(node: LexborNode, reason: str, work: Work) -> None:
    """Remove the part unless it holds most of the page (then it is a wrapper)."""
    text = node_text(node)
    if solid_len(text) <= _WRAPPER_SHARE * work.page_chars:
        if text.strip():
            work.removed.append(Removed(snippet(text), reason))
        node.remove()


def _box_word(node: LexborNode, work: Work) -> str | None:
    """The boilerplate word of a node's class or id, None for the article's own wrappers."""
    if node.tag in _NOT_BOXES or node.mem_id in work.protected:
        return None
    attrs = node.attributes
    word = attribute_verdict(f"{attrs.get('class') or ''} {attrs.get('id') or ''}")
    if word is None or word in WEAK_WORDS:
        return None
    return word


def _in_box(para: LexborNode, work: Work, memo: dict[int, bool]) -> bool:
    """Whether a paragraph sits in a part whose class names boilerplate (comments, related,
    sidebar, ...): such paragraphs do not vote for the container. Each ancestor is judged once
    per page, walking up without recursion."""
    chain: list[int] = []
    node: LexborNode | None = para.parent
    verdict = False
    while node is not None:
        key = node.mem_id
        if key in memo:
            verdict = memo[key]
            break
        chain.append(key)
        word = _box_word(node, work)
        if word is not None and (
            word.startswith("comment") or solid_len(node_text(node)) <= 0.5 * work.page_chars
        ):
            verdict = True
            break
        node = node.parent
    for key in chain:
        memo[key] = verdict
    return verdict


def prune_boxes(root: LexborNode, work: Work) -> None:
    """Remove the parts of the container whose class or id names boilerplate."""
    for node in reversed(root.css("[class], [id]")):
        if node.tag in _NOT_BOXES or node.mem_id in work.protected:
            continue
        attrs = node.attributes
        word = attribute_verdict(f"{attrs.get('class') or ''} {attrs.get('id') or ''}")
        if word is None:
            continue
        # A comment section is dropped even when it is long: that is where long ones are.
        if word.startswith("comment") or word == "disqus":
            work.drop(node, f"class '{word}'")
        elif word not in WEAK_WORDS or not _has_prose(node):
            _drop_small(node, f"class '{word}'", work)


def find_leads(scope: LexborNode) -> list[LexborNode]:
    """Parts whose class or id names a lead (sapo, standfirst, dek, summary), in page order."""
    return [n for n in scope.css(_LEAD_SELECTOR)
            if LEAD_WORDS.intersection(attribute_words(
                f"{n.attributes.get('class') or ''} {n.attributes.get('id') or ''}"))]


def _has_prose(node: LexborNode) -> bool:
    """Holds a paragraph of real text (a weak class word does not outweigh that)."""
    return any(len(p.text(deep=True, separator="", strip=True) or "") >= 120
               for p in node.css("p"))


def _tag_weight(node: LexborNode) -> float:
    tag = node.tag
    if tag in ("article", "main"):
        weight = 10.0
    elif tag in ("div", "section"):
        weight = 5.0
    elif tag in ("pre", "td", "blockquote"):
        weight = 3.0
    elif tag in ("ol", "ul", "dl", "li", "form", "address"):
        weight = -3.0
    elif tag in HEADINGS or tag == "th":
        weight = -5.0
    else:
        weight = 0.0
    attrs = node.attributes
    if (attrs.get("itemprop") or "").lower() == "articlebody":
        return weight + 40.0
    value = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    if value.strip():
        if attribute_verdict(value):
            weight -= 25.0
        elif is_positive(value):
            weight += 25.0
    return weight


def _paragraphs(body: LexborNode) -> list[tuple[LexborNode, str]]:
    """The paragraph-like elements and their text."""
    found = [(n, node_text(n).strip()) for n in body.css("p, pre, td, blockquote")]
    if sum(len(text) for _, text in found) >= 400:
        return found
    # Pages that write their text straight into <div>s, separated by <br>.
    for node in body.css("div, section, article, td, span, font"):
        direct = 0
        child = node.child
        while child is not None:
            if child.tag == "-text":
                direct += len((child.text_content or "").strip())
            child = child.next
        if direct >= 80:
            found.append((node, node_text(node).strip()))
    return found


def choose_container(body: LexborNode, work: Work) -> LexborNode:
    """The element that holds the article's paragraphs, scored on their text and links."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    prose = 0.0
    memo: dict[int, bool] = {}
    for para, text in _paragraphs(body):
        length = len(text)
        if length < 25 or _in_box(para, work, memo):
            continue
        density = min(1.0, link_len(para) / length)
        if density > 0.5:
            continue
        prose += length * (1.0 - density)
        score = (1.0 + _commas(text) + min(length / 100.0, 3.0)) * (1.0 - density)
        if para.tag == "li":  # lists are read, but reference lists must not outweigh the text
            score *= 0.5
        ancestor = para.parent
        for share in (1.0, 0.5, 0.25):
            if ancestor is None or ancestor.tag in ("html", "#document"):
                break
            key = ancestor.mem_id
            if key not in scores:
                nodes[key] = ancestor
                scores[key] = _tag_weight(ancestor)
            scores[key] += score * share
            ancestor = ancestor.parent
    work.prose_chars = prose
    if not scores:
        return body
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)[:6]
    final: dict[int, float] = {}
    for key in ranked:
        node = nodes[key]
        length = max(1, text_len(node))
        final[key] = scores[key] * (1.0 - min(1.0, link_len(node) / length))
    order = sorted(final, key=final.__getitem__, reverse=True)
    top = nodes[order[0]]
    work.top_score = final[order[0]]
    work.second_score = final[order[1]] if len(order) > 1 else 0.0
    peers = [nodes[k] for k in order[1:] if final[k] >= 0.5 * work.top_score]
    if peers and (common := _common_ancestor(top, peers)) is not None:
        return common
    return _merge_siblings(top, scores, work)


_CLIMB = 8


def _common_ancestor(top: LexborNode, peers: list[LexborNode]) -> LexborNode | None:
    """The nearest ancestor of ``top`` that also holds the peers (parts of one article split by
    the layout), if it is at most _CLIMB levels up; None when the peers are nested in ``top``."""
    chain: list[LexborNode] = []
    node: LexborNode | None = top
    while node is not None and len(chain) < _CLIMB + 1:
        chain.append(node)
        node = node.parent
    ids = [n.mem_id for n in chain]
    deepest = 0
    for peer in peers:
        up: LexborNode | None = peer
        for _ in range(2 * _CLIMB):
            if up is None:
                break
            if up.mem_id in ids:
                deepest = max(deepest, ids.index(up.mem_id))
                break
            up = up.parent
    return chain[deepest] if deepest > 0 else None


def _merge_siblings(top: LexborNode, scores: dict[int, float], work: Work) -> LexborNode:
    """Widen to the parent when the article is split over several siblings (ads between)."""
    parent = top.parent
    if parent is None or parent.tag in ("html", "#document"):
        return top
    threshold = max(10.0, 0.2 * scores.get(top.mem_id, 0.0))
    siblings: list[LexborNode] = []
    keep: list[bool] = []
    child = parent.child
    while child is not None:
        if child.tag not in ("-text", "-comment"):
            siblings.append(child)
            keep.append(child.mem_id == top.mem_id or _belongs(child, scores, threshold))
        child = child.next
    if sum(keep) < 2:
        return top
    first = keep.index(True)
    last = len(keep) - 1 - keep[::-1].index(True)
    for i, node in enumerate(siblings):
        # Between two parts of the article, a heading or a list belongs to it too.
        if not keep[i] and not first < i < last:
            work.drop(node, "outside the main content")
    return parent


def _belongs(node: LexborNode, scores: dict[int, float], threshold: float) -> bool:
    if scores.get(node.mem_id, 0.0) >= threshold:
        return True
    if node.tag not in ("p", "blockquote", "pre", "ul", "ol"):
        return False
    text = node_text(node).strip()
    if len(text) < 30:
        return False
    density = link_len(node) / len(text)
    return density < 0.25 and (len(text) >= 80 or text.endswith((".", "!", "?", "\u201d", '"')))


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
        length = len(a.text(deep=True, separator="", strip=True) or "")
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
        if _next_element(heading) is not None or parent is None or parent.tag == "body":
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


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "p", "heading", "li", "quote", "pre", "cell"
    text: str


def read_blocks(root: LexborNode) -> list[Block]:
    """The container's text as blocks in document order: one per paragraph-like element."""
    blocks: list[Block] = []
    parts: list[str] = []
    kind = "p"
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in BLOCK_TAGS or tag == "br":
            if parts:
                text = clean("".join(parts))
                if text:
                    blocks.append(Block(kind, text))
                parts = []
            if tag != "br":
                kind = _KIND.get(tag, "p")
    if parts and (text := clean("".join(parts))):
        blocks.append(Block(kind, text))
    return blocks
