"""Word-level differences between two versions of a passage (pure), for the "Cập nhật" section.

A reader of an update wants to see which words changed, not two whole paragraphs one above the
other. ``word_diff`` cuts both texts into words, spaces and punctuation, aligns them, and returns
the new text as runs marked ``same``, ``del`` (only in the old one) or ``ins`` (only in the new
one). Long unchanged runs are cut to a few words of context on each side, so a one-word edit in
a long paragraph reads as a short line.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

Op = Literal["same", "del", "ins"]
Run = tuple[str, Op]

CONTEXT_WORDS = 8
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _merge(runs: list[Run]) -> list[Run]:
    """Changes separated only by spaces become one region: all its removed words, then all its
    added words ("[-A B-]{+C D+}" rather than "[-A-]{+C+} [-B-]{+D+}")."""
    out: list[Run] = []
    i = 0
    while i < len(runs):
        if runs[i][1] == "same":
            out.append(runs[i])
            i += 1
            continue
        parts: dict[Op, list[str]] = {"del": [], "ins": []}
        while i < len(runs):
            text, op = runs[i]
            if op != "same":
                parts[op].append(text)
            elif not text.strip() and i + 1 < len(runs) and runs[i + 1][1] != "same":
                for words in parts.values():
                    if words:
                        words.append(text)
            else:
                break
            i += 1
        texts = ["".join(parts["del"]), "".join(parts["ins"])]
        # The spaces at a region's edges stay outside it, between it and the unchanged words.
        if any(t[:1].isspace() for t in texts):
            out.append((" ", "same"))
        ops: tuple[Op, Op] = ("del", "ins")
        out.extend((t.strip(), op) for t, op in zip(texts, ops, strict=True) if t.strip())
        if any(t[-1:].isspace() for t in texts):
            out.append((" ", "same"))
    joined: list[Run] = []
    for text, op in out:
        if joined and joined[-1][1] == op == "same":
            joined[-1] = (joined[-1][0] + text, op)
        else:
            joined.append((text, op))
    return joined


def _trim(text: str, *, head: bool, tail: bool) -> str:
    """An unchanged run cut to some words of context: its end (``head``: it comes first), its
    start (``tail``: it comes last), or both ends around an ellipsis."""
    words = text.split(" ")
    keep = CONTEXT_WORDS
    if head and not tail:
        return text if len(words) <= keep else "…" + " ".join(words[-keep:])
    if tail and not head:
        return text if len(words) <= keep else " ".join(words[:keep]) + "…"
    if len(words) <= 2 * keep:
        return text
    return " ".join(words[:keep]) + " … " + " ".join(words[-keep:])


def word_diff(before: str, after: str) -> list[Run]:
    """``after`` against ``before`` as marked runs, unchanged stretches cut to some context."""
    old, new = _tokens(before), _tokens(after)
    runs: list[Run] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            runs.append(("".join(new[j1:j2]), "same"))
            continue
        if i2 > i1:
            runs.append(("".join(old[i1:i2]), "del"))
        if j2 > j1:
            runs.append(("".join(new[j1:j2]), "ins"))
    runs = _merge(runs)
    last = len(runs) - 1
    return [(_trim(text, head=i == 0, tail=i == last) if op == "same" else text, op)
            for i, (text, op) in enumerate(runs)]
