"""The generic extractor's work on the tree: prune it, choose the main container (cleaning and
reading the container is in ``generic_clean``).

Everything runs in C where selectolax allows it (CSS selection, ``text()``); Python loops touch
only the nodes a selector returned and a few ancestors of each paragraph. Each ``css()`` call
parses its selector and walks its whole subtree, so one selection serves several steps where it
can. Nothing recurses in Python over the DOM, so a page nested 50,000 levels deep is no danger.
(A flat copy of the page was tried instead: one Python walk into parallel lists, every step then
on slices of them. The walk alone cost 1.1 to 2 ms a page, against 0.6 to 0.9 ms for parsing,
and the extractor as a whole came out 15% slower than this one, so it was not kept.)

Nodes are detached with ``remove()``: a detached node's descendants stay valid objects, so the
handles a selector returned before a removal never point at freed memory. Lists are walked in
reverse document order so that a part inside a removed part is judged (and recorded) first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborNode

from monitor.extract.generic_rules import (
    AD_WORDS,
    LEAD_WORDS,
    WEAK_WORDS,
    attribute_verdict,
    attribute_words,
    is_legal,
    is_positive,
)
from monitor.extract.generic_select import (
    SEMANTIC_ROLES,
    SEMANTIC_TAGS,
    PageParts,
    attached,
    is_hidden,
)
from monitor.extract.html import climb
from monitor.extract.text import snippet
from monitor.models import Removed

# Elements whose class never makes them a box worth judging (or that are never removed).
_NOT_BOXES = frozenset("body html main a img i b strong em label abbr time small br hr".split())
# What a lead's class or id holds (then the lead word must be one of its words).
_LEAD_CLASS_PARTS = ("sapo", "lead", "lede", "standfirst", "dek", "excerpt", "summary", "intro",
                     "desc", "subtitle", "subhead", "brief", "chapo", "abstract", "tomtat")
_LEAD_ID_PARTS = ("sapo", "lead", "brief", "summary", "desc")
# A part holding more than this share of the page's text is a wrapper, whatever its class says.
_WRAPPER_SHARE = 0.5
_NEARLY_ALL = 0.9
_KIND_LOOKUPS = 16
_AD_LINKS = 0.1  # the most link text an ad slot holding the article's paragraphs has
_PANEL_ROLES = frozenset(("region", "tabpanel"))
_REGION_SHARE = 0.6  # below this share of its main region's prose, a part is only a section
_LEGAL_VOTE = 0.1  # what a legal or disclosure paragraph's vote is worth
# Legal text outvotes an article with its commas: a paragraph with fewer is not worth checking.
_LEGAL_COMMAS = 3
# Below this share of the page's text in <p> and the like, text in <div>s is read too.
_WRITTEN_SHARE = 0.35
_DIRECT_MIN = 80  # characters of a node's own text that make it a paragraph
_CELL_LEVELS = 6  # how far up from a paragraph a table cell is its layout column
HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_COMMAS = re.compile(r"[,،，、]")


def _commas(text: str) -> int:
    # The regex only for text that may hold the other scripts' commas; str.count is faster.
    return text.count(",") if text.isascii() else len(_COMMAS.findall(text))


def node_text(node: LexborNode) -> str:
    return node.text(deep=True, separator=" ", strip=False) or ""


def text_len(node: LexborNode) -> int:
    """Characters of text, each text node stripped (skip_empty: the same, read faster)."""
    return len(node.text(deep=True, separator="", strip=True, skip_empty=True) or "")


def solid_len(text: str) -> int:
    """Characters other than whitespace: indentation must not make a part look big."""
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


def link_len(node: LexborNode, tag: str | None = None) -> int:
    """Characters of link text (``text_len`` of each ``<a>``). ``tag``: the node's, if known."""
    if (tag or node.tag) == "p":
        # A paragraph holds a few inline elements at most: walking them costs a third of a
        # selection (which parses its selector on every call).
        return sum(text_len(a) for a in node.traverse() if a.tag == "a")
    return sum(text_len(a) for a in node.css("a"))


@dataclass(slots=True)
class Work:
    """What one extraction gathered on the way: drops, captions, scores, protected wrappers."""

    removed: list[Removed] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    protected: set[int] = field(default_factory=set)
    page_chars: int = 0
    prose_chars: float = 0.0
    # The prose under each element (by mem_id): its paragraphs' text less their links.
    prose: dict[int, float] = field(default_factory=dict)
    page_prose: float = 0.0
    root: LexborNode | None = None  # the page's body, once choose_container has it
    kinds: dict[str, float] = field(default_factory=dict)
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
        if is_hidden(anchor):
            continue  # a hidden microdata copy of the body, or a title for screen readers
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
        elif role not in _PANEL_ROLES:
            work.drop(node, "hidden")
        # A collapsed panel of an accordion or tabs (role=region, tabpanel) is the article's
        # text that a reader opens with a click: it stays.


def _drop_small(node: LexborNode, reason: str, work: Work) -> None:
    """Remove the part unless it holds most of the page (then it is a wrapper)."""
    text = node_text(node)
    if solid_len(text) <= _WRAPPER_SHARE * work.page_chars:
        if text.strip():
            work.removed.append(Removed(snippet(text), reason))
        node.remove()


def _class_word(node: LexborNode, work: Work) -> str | None:
    """The boilerplate word of a node's class or id; None for tags that are never boxes and for
    the article's own wrappers."""
    if node.tag in _NOT_BOXES or node.mem_id in work.protected:
        return None
    attrs = node.attributes
    return attribute_verdict(f"{attrs.get('class') or ''} {attrs.get('id') or ''}")


def _box_word(node: LexborNode, work: Work) -> str | None:
    """The class word, unless it is a weak one (a weak word alone does not make a box)."""
    word = _class_word(node, work)
    return None if word is None or word in WEAK_WORDS else word


def _in_box(para: LexborNode, work: Work, memo: dict[int, bool]) -> bool:
    """Whether a paragraph sits in a part whose class names boilerplate (comments, related,
    sidebar, ...): such paragraphs do not vote for the container. Each ancestor is judged once
    per page (``memo``)."""

    def boxed(node: LexborNode) -> bool | None:
        word = _box_word(node, work)
        if word is not None and (word.startswith("comment") or not _holds_article(node, work)):
            return True
        return None  # not a box: its parent decides

    return climb(para.parent, memo, boxed)


def _holds_article(node: LexborNode, work: Work, within: LexborNode | None = None) -> bool:
    """Whether a part holds most of the prose of the page (or of ``within``): then it is the
    article's wrapper, whatever its class says ("layout-with-sidebar", "post-body-readmore").
    Sibling parts of one class count together (an article split in "content-nav-section"s),
    and so does a part with nearly all the prose of a wrapper that holds the article."""
    prose = work.prose
    total = prose.get(within.mem_id, 0.0) if within is not None else work.page_prose
    own = prose.get(node.mem_id, 0.0)
    if own <= 0.0 or total <= 0.0:
        return False
    need = _WRAPPER_SHARE * total
    if own >= need:
        return True
    parent = node.parent
    if parent is None:
        return False
    if (cls := node.attributes.get("class")) and _kind_prose(node.tag or "", cls, work) >= need:
        return True
    up: LexborNode | None = parent
    for _ in range(3):
        if up is None or (outer := prose.get(up.mem_id, 0.0)) * _NEARLY_ALL > own:
            return False
        if outer >= need:
            return True
        up = up.parent
    return False


def _kind_prose(tag: str, cls: str, work: Work) -> float:
    """The prose of all the page's parts of one tag and class (memoised per page): an article
    set in several "content-nav-section"s, wherever the layout puts each."""
    key = f"{tag} {cls}"
    if (found := work.kinds.get(key)) is not None:
        return found
    total = 0.0
    # Each look-up walks the page: a page of thousands of box-named classes gets a few.
    if work.root is not None and len(work.kinds) < _KIND_LOOKUPS and '"' not in cls and \
            "\\" not in cls:
        try:
            parts = work.root.css(f'{tag}[class="{cls}"]')
        except Exception:  # a class value Lexbor's selector parser refuses
            parts = []
        total = sum(work.prose.get(part.mem_id, 0.0) for part in parts)
    work.kinds[key] = total
    return total


def prune_boxes(root: LexborNode, work: Work) -> None:
    """Remove the parts of the container whose class or id names boilerplate."""
    # In code, classes name syntax ("hljs-comment", "token comment"), not boxes.
    code = {node.mem_id for node in root.css("pre [class], code [class]")}
    for node in reversed(root.css("[class], [id]")):
        word = _class_word(node, work)
        if word is None or node.mem_id in code:
            continue
        # A comment section is dropped even when it is long: that is where long ones are.
        if word.startswith("comment") or word == "disqus":
            work.drop(node, f"class '{word}'")
        elif _holds_article(node, work, root):
            continue
        elif word in AD_WORDS and _has_prose(node) and link_len(node) < _AD_LINKS * text_len(node):
            # An ad slot's own content (a script, an iframe) is gone already: the paragraphs
            # it wraps are the article's, put there by the page's ad insertion.
            continue
        elif word not in WEAK_WORDS or not _has_prose(node):
            work.drop(node, f"class '{word}'")


def find_leads(scope: LexborNode) -> list[LexborNode]:
    """Parts whose class or id names a lead (sapo, standfirst, dek, summary), in page order."""
    # Every part with a class or id, judged in Python on its (cached) values: twenty substring
    # selectors cost Lexbor more than that.
    found = []
    last = 0
    for node in scope.css("[class], [id]"):
        if node.mem_id == last:  # selected once per selector it matches
            continue
        last = node.mem_id
        attrs = node.attributes
        if _names_lead(attrs.get("class") or "", attrs.get("id") or ""):
            found.append(node)
    return found


@lru_cache(maxsize=16384)
def _names_lead(cls: str, ident: str) -> bool:
    """A class and id that name a lead: a part holds a lead's name, and a word is one."""
    if not any(part in cls for part in _LEAD_CLASS_PARTS) and \
            not any(part in ident for part in _LEAD_ID_PARTS):
        return False
    return not LEAD_WORDS.isdisjoint(attribute_words(f"{cls} {ident}"))


def _has_prose(node: LexborNode) -> bool:
    """Holds a paragraph of real text (a weak class word does not outweigh that)."""
    return any(text_len(p) >= 120 for p in node.css("p"))


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
    if (attrs.get("itemprop") or "").lower() == "articlebody" and not is_hidden(node):
        return weight + 40.0
    value = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    if value.strip():
        if attribute_verdict(value):
            weight -= 25.0
        elif is_positive(value):
            weight += 25.0
    return weight


def _add_up(
    starts: dict[int, LexborNode], weights: dict[int, float], stop: int, totals: dict[int, float]
) -> None:
    """Add each start's weight to it and to every ancestor below ``stop`` (by mem_id). Each
    ancestor is visited once however many starts share it (a page of 10,000 paragraphs at
    depth 2,000 costs the size of its tree, not their product): the walk records the tree it
    meets, then sums it from the leaves up."""
    parent_of: dict[int, int] = {}
    children: dict[int, int] = {}
    for key, node in starts.items():
        up = node.parent
        while key not in parent_of and up is not None and (above := up.mem_id) != stop:
            parent_of[key] = above
            children[above] = children.get(above, 0) + 1
            key, up = above, up.parent
    sums = dict(weights)
    ready = [key for key in parent_of if key not in children]
    ready += [key for key in weights if key not in parent_of and key not in children]
    while ready:
        key = ready.pop()
        value = sums.get(key, 0.0)
        totals[key] = totals.get(key, 0.0) + value
        if (owner := parent_of.get(key)) is not None:
            sums[owner] = sums.get(owner, 0.0) + value
            children[owner] -= 1
            if children[owner] == 0:
                ready.append(owner)


_PARAGRAPH_TAGS = frozenset(("p", "pre", "td", "blockquote"))


Paragraph = tuple[LexborNode, str]  # an element and its text


def _paragraphs(body: LexborNode, page_chars: int) -> list[Paragraph]:
    """The paragraph-like elements and their text. A line between <br>s is one too (its
    element standing for it, as a <p> would)."""
    found: list[Paragraph] = []
    broken: dict[int, LexborNode] = {}  # the parents of <br>s that are no paragraph themselves
    for node in body.css("p, pre, td, blockquote, br"):
        if node.tag != "br":
            found.append((node, node_text(node).strip()))
        elif (parent := node.parent) is not None and parent.tag not in _PARAGRAPH_TAGS:
            broken[parent.mem_id] = parent
    written = sum(len(text) for _, text in found)
    # page_chars was counted before navigation and hidden parts went: when <p> holds enough of
    # that, it holds enough of what is left, and the text left need not be measured.
    if written >= 400 and (written >= _WRITTEN_SHARE * page_chars or
                           written >= _WRITTEN_SHARE * solid_len(node_text(body))):
        # Text written with <br> and no <p> is paragraphs too, wherever it is: each line
        # between <br>s votes as one.
        for node in broken.values():
            lines = _direct_lines(node)
            if sum(len(line) for line in lines) >= _DIRECT_MIN:
                found.extend((node, line) for line in lines)
        return _without_layout_cells(found)
    # Pages that write their text straight into <div>s, or most of it: the few <p> of such a
    # page are an author's blurb or a footer.
    for node in body.css("div, section, article, td, span, font"):
        if sum(len(line) for line in _direct_lines(node)) >= _DIRECT_MIN:
            found.append((node, node_text(node).strip()))
    return found


def _without_layout_cells(found: list[Paragraph]) -> list[Paragraph]:
    """Drop the table cells that hold other paragraphs: a layout's column, not a paragraph (its
    text would vote a second time, and for the whole row)."""
    cells = {node.mem_id for node, _ in found if node.tag == "td"}
    if not cells:
        return found
    layout: set[int] = set()
    seen: set[int] = set()
    for node, _ in found:
        if node.tag == "td":
            continue
        up = node.parent
        for _ in range(_CELL_LEVELS):
            if up is None or (key := up.mem_id) in seen:
                break
            seen.add(key)
            if key in cells:
                layout.add(key)
                break
            up = up.parent
    return [para for para in found if para[0].mem_id not in layout] if layout else found


def _direct_lines(node: LexborNode) -> list[str]:
    """The text of a node's own text children (not of its elements), cut at its <br>s."""
    lines = []
    parts: list[str] = []
    child = node.child
    while child is not None:
        tag = child.tag
        if tag == "-text":
            parts.append(child.text_content or "")
        elif tag == "br" and parts:
            if line := " ".join(parts).strip():
                lines.append(line)
            parts = []
        child = child.next
    if parts and (line := " ".join(parts).strip()):
        lines.append(line)
    return lines


def choose_container(body: LexborNode, work: Work) -> LexborNode:
    """The element that holds the article's paragraphs, scored on their text and links."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    memo: dict[int, bool] = {}
    # Where the climbs stop: <html> (compared by identity, cheaper than reading every tag).
    top_id = body.parent.mem_id if body.parent is not None else -1
    # First the prose under every element, the evidence a box word is judged against.
    voters: list[tuple[LexborNode, str, str, float]] = []
    work.root = body
    prose_of = work.prose
    parents: dict[int, LexborNode] = {}
    under: dict[int, float] = {}  # the prose of each paragraph's parent, from its paragraphs
    for para, text in _paragraphs(body, work.page_chars):
        length = len(text)
        if length < 25:
            continue
        tag = para.tag or ""
        density = min(1.0, link_len(para, tag) / length)
        if density > 0.5:
            continue
        voters.append((para, tag, text, density))
        weight = length * (1.0 - density)
        prose_of[para.mem_id] = prose_of.get(para.mem_id, 0.0) + weight
        parent = para.parent
        if parent is not None:
            parents[parent.mem_id] = parent
            under[parent.mem_id] = under.get(parent.mem_id, 0.0) + weight
    _add_up(parents, under, top_id, prose_of)
    work.page_prose = prose_of.get(body.mem_id, 0.0)
    prose = 0.0
    for para, tag, text, density in voters:
        if _in_box(para, work, memo):
            continue
        length = len(text)
        prose += length * (1.0 - density)
        commas = _commas(text)
        score = (1.0 + commas + min(length / 100.0, 3.0)) * (1.0 - density)
        if commas >= _LEGAL_COMMAS and is_legal(text):
            score *= _LEGAL_VOTE
        if tag == "li":  # lists are read, but reference lists must not outweigh the text
            score *= 0.5
        ancestor = para.parent
        for share in (1.0, 0.5, 0.25):
            if ancestor is None:
                break
            key = ancestor.mem_id
            if key == top_id:
                break
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
    best = second = float("-inf")
    for key in ranked:
        # The links can only lower a score (a negative one towards 0), and the candidates come
        # best first: once one can neither be the best, nor a peer, nor change the second
        # score, none after it can, and their text (the outer ones hold much) is not read.
        bound = max(scores[key], 0.0)
        if best > 0 and bound < 0.5 * best and bound <= second:
            break
        node = nodes[key]
        length = max(1, text_len(node))
        value = final[key] = scores[key] * (1.0 - min(1.0, link_len(node) / length))
        if value > best:
            best, second = value, best
        elif value > second:
            second = value
    order = sorted(final, key=final.__getitem__, reverse=True)
    top = nodes[order[0]]
    work.top_score = final[order[0]]
    work.second_score = final[order[1]] if len(order) > 1 else 0.0
    peers = [nodes[k] for k in order[1:] if final[k] >= 0.5 * work.top_score]
    if peers and (common := _common_ancestor(top, peers)) is not None:
        return _main_region(common, work)
    return _main_region(_merge_siblings(top, scores, work), work)


_REGION_TAGS = frozenset(("main", "article"))


def _main_region(chosen: LexborNode, work: Work) -> LexborNode:
    """The page's declared main region (``<main>``, ``<article>``, ``role=main``) around the
    chosen part, when the chosen part holds only part of the region's prose: an article laid
    out in many sections (a page builder's) is read whole, not one section of it."""
    prose = work.prose
    own = prose.get(chosen.mem_id, 0.0)
    up = chosen.parent
    while up is not None and up.tag not in ("body", "html"):
        if up.tag in _REGION_TAGS or up.attributes.get("role") == "main":
            region = prose.get(up.mem_id, 0.0)
            if own < _REGION_SHARE * region and region >= _WRAPPER_SHARE * work.page_prose:
                return up
            return chosen
        up = up.parent
    return chosen


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
