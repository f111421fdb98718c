"""Topic relevance: phrases and proximity rules over words, three verdicts, explained (pure).

Each ``[[topics]]`` entry of config.toml is compiled once. Text is cut into tokens (runs of word
characters, and single punctuation marks) of its lower case; a token is compared by its folding
key (``monitor.extract.text.fold``: one tone-mark placement, so "Thành ủy" = "Thành uỷ"; with
``accent_insensitive`` every diacritic dropped as well). A phrase is a sequence of such tokens,
so it matches on word boundaries whatever the spacing ("sắp xếp, tinh gọn" needs its comma).

Evidence, per field (title, sapo, body paragraph by paragraph):

- **phrases**: where phrases overlap, the leftmost and then longest wins ("tinh gọn tổ chức bộ
  máy" is not also "tổ chức bộ máy"); a phrase overlapping an ``exclude`` phrase does not count.
- **near rules**: a word of one class (an action: "sáp nhập", "giải thể") within N words of a
  word of another (a unit: "xã", "tổng cục"). Numbers, punctuation other than a sentence end, and
  short function words ("các", "và", "nhiều") are free, so "sáp nhập 3 huyện và 12 xã" is at
  distance 0. Counted once per action word.
- **context exclusions** (``exclude_near``): one of their words within a window of words around
  a hit cancels that hit ("sắp xếp, bố trí tái định cư").

Scoring, per topic::

    score = sum over (phrase or rule, field) of  weight x weight(field) x damping(count)

with damping 1, 1.5, 2 for one, two, three or more occurrences. The verdict is ``relevant`` from
the topic's ``threshold``, ``possible`` from its ``review_at`` (default half of it), else ``not``.
Every point is explained: each ``Match`` names the phrase or rule, the words found and where.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

from monitor import relevance_model
from monitor.config import NearRule, TopicConfig
from monitor.extract.text import nfc
from monitor.models import Article, Match, MatchKind, Relevance, TopicVerdict, Verdict
from monitor.termindex import (
    GAP_CAPITAL,
    GAP_END,
    GAP_NUMBER,
    GAP_WORD,
    CompiledTopic,
    add_classed,
    compile_topic,
    tokens_of,
)

Field = Literal["title", "sapo", "body"]
Span = tuple[int, int]

# A body is matched paragraph by paragraph (a phrase never spans two), but offsets are given in
# the paragraphs joined by this separator, as ``Article.text`` joins them.
BODY_SEPARATOR = "\n\n"
PARAGRAPH_MARK = " \u00b6"  # "¶": as long as BODY_SEPARATOR, and a single space before it
ELLIPSIS = " … "


class _Hit(NamedTuple):
    """Something found in one text part: token range [first, last] and what it is. (A named
    tuple: a dense article has dozens, and a frozen dataclass costs three times as much to
    make.)"""

    name: str  # the phrase, rule or context word as written in the config
    kind: MatchKind
    first: int
    last: int
    spans: tuple[Span, ...] = ()  # character spans of the words found (action, unit apart)
    text: str = ""


# --- matching one text part ---------------------------------------------------------------------


class _Gaps:
    """Counted words between an action and a unit: numbers, punctuation other than a sentence
    end, function words and words of a proper name ("Bộ Tài nguyên và Môi trường", "tỉnh Kon
    Tum": a word with a capital, and the syllable right after one, as Vietnamese names
    capitalise a word's first syllable only) are free. A full stop with a word right after it
    ("TP.HCM", "3.321") does not end a sentence."""

    def __init__(self, gaps: str, text: str) -> None:
        self.gaps, self.text = gaps, text  # gaps: what each token is (termindex.GAP_*)
        # No proper names in a text written in capitals or title case (judged on its start),
        # where every word would be one; judged at the first count: most parts need none.
        self.names: bool | None = None

    def __call__(self, start: int, stop: int, limit: int, numbered: bool = False) -> int | None:
        """Counted words in tokens [start, stop), or None if a sentence ends there, they are more
        than ``limit``, or (``numbered``) no number stands there."""
        if stop - start > limit + 8:
            return None
        stretch = self.gaps[start:stop]
        if GAP_END in stretch or (numbered and GAP_NUMBER not in stretch):
            return None
        if self.names is None:
            head = [t[0].isupper() for t in tokens_of(self.text[:300])]
            self.names = sum(head) * 5 <= len(head) * 3
        if self.names:  # a capitalised word is free, and so is a word right after one
            counted = stretch.count(GAP_WORD) - stretch.count(GAP_CAPITAL + GAP_WORD)
        else:
            counted = stretch.count(GAP_WORD) + stretch.count(GAP_CAPITAL)
        return None if counted > limit else counted


def _near(rule: NearRule, actions: list[tuple[int, int, str]], units: list[tuple[int, int, str]],
          starts: list[int],
          gap: _Gaps) -> list[tuple[tuple[int, int, str], tuple[int, int, str]]]:
    pairs = []
    reach = rule.within + 8 + 6  # a gap is None beyond within + 8; a term has a few words
    within, numbered = rule.within, rule.numbered
    after, before = rule.order != "unit_first", rule.order != "action_first"
    for action in actions:
        best: tuple[int, tuple[int, int, str]] | None = None
        lo = bisect_left(starts, action[0] - reach)
        hi = bisect_right(starts, action[1] + reach)
        for unit in units[lo:hi]:
            if unit[0] > action[1]:
                # The first unit after the action is the only one that can win among those
                # after it: a later one's gap holds this one's, and a tie keeps the first.
                found = gap(action[1] + 1, unit[0], within, numbered) if after else None
                if found is not None and (best is None or found < best[0]):
                    best = (found, unit)
                break
            if before and unit[1] < action[0]:
                found = gap(unit[1] + 1, action[0], within, numbered)
                if found is not None and (best is None or found < best[0]):
                    best = (found, unit)
        if best is not None:
            pairs.append((action, best[1]))
    return pairs


def _add_units(compiled: CompiledTopic, codes: str, where: Field,
               by_class: dict[str, list[tuple[int, int, str]]]) -> None:
    """The unit words near the actions found (a pair is never farther apart than this)."""
    windows = sorted((a[0] - within - 14, a[1] + within + 15)
                     for action, within in compiled.unit_reach.get(where, {}).items()
                     for a in by_class.get(action, ()))
    merged: list[tuple[int, int]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((max(lo, 0), hi))
    compiled.units.add_starting_in(codes, merged, by_class)


def _inside_longer(terms: list[tuple[int, int, str]], longest: dict[int, int],
                   cover: dict[int, int]) -> list[tuple[int, int, str]]:
    """``terms`` without those inside a longer class word (``longest``: start -> end of the
    longest starting there; ``cover``: token -> the farthest end of those over it that start
    up to 7 tokens before it)."""
    return [t for t in terms
            if cover.get(t[0], -1) < t[1] and longest.get(t[0], -1) <= t[1]]


def _find(compiled: CompiledTopic, text: str, where: Field) -> tuple[list[_Hit], list[_Hit]]:
    """Counted hits and cancelled ones (exclusions, context exclusions) in one NFC text part."""
    cut = compiled.cut(text)
    codes = cut.codes
    phrases, excludes, contexts, classed = compiled.terms.by_role(codes)
    by_class: dict[str, list[tuple[int, int, str]]] = {}
    add_classed(by_class, classed)
    if compiled.lazy and by_class:
        _add_units(compiled, codes, where, by_class)
    if by_class:
        # A class word inside a longer one is not a word of its own ("nhập" in "sáp nhập").
        longest: dict[int, int] = {}
        holders = compiled.holders
        for terms in by_class.values():
            for a, b, name in terms:
                if name in holders and b > longest.get(a, -1):
                    longest[a] = b
        if longest:
            # A word starting before another holds it only if it reaches that one's start.
            cover: dict[int, int] = {}
            for a, b in longest.items():
                for p in range(a + 1, min(b, a + 7) + 1):
                    if b > cover.get(p, -1):
                        cover[p] = b
            for cls, terms in by_class.items():
                by_class[cls] = _inside_longer(terms, longest, cover)
    if not phrases and not by_class:
        return [], []
    ends = cut.ends()  # only parts with a hit pay for the offsets
    size = cut.size

    def span(first: int, last: int) -> Span:
        return ends[first] - size(first), ends[last]

    at: dict[int, list[tuple[int, int, str]]] = {}  # token -> the exclusions over it
    for x in excludes:
        for p in range(x[0], x[1] + 1):
            at.setdefault(p, []).append(x)

    def overlaps(first: int, last: int) -> str | None:
        # An exclusion inside a longer term does not cancel it: "tổ chức chính trị - xã hội"
        # is not "xã hội", as "sáp nhập ngân hàng" is not "sáp nhập".
        if not at:
            return None
        for p in range(first, last + 1):
            for x in at.get(p, ()):
                if not (first <= x[0] and x[1] <= last and last - first > x[1] - x[0]):
                    return x[2]
        return None

    not_excluded: dict[str, tuple[list[tuple[int, int, str]], list[int]]] = {}

    def clear(cls: str) -> tuple[list[tuple[int, int, str]], list[int]]:
        # The words of a class no exclusion cancels, and where they start: once per class,
        # though rules share them.
        found = not_excluded.get(cls)
        if found is None:
            # (most words are one or two tokens, over no exclusion: two look-ups)
            words = ([t for t in by_class[cls]
                      if (t[1] - t[0] < 2 and t[0] not in at and t[1] not in at)
                      or overlaps(t[0], t[1]) is None] if at
                     else by_class[cls])
            found = not_excluded[cls] = (words, [t[0] for t in words])
        return found

    hits: list[_Hit] = []
    cancelled: list[_Hit] = []
    taken = -1
    for first, last, name in phrases:  # leftmost, then longest (terms come longest first)
        if first <= taken:
            continue
        taken = last
        s = span(first, last)
        blocker = overlaps(first, last) if at else None
        if blocker is None:
            hits.append(_Hit(name, "phrase", first, last, (s,), text[s[0]:s[1]]))
        else:
            cancelled.append(_Hit(blocker, "exclude", first, last, (s,), text[s[0]:s[1]]))
    in_phrase = {p: h.last for h in hits for p in range(h.first, h.last + 1)}
    gap = _Gaps(cut.gaps, text)
    for rule in compiled.topic.near:
        if where not in rule.fields:
            continue
        if rule.action not in by_class or rule.unit not in by_class:
            continue
        actions, (units, starts) = clear(rule.action)[0], clear(rule.unit)
        for action, unit in _near(rule, actions, units, starts, gap):
            first, last = min(action[0], unit[0]), max(action[1], unit[1])
            if in_phrase.get(first, -1) >= last:
                continue  # the phrase "tinh gọn bộ máy" already counts these words
            at_action, at_unit = span(action[0], action[1]), span(unit[0], unit[1])
            (x0, y0), (x1, y1) = ordered = ((at_action, at_unit) if at_action <= at_unit
                                            else (at_unit, at_action))
            hits.append(_Hit(rule.name, "near", first, last, ordered,
                             text[x0:y0] + ELLIPSIS + text[x1:y1]))
    if contexts and hits:
        hits, more = _context(compiled, hits, contexts)
        cancelled += more
    return hits, cancelled


def _context(compiled: CompiledTopic, hits: list[_Hit],
             contexts: list[tuple[int, int, str]]) -> tuple[list[_Hit], list[_Hit]]:
    kept: list[_Hit] = []
    cancelled: list[_Hit] = []
    starts = [c[0] for c in contexts]  # in text order
    widest = compiled.context_reach
    lowest, highest = starts[0] - widest, starts[-1] + widest
    weights = compiled.weights
    for hit in hits:
        blocker = None
        if hit.last >= lowest and hit.first <= highest and weights.get(hit.name, 0.0) > 0:
            near = contexts[bisect_left(starts, hit.first - widest):
                            bisect_right(starts, hit.last + widest)]
            for rule, words in compiled.context_rules if near else ():
                if rule.cancels and hit.name not in rule.cancels:
                    continue
                blocker = next((name for first, last, name in near if name in words
                                and first - hit.last <= rule.within
                                and hit.first - last <= rule.within), None)
                if blocker:
                    break
        if blocker is None:
            kept.append(hit)
        else:
            cancelled.append(_Hit(blocker, "context", hit.first, hit.last, hit.spans,
                                  f"{hit.text} ({hit.name})"))
    return kept, cancelled


# --- scoring ----------------------------------------------------------------------------------


# by count: 1, 1.5, 2 for one, two, three or more occurrences
_DAMPING = (0.0, 1.0, 1.5, 2.0)


def _field_hits(compiled: CompiledTopic, parts: Sequence[str],
                where: Field) -> tuple[list[_Hit], list[_Hit]]:
    # The paragraphs are matched in one pass, joined by a mark of the separator's length, so
    # offsets are those of the paragraphs joined by BODY_SEPARATOR; the mark is a token no term
    # holds and a near rule does not cross (it ends a sentence).
    text = PARAGRAPH_MARK.join(parts)
    if text.count(PARAGRAPH_MARK) >= len(parts):  # a paragraph holds the mark itself
        text = PARAGRAPH_MARK.join(p.replace(PARAGRAPH_MARK, BODY_SEPARATOR) for p in parts)
    return _find(compiled, text, where)


def _group(topic: str, where: Field, hits: list[_Hit], weights: dict[str, float],
           field_weight: float) -> list[Match]:
    grouped: dict[tuple[str, str], list[_Hit]] = {}
    for h in hits:
        grouped.setdefault((h.kind, h.name), []).append(h)
    out = []
    for (kind, name), found in grouped.items():
        weight = weights.get(name, 0.0) if kind in ("phrase", "near") else 0.0
        count = len(found)
        points = weight * field_weight * _DAMPING[min(count, 3)]
        # (a near rule's words in text order: from the first one's start to the farthest end)
        spans = tuple([h.spans[0] if len(h.spans) == 1 else
                       (h.spans[0][0], max([end for _, end in h.spans])) for h in found])
        # most phrases and rules are found once in a field: no dict to drop repeated texts
        terms = (found[0].text,) if count == 1 else tuple(dict.fromkeys([h.text for h in found]))
        out.append(Match(topic, name, where, count, weight, round(points, 4), spans,
                         kind, terms))  # type: ignore[arg-type]
    return out


def score_topic(topic: TopicConfig, title: str, sapo: str,
                body: Sequence[str]) -> tuple[float, list[Match], list[Match]]:
    """Score of one topic, with the matches that make it up and the cancelled hits."""
    compiled = compile_topic(topic)
    title, sapo = nfc(title), nfc(sapo)
    fields: tuple[tuple[Field, Sequence[str], float], ...] = (
        ("title", (title,), topic.title_weight),
        ("sapo", (sapo,), topic.sapo_weight),
        ("body", [nfc(p) for p in body], topic.body_weight),
    )
    matched: list[Match] = []
    cancelled: list[Match] = []
    for where, parts, field_weight in fields:
        if not any(parts):
            continue
        hits, masked = _field_hits(compiled, parts, where)
        matched += _group(topic.name, where, hits, compiled.weights, field_weight)
        cancelled += _group(topic.name, where, masked, {}, 0.0)
    if topic.model_weight:
        matched.append(_model_match(topic, title, sapo))
    score = round(sum(m.points for m in matched), 4)
    return score, matched, cancelled


MODEL = "relevance model"


def _model_match(topic: TopicConfig, title: str, sapo: str) -> Match:
    """The model's evidence, named by the words that weigh most for its answer."""
    judged = relevance_model.bundled().judge(title, sapo)
    points = round(topic.model_weight * (2 * judged.probability - 1), 4)
    return Match(topic.name, MODEL, "title", 1, topic.model_weight, points, (),
                 kind="model", terms=judged.terms)


def verdict_of(topic: TopicConfig, score: float) -> Verdict:
    if score >= topic.threshold:
        return "relevant"
    if score >= topic.review_at and score > 0:
        return "possible"
    return "not"


def judge(title: str, sapo: str, body: Sequence[str],
          topics: Iterable[TopicConfig]) -> tuple[list[TopicVerdict], list[Match]]:
    """Each topic's verdict on a title, sapo and body paragraphs, and the cancelled hits."""
    judged: list[TopicVerdict] = []
    excluded: list[Match] = []
    for topic in topics:
        score, found, masked = score_topic(topic, title, sapo, body)
        judged.append(TopicVerdict(topic.name, score, verdict_of(topic, score), tuple(found)))
        excluded += masked
    return judged, excluded


def relevance_of(judged: Sequence[TopicVerdict], excluded: Sequence[Match] = ()) -> Relevance:
    """Some topics' verdicts together: the best score, the strongest verdict, every topic's
    matches (and cancelled hits)."""
    relevant = tuple(v.topic for v in judged if v.verdict == "relevant")
    possible = tuple(v.topic for v in judged if v.verdict == "possible")
    verdict: Verdict = "relevant" if relevant else "possible" if possible else "not"
    return Relevance(score=max((v.score for v in judged), default=0.0), relevant=bool(relevant),
                     matched=tuple(m for v in judged for m in v.matched), topics=relevant,
                     excluded=tuple(excluded), verdict=verdict, possible_topics=possible)


def classify_fields(title: str, sapo: str, body: Sequence[str],
                    topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of a title, sapo and body paragraphs to any of ``topics``."""
    return relevance_of(*judge(title, sapo, body, topics))


def classify(article: Article, topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of an extracted article to any of ``topics``."""
    return classify_fields(article.title, article.sapo, article.body, topics)


def explain(match: Match) -> str:
    """One line naming the phrase or rule, the words found, where and the points."""
    if match.kind == "model":  # its probability is in the points: weight x (2p - 1)
        words = "; ".join(match.terms[:3]) or "no known word"
        return f"relevance model [{words}] on title and sapo = {match.points:g}"
    what = f"near rule {match.phrase!r}" if match.kind == "near" else repr(match.phrase)
    words = "; ".join(match.terms[:3])
    found = f" [{words}]" if words and match.kind == "near" else ""
    return f"{what}{found} in {match.where} x{match.count} = {match.points:g}"


def highlight_spans(text: str, topics: Sequence[TopicConfig]) -> list[Span]:
    """Where the topics' positive phrases and near-rule words occur in NFC ``text``: sorted,
    non-overlapping spans.

    Used to highlight displayed text (a title, a sapo, an excerpt) independently of where the
    article was scored, so an excerpt cut from the body is highlighted correctly.
    """
    spans: list[Span] = []
    for topic in topics:
        compiled = compile_topic(topic)
        hits, _ = _find(compiled, text, "body")
        spans += [s for h in hits if compiled.weights.get(h.name, 0.0) > 0 for s in h.spans]
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
