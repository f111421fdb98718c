"""One CSS selection over the whole page for every step that needs one, sorted in Python.

Each ``css()`` call walks the whole tree in Lexbor's selector engine, and on a news page that walk
costs about as much as the rest of a step, whatever the selector: one walk for the invisible
tags, the title, the article's anchors, navigation and hidden parts saves three. (Printed dates
are not selected with them: their class substrings make one walk dearer than two.) The nodes it
returns are sorted here by the rules the selectors state (tag names, exact and case-sensitive
attribute values, as Lexbor matches them), so that every step sees exactly the nodes, repeats
included, its own selection would have returned.

What one step removes changes what the next would have selected: nodes under a removed part are
no longer in the document. ``attached`` filters those out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from monitor.extract.html import climb

# Never content; removed before anything else is looked at.
_INVISIBLE_TAGS = frozenset(
    "script style noscript template svg iframe object embed canvas button input select textarea "
    "option map audio video picture source track link meta dialog".split()
)
# Parts whose HTML5 meaning is "not the main content", and roles that say the same; then parts a
# browser does not show (the [hidden] attribute is left alone: pages use it for the rest of the
# article that a script reveals) and dialogs, which never hold the article.
SEMANTIC_TAGS = frozenset(("nav", "aside", "footer", "form", "menu", "header"))
SEMANTIC_ROLES = frozenset(("navigation", "contentinfo", "complementary", "banner", "search",
                            "menu", "menubar", "toolbar"))
_HIDDEN_ROLES = frozenset(("dialog", "alertdialog"))
# The ancestors of the title and of a declared article body hold the article.
_ANCHOR_TAGS = frozenset(("h1", "main"))

_PAGE_SELECTOR = ", ".join(
    sorted(_INVISIBLE_TAGS) + sorted(SEMANTIC_TAGS) + sorted(_ANCHOR_TAGS)
    + [f"[role={role}]" for role in sorted(SEMANTIC_ROLES | _HIDDEN_ROLES)]
    + ['[aria-hidden="true"]', '[aria-modal="true"]', '[style*="display:none"]',
       '[style*="display: none"]', "[itemprop=articleBody]"]
)


@dataclass(slots=True)
class PageParts:
    """The nodes of the body, in document order, as the page's steps select them."""

    invisible: list[LexborNode] = field(default_factory=list)
    h1: list[LexborNode] = field(default_factory=list)
    # h1, main and [itemprop=articleBody], and semantic or hidden parts: both as selected
    # before the invisible tags are removed (filter with ``attached`` after).
    anchors: list[LexborNode] = field(default_factory=list)
    boilerplate: list[LexborNode] = field(default_factory=list)


def select_parts(body: LexborNode) -> PageParts:
    parts = PageParts()
    last = 0
    for node in body.css(_PAGE_SELECTOR):
        # Lexbor returns a node once for every selector of the list it matches, one after the
        # other: the combined list's repeats are dropped here, and each step's list gets the
        # repeats its own selector would have given (some steps slice their list).
        key = node.mem_id
        if key == last:
            continue
        last = key
        tag = node.tag or ""
        if tag in _INVISIBLE_TAGS:
            parts.invisible.append(node)
            continue  # removed first: no later step sees it
        attrs = node.attributes
        if tag == "h1":
            parts.h1.append(node)
        if count := (tag in _ANCHOR_TAGS) + (attrs.get("itemprop") == "articleBody"):
            parts.anchors.extend([node] * count)
        if count := _boilerplate_matches(tag, attrs):
            parts.boilerplate.extend([node] * count)
        elif attrs.get("itemprop") == "articleBody" and "hidden" in attrs:
            parts.boilerplate.append(node)  # a microdata copy of the body, hidden from readers
    return parts


def _boilerplate_matches(tag: str, attrs: dict[str, str | None]) -> int:
    """How many selectors of the semantic and hidden parts' list an element matches."""
    role = attrs.get("role")
    count = (
        (tag in SEMANTIC_TAGS) + (role in SEMANTIC_ROLES or role in _HIDDEN_ROLES)
        + (attrs.get("aria-hidden") == "true") + (attrs.get("aria-modal") == "true")
    )
    style = attrs.get("style")
    if style:
        count += ("display:none" in style) + ("display: none" in style)
    return count


def is_hidden(node: LexborNode) -> bool:
    """Whether a browser hides the element itself (``hidden``, ``aria-hidden``, display:none)."""
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    style = attrs.get("style") or ""
    return "display:none" in style or "display: none" in style


def attached(nodes: list[LexborNode], root: LexborNode) -> list[LexborNode]:
    """The nodes still under ``root`` (a removed part's nodes stay valid, detached with it)."""
    memo = {root.mem_id: True}
    return [node for node in nodes if climb(node, memo, _undecided)]


def _undecided(node: LexborNode) -> None:
    return None  # only reaching ``root`` (in the memo) decides
