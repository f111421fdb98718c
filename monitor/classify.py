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

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, count
from operator import itemgetter
from typing import Literal

from monitor.config import NearRule, TopicConfig
from monitor.extract.text import fold, fold_ascii, nfc
from monitor.models import Article, Match, MatchKind, Relevance, Verdict

Field = Literal["title", "sapo", "body"]
Span = tuple[int, int]
# What a term is: its role (below), its name as written in the config, its class (near rules)
_Entry = tuple[int, str, str]
# Terms of two words or more that start with the same two: size -> all their keys -> entries
_BySize = dict[int, dict[tuple[str, ...], list[_Entry]]]
# Roles: a phrase, an exclusion, a context exclusion's word, a word of a class some rule uses as
# an action, a word of a class only ever a unit (looked for near the actions only).
_PHRASE, _EXCLUDE, _CONTEXT, _CLASS, _UNIT = range(5)

# A body is matched paragraph by paragraph (a phrase never spans two), but offsets are given in
# the paragraphs joined by this separator, as ``Article.text`` joins them.
BODY_SEPARATOR = "\n\n"
PARAGRAPH_MARK = "\n\u00b6"  # "¶": as long as BODY_SEPARATOR
ELLIPSIS = " … "

_TOKEN = re.compile(r"\w+|[^\w\s]")
# The same tokens with the space before each: their lengths add up to each token's end offset.
_SPACED_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")
# Words that may stand between an action and its unit without counting as distance.
FUNCTION_WORDS = frozenset(fold(w) for w in """
    và hoặc với cùng các những nhiều mọi một số của cho từ lại gần hơn trên dưới khoảng toàn
    đã sẽ được bị đang vừa mới thêm tiếp tục thành vào này đó hai ba bốn năm sáu bảy tám chín
    mười trăm nghìn ngàn triệu tỉnh thành phố
""".split()) - {fold("tỉnh"), fold("thành"), fold("phố")}
_SENTENCE_END = frozenset("!?;…\u00b6")
_TONES = "\u0300\u0301\u0309\u0303\u0323"
_VOWELS = frozenset("aăâeêioôơuưy")


@dataclass(frozen=True, slots=True)
class _Hit:
    """Something found in one text part: token range [first, last] and what it is."""

    name: str  # the phrase, rule or context word as written in the config
    kind: MatchKind
    first: int
    last: int
    spans: tuple[Span, ...] = ()  # character spans of the words found (action, unit apart)
    text: str = ""


# --- compiling --------------------------------------------------------------------------------


def _variants(token: str) -> set[str]:
    """Every tone-mark placement of one lower-case token (the keys ``fold`` maps together)."""
    decomposed = unicodedata.normalize("NFD", token)
    tones = [c for c in decomposed if c in _TONES]
    if len(tones) != 1:
        return {token}
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    out = {token}
    for i, c in enumerate(base):
        if c in _VOWELS:
            out.add(unicodedata.normalize("NFC", base[:i] + c + tones[0] + base[i + 1:]))
    return out


class CompiledTopic:
    """A topic ready to match: every term as a token sequence, indexed by its first token."""

    def __init__(self, topic: TopicConfig) -> None:
        self.topic = topic
        self.insensitive = topic.accent_insensitive
        # key of a token as written -> key it is compared by (filled with every tone placement
        # of the config's words, so text tokens are looked up, never folded one by one).
        self._canon: dict[str, str] = {}
        # Terms indexed by their first token key (one-word terms) and by their first two
        # (longer ones), so that each token costs a dictionary look-up or two; longer terms
        # then by length, longest first, and all their keys (one look-up per length).
        self._single: dict[str, list[_Entry]] = {}
        self._multi: dict[tuple[str, str], _BySize] = {}
        # The words of classes that are only ever a rule's unit ("xã", "bộ", "Hà Nội": the
        # commonest) count only near an action (``_add_units``): found in the same pass as
        # the other terms (one pass is cheaper than a second one over the actions' windows).
        self.lazy = {r.unit for r in topic.near} - {r.action for r in topic.near}
        self.weights: dict[str, float] = {}
        for phrase, weight in topic.phrases.items():
            self._add(phrase, _PHRASE, phrase)
            self.weights[phrase] = weight
        for phrase in topic.exclude:
            self._add(phrase, _EXCLUDE, phrase)
        self.classes: set[str] = set()
        for rule in topic.near:
            for cls in (rule.action, rule.unit):
                if cls not in self.classes and cls in topic.classes:
                    self.classes.add(cls)
                    role = _UNIT if cls in self.lazy else _CLASS
                    for word in topic.classes[cls]:
                        self._add(word, role, word, cls)
            self.weights[rule.name] = rule.weight
        self.context_rules = [(ctx, frozenset(ctx.words)) for ctx in topic.exclude_near]
        for ctx in topic.exclude_near:
            for word in ctx.words:
                self._add(word, _CONTEXT, word)
        for pair, by_size in self._multi.items():
            self._multi[pair] = dict(sorted(by_size.items(), reverse=True))
        firsts = {*self._single} | {k[0] for k in self._multi}
        self.triggers = frozenset(t for t, k in self._canon.items() if k in firsts)

    def _key(self, token: str) -> str:
        return fold_ascii(token) if self.insensitive else fold(token)

    def _add(self, text: str, role: int, name: str, cls: str = "") -> None:
        tokens = _TOKEN.findall(nfc(text).lower())
        if not tokens:
            return
        keys = tuple(self._key(t) for t in tokens)
        for token, key in zip(tokens, keys, strict=True):
            for variant in _variants(token) | {key}:
                self._canon[variant] = key
        if len(keys) == 1:
            self._single.setdefault(keys[0], []).append((role, name, cls))
        else:
            by_size = self._multi.setdefault((keys[0], keys[1]), {})
            by_size.setdefault(len(keys), {}).setdefault(keys, []).append((role, name, cls))

    def keys(self, tokens: Sequence[str]) -> list[str]:
        if self.insensitive:
            return [fold_ascii(t) for t in tokens]
        return list(map(self._canon.get, tokens, tokens))

    def terms(self, keys: Sequence[str]) -> list[tuple[int, int, int, str, str]]:
        """(first, last, role, name, class) of every term in keys, by start and then longest
        first."""
        single, multi = self._single, self._multi
        n = len(keys)
        out: list[tuple[int, int, int, str, str]] = []
        # The positions are found by C-level look-ups over the whole part: only the few tokens
        # that start a term are visited in Python.
        for i in compress(count(), map(multi.__contains__, zip(keys, keys[1:]))):
            for size, table in multi[(keys[i], keys[i + 1])].items():
                if i + size <= n:
                    for role, name, cls in table.get(tuple(keys[i:i + size]), ()):
                        out.append((i, i + size - 1, role, name, cls))
        for i in compress(count(), map(single.__contains__, keys)):
            for role, name, cls in single[keys[i]]:
                out.append((i, i, role, name, cls))
        # Stable: at one token the longer (multi-word, longest first) terms stay before singles.
        out.sort(key=itemgetter(0))
        return out


_CACHE: dict[int, tuple[TopicConfig, CompiledTopic]] = {}


def compile_topic(topic: TopicConfig) -> CompiledTopic:
    # Keyed by identity (a config is loaded once; the entry keeps the topic alive, so its id is
    # not reused while cached): hashing the phrase table on every call would cost more than
    # classifying a short article.
    cached = _CACHE.get(id(topic))
    if cached is not None and cached[0] is topic:
        return cached[1]
    if len(_CACHE) > 64:  # config reloads in a long-lived service must not grow this
        _CACHE.clear()
    compiled = CompiledTopic(topic)
    _CACHE[id(topic)] = (topic, compiled)
    return compiled


# --- matching one text part ---------------------------------------------------------------------


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters (such as "İ") lower-case to two; none is in a term, so they are replaced
    # to keep offsets exact.
    return "".join(c.lower() if len(c.lower()) == 1 else "\u25a1" for c in text)


class _Gaps:
    """Counted words between an action and a unit: numbers, punctuation other than a sentence
    end, function words and words of a proper name ("Bộ Tài nguyên và Môi trường", "tỉnh Kon
    Tum") are free. Rules often pair the same words, so each stretch is counted once."""

    def __init__(self, keys: Sequence[str], text: str, start: Callable[[int], int]) -> None:
        self.keys, self.text, self.start = keys, text, start
        self.counted: dict[tuple[int, int], int | None] = {}
        # No proper names in a text written in capitals or title case (judged on its start),
        # where every word would be one; judged at the first look-up: most parts need none.
        self.names: bool | None = None

    def __call__(self, start: int, stop: int, limit: int) -> int | None:
        """Counted words in keys[start:stop], or None if a sentence ends there or they are more
        than ``limit``."""
        if stop - start > limit + 8:
            return None
        span = (start, stop)
        if span in self.counted:
            counted = self.counted[span]
        else:
            counted = self.counted[span] = self._count(start, stop)
        return None if counted is None or counted > limit else counted

    def _count(self, start: int, stop: int) -> int | None:
        keys = self.keys
        counted = 0
        for j in range(start, stop):
            key = keys[j]
            if key in _SENTENCE_END or (key == "." and not _between_digits(keys, j)):
                return None
            # key[:1]: a lone combining mark folds to "" without accents
            if key.isdigit() or key in FUNCTION_WORDS or not key[:1].isalnum() or self._name(j):
                continue
            counted += 1
        return counted

    def _name(self, j: int) -> bool:
        if self.names is None:
            head = [t[0].isupper() for t in _TOKEN.findall(self.text[:300])]
            self.names = sum(head) * 5 <= len(head) * 3
        return self.names and self.text[self.start(j)].isupper()


def _between_digits(keys: Sequence[str], j: int) -> bool:
    return 0 < j < len(keys) - 1 and keys[j - 1].isdigit() and keys[j + 1].isdigit()


def _near(rule: NearRule, actions: list[tuple[int, int, str]], units: list[tuple[int, int, str]],
          gap: _Gaps) -> list[tuple[tuple[int, int, str], tuple[int, int, str]]]:
    pairs = []
    starts = [u[0] for u in units]  # units come in text order
    reach = rule.within + 8 + 6  # a gap is None beyond within + 8; a term has a few words
    within, any_order = rule.within, rule.order == "any"
    for action in actions:
        best: tuple[int, tuple[int, int, str]] | None = None
        lo = bisect_left(starts, action[0] - reach)
        hi = bisect_right(starts, action[1] + reach)
        for unit in units[lo:hi]:
            if unit[0] > action[1]:
                # The first unit after the action is the only one that can win among those
                # after it: a later one's gap holds this one's, and a tie keeps the first.
                found = gap(action[1] + 1, unit[0], within)
                if found is not None and (best is None or found < best[0]):
                    best = (found, unit)
                break
            if any_order and unit[1] < action[0]:
                found = gap(unit[1] + 1, action[0], within)
                if found is not None and (best is None or found < best[0]):
                    best = (found, unit)
        if best is not None:
            pairs.append((action, best[1]))
    return pairs


def _add_units(compiled: CompiledTopic, units: list[tuple[int, int, str, str]], n: int,
               where: Field, by_class: dict[str, list[tuple[int, int, str]]]) -> None:
    """The unit words near the actions found (a pair is never farther apart than this)."""
    windows = sorted((a[0] - rule.within - 14, a[1] + rule.within + 15)
                     for rule in compiled.topic.near
                     if rule.unit in compiled.lazy and where in rule.fields
                     for a in by_class.get(rule.action, ()))
    merged: list[tuple[int, int]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((max(lo, 0), hi))
    k = 0
    for first, last, name, cls in units:  # in text order, as the windows
        while k < len(merged) and min(merged[k][1], n) <= first:
            k += 1
        if k == len(merged):
            break
        if first >= merged[k][0]:
            found = by_class.setdefault(cls, [])
            if not found or found[-1][0] != first:
                found.append((first, last, name))


def _inside_longer(terms: list[tuple[int, int, str]], longest: dict[int, int],
                   before: dict[int, int]) -> list[tuple[int, int, str]]:
    """``terms`` without those inside a longer class word (``longest``: start -> end of the
    longest starting there; ``before``: token -> the farthest end of those starting up to 7
    tokens before it)."""
    return [t for t in terms
            if before.get(t[0], -1) < t[1] and longest.get(t[0], -1) <= t[1]]


def _find(compiled: CompiledTopic, text: str, where: Field) -> tuple[list[_Hit], list[_Hit]]:
    """Counted hits and cancelled ones (exclusions, context exclusions) in one NFC text part."""
    low = _lower(text)
    # One pass: each token with the spaces before it; the lengths add up to the offsets.
    pieces = _SPACED_TOKEN.findall(low)
    tokens = list(map(str.lstrip, pieces))
    if compiled.triggers.isdisjoint(tokens) and not compiled.insensitive:
        return [], []
    keys = compiled.keys(tokens)
    phrases: list[tuple[int, int, str]] = []
    excludes: list[tuple[int, int, str]] = []
    contexts: list[tuple[int, int, str]] = []
    units: list[tuple[int, int, str, str]] = []
    by_class: dict[str, list[tuple[int, int, str]]] = {}
    for first, last, role, name, cls in compiled.terms(keys):
        if role == _CLASS:
            found = by_class.setdefault(cls, [])
            if not found or found[-1][0] != first:  # longest term of a class at one token
                found.append((first, last, name))
        elif role == _UNIT:
            units.append((first, last, name, cls))
        elif role == _PHRASE:
            phrases.append((first, last, name))
        elif role == _EXCLUDE:
            excludes.append((first, last, name))
        else:
            contexts.append((first, last, name))
    if units and by_class:
        _add_units(compiled, units, len(keys), where, by_class)
    if by_class:
        # A class word inside a longer one is not a word of its own ("nhập" in "sáp nhập").
        longest: dict[int, int] = {}
        for terms in by_class.values():
            for a, b, _ in terms:
                if b > a and b > longest.get(a, -1):
                    longest[a] = b
        if longest:
            before: dict[int, int] = {}
            for a, b in longest.items():
                for p in range(a + 1, a + 8):
                    if b > before.get(p, -1):
                        before[p] = b
            for cls, terms in by_class.items():
                by_class[cls] = _inside_longer(terms, longest, before)
    if not phrases and not by_class:
        return [], []
    ends: list[int] = []

    def span(first: int, last: int) -> Span:
        if not ends:  # only parts with a hit pay for the offsets
            ends.extend(accumulate(map(len, pieces)))
        return ends[first] - len(tokens[first]), ends[last]

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

    not_excluded: dict[str, list[tuple[int, int, str]]] = {}

    def clear(cls: str) -> list[tuple[int, int, str]]:
        # The words of a class no exclusion cancels: once per class, though rules share them.
        found = not_excluded.get(cls)
        if found is None:
            found = not_excluded[cls] = (
                [t for t in by_class[cls] if overlaps(t[0], t[1]) is None] if at
                else by_class[cls])
        return found

    hits: list[_Hit] = []
    cancelled: list[_Hit] = []
    taken = -1
    for first, last, name in phrases:  # leftmost, then longest (terms come longest first)
        if first <= taken:
            continue
        taken = last
        s = span(first, last)
        hit = _Hit(name, "phrase", first, last, (s,), text[s[0]:s[1]])
        blocker = overlaps(first, last)
        if blocker is None:
            hits.append(hit)
        else:
            cancelled.append(_Hit(blocker, "exclude", first, last, (s,), hit.text))
    in_phrase = {p: h.last for h in hits for p in range(h.first, h.last + 1)}
    gap = _Gaps(keys, text, lambda j: span(j, j)[0])
    for rule in compiled.topic.near:
        if where not in rule.fields:
            continue
        if rule.action not in by_class or rule.unit not in by_class:
            continue
        actions, units_ = clear(rule.action), clear(rule.unit)
        for action, unit in _near(rule, actions, units_, gap):
            first, last = min(action[0], unit[0]), max(action[1], unit[1])
            if in_phrase.get(first, -1) >= last:
                continue  # the phrase "tinh gọn bộ máy" already counts these words
            ordered = sorted((span(action[0], action[1]), span(unit[0], unit[1])))
            words = ELLIPSIS.join(text[x:y] for x, y in ordered)
            hits.append(_Hit(rule.name, "near", first, last, tuple(ordered), words))
    if contexts and hits:
        hits, more = _context(compiled, hits, contexts)
        cancelled += more
    return hits, cancelled


def _context(compiled: CompiledTopic, hits: list[_Hit],
             contexts: list[tuple[int, int, str]]) -> tuple[list[_Hit], list[_Hit]]:
    kept: list[_Hit] = []
    cancelled: list[_Hit] = []
    starts = [c[0] for c in contexts]  # in text order
    widest = max(r.within for r in compiled.topic.exclude_near) + 8
    for hit in hits:
        blocker = None
        if compiled.weights.get(hit.name, 0.0) > 0:
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


def _damping(count: int) -> float:
    return 1.0 + 0.5 * (min(count, 3) - 1)


def _field_hits(compiled: CompiledTopic, parts: Sequence[str],
                where: Field) -> tuple[list[_Hit], list[_Hit]]:
    # The paragraphs are matched in one pass, joined by a mark of the separator's length, so
    # offsets are those of the paragraphs joined by BODY_SEPARATOR; the mark is a token no term
    # holds and a near rule does not cross (it ends a sentence).
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
        points = weight * field_weight * _damping(len(found))
        spans = tuple((min(s[0] for s in h.spans), max(s[1] for s in h.spans)) for h in found)
        terms = tuple(dict.fromkeys(h.text for h in found))
        out.append(Match(topic, name, where, len(found), weight, round(points, 4), spans,
                         kind=kind, terms=terms))  # type: ignore[arg-type]
    return out


def score_topic(topic: TopicConfig, title: str, sapo: str,
                body: Sequence[str]) -> tuple[float, list[Match], list[Match]]:
    """Score of one topic, with the matches that make it up and the cancelled hits."""
    compiled = compile_topic(topic)
    fields: tuple[tuple[Field, Sequence[str], float], ...] = (
        ("title", (nfc(title),), topic.title_weight),
        ("sapo", (nfc(sapo),), topic.sapo_weight),
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
    score = round(sum(m.points for m in matched), 4)
    return score, matched, cancelled


def verdict_of(topic: TopicConfig, score: float) -> Verdict:
    if score >= topic.threshold:
        return "relevant"
    if score >= topic.review_at and score > 0:
        return "possible"
    return "not"


def classify_fields(title: str, sapo: str, body: Sequence[str],
                    topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of a title, sapo and body paragraphs to any of ``topics``.

    The score is the best topic's; the verdict the strongest any topic gives; ``matched`` and
    ``excluded`` hold every topic's matches.
    """
    best = 0.0
    verdict: Verdict = "not"
    relevant_topics: list[str] = []
    possible_topics: list[str] = []
    matched: list[Match] = []
    excluded: list[Match] = []
    for i, topic in enumerate(topics):
        score, found, masked = score_topic(topic, title, sapo, body)
        matched += found
        excluded += masked
        if i == 0 or score > best:
            best = score
        topic_verdict = verdict_of(topic, score)
        if topic_verdict == "relevant":
            relevant_topics.append(topic.name)
            verdict = "relevant"
        elif topic_verdict == "possible":
            possible_topics.append(topic.name)
            if verdict == "not":
                verdict = "possible"
    return Relevance(score=best, relevant=verdict == "relevant", matched=tuple(matched),
                     topics=tuple(relevant_topics), excluded=tuple(excluded), verdict=verdict,
                     possible_topics=tuple(possible_topics))


def classify(article: Article, topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of an extracted article to any of ``topics``."""
    return classify_fields(article.title, article.sapo, article.body, topics)


def explain(match: Match) -> str:
    """One line naming the phrase or rule, the words found, where and the points."""
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
