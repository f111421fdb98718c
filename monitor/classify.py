"""Topic relevance: weighted phrases found on word boundaries, explained match by match (pure).

Each ``[[topics]]`` entry of config.toml is compiled once into two regular expressions over the
folding key of ``monitor.extract.text`` (lower case, NFC, one tone-mark placement; with
``accent_insensitive`` every diacritic dropped as well): one for the topic's phrases, one for its
exclusions. The key has the length of the NFC text, so a match's offsets are offsets in the text
the reader sees, which is what the digest's highlighting uses.

Scoring, per topic::

    score = sum over (phrase, field) of  weight(phrase) x weight(field) x damping(count)

where the field weights are ``title_weight`` / ``sapo_weight`` / ``body_weight`` and
``damping`` is 1, 1.5, 2 for one, two, three or more occurrences (a long article repeats a phrase
without being more on topic). A phrase may have a negative weight: counter-evidence. Where phrases
overlap, the leftmost and then longest wins, so "tinh gọn tổ chức bộ máy" is not also counted as
"tổ chức bộ máy". A phrase match that overlaps an exclusion ("sáp nhập ngân hàng") does not count.
An article is relevant to a topic when its score reaches the topic's ``threshold``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.config import TopicConfig
from monitor.extract.text import fold, fold_ascii, nfc
from monitor.models import Article, Match, Relevance

Field = Literal["title", "sapo", "body"]
Span = tuple[int, int]

# A body is matched paragraph by paragraph (a phrase never spans two), but offsets are given in
# the paragraphs joined by this separator, as ``Article.text`` joins them.
BODY_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a phrase in a text: offsets in the NFC text."""

    phrase: str
    start: int
    end: int


def _key(text: str, accent_insensitive: bool) -> str:
    """The matching key of NFC ``text``, guaranteed to have the same length."""
    # A few characters (such as "İ") lower-case to two; they never occur in a phrase, so they are
    # replaced to keep offsets exact.
    safe = "".join(c if len(c.lower()) == 1 else "\u25a1" for c in text)
    key = fold_ascii(safe) if accent_insensitive else fold(safe)
    return key if len(key) == len(text) else safe.lower()


def _pattern(phrases: Sequence[str], accent_insensitive: bool) -> re.Pattern[str] | None:
    words = [_key(nfc(p), accent_insensitive).split() for p in phrases]
    alternatives = sorted({r"\s+".join(map(re.escape, w)) for w in words if w}, key=len,
                          reverse=True)
    if not alternatives:
        return None
    # Longest first, so that at one position the longer phrase wins; lookarounds are the word
    # boundaries (\b would treat "2 cấp" and "178/2024" poorly at their edges).
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


class CompiledTopic:
    """A topic ready to match: its phrase and exclusion patterns, compiled once."""

    def __init__(self, topic: TopicConfig) -> None:
        self.topic = topic
        self.insensitive = topic.accent_insensitive
        self._by_key: dict[str, tuple[str, float]] = {}
        for phrase, weight in topic.phrases.items():
            self._by_key[self._norm(phrase)] = (phrase, weight)
        self._excluded: dict[str, str] = {self._norm(p): p for p in topic.exclude}
        self._phrases = _pattern(list(topic.phrases), self.insensitive)
        self._exclude = _pattern(list(topic.exclude), self.insensitive)

    def _norm(self, text: str) -> str:
        return " ".join(_key(nfc(text), self.insensitive).split())

    def _find(self, pattern: re.Pattern[str] | None, key: str,
              names: dict[str, str] | None = None) -> list[Hit]:
        if pattern is None:
            return []
        hits = []
        for m in pattern.finditer(key):
            norm = " ".join(m.group(0).split())
            phrase = names[norm] if names is not None else self._by_key[norm][0]
            hits.append(Hit(phrase, m.start(), m.end()))
        return hits

    def search(self, text: str) -> tuple[list[Hit], list[Hit]]:
        """Counted phrase hits and exclusion hits in NFC ``text``."""
        key = _key(text, self.insensitive)
        excluded = self._find(self._exclude, key, self._excluded)
        hits = [
            h for h in self._find(self._phrases, key)
            if not any(h.start < x.end and x.start < h.end for x in excluded)
        ]
        return hits, excluded

    def weight(self, phrase: str) -> float:
        return self._by_key[self._norm(phrase)][1]


_CACHE: dict[tuple[object, ...], CompiledTopic] = {}


def compile_topic(topic: TopicConfig) -> CompiledTopic:
    key = (topic.name, tuple(sorted(topic.phrases.items())), topic.exclude,
           topic.accent_insensitive)
    compiled = _CACHE.get(key)
    if compiled is None:
        if len(_CACHE) > 64:  # config reloads in a long-lived service must not grow this
            _CACHE.clear()
        compiled = _CACHE[key] = CompiledTopic(topic)
    return compiled


def _damping(count: int) -> float:
    return 1.0 + 0.5 * (min(count, 3) - 1)


def _field_hits(compiled: CompiledTopic, parts: Sequence[str]) -> tuple[list[Hit], list[Hit]]:
    hits: list[Hit] = []
    excluded: list[Hit] = []
    offset = 0
    for part in parts:
        found, masked = compiled.search(part)
        hits += [Hit(h.phrase, h.start + offset, h.end + offset) for h in found]
        excluded += [Hit(h.phrase, h.start + offset, h.end + offset) for h in masked]
        offset += len(part) + len(BODY_SEPARATOR)
    return hits, excluded


def _group(topic: str, where: Field, hits: list[Hit], weight_of: dict[str, float],
           field_weight: float) -> list[Match]:
    spans: dict[str, list[Span]] = {}
    for h in hits:
        spans.setdefault(h.phrase, []).append((h.start, h.end))
    out = []
    for phrase, found in spans.items():
        weight = weight_of.get(phrase, 0.0)
        points = weight * field_weight * _damping(len(found))
        out.append(Match(topic, phrase, where, len(found), weight, round(points, 4),
                         tuple(found)))
    return out


def score_topic(topic: TopicConfig, title: str, sapo: str,
                body: Sequence[str]) -> tuple[float, list[Match], list[Match]]:
    """Score of one topic, with the matches that make it up and the exclusions found."""
    compiled = compile_topic(topic)
    weights = dict(topic.phrases)
    fields: tuple[tuple[Field, Sequence[str], float], ...] = (
        ("title", (nfc(title),), topic.title_weight),
        ("sapo", (nfc(sapo),), topic.sapo_weight),
        ("body", [nfc(p) for p in body], topic.body_weight),
    )
    matched: list[Match] = []
    excluded: list[Match] = []
    for where, parts, field_weight in fields:
        hits, masked = _field_hits(compiled, parts)
        matched += _group(topic.name, where, hits, weights, field_weight)
        excluded += _group(topic.name, where, masked, {}, 0.0)
    score = round(sum(m.points for m in matched), 4)
    return score, matched, excluded


def classify_fields(title: str, sapo: str, body: Sequence[str],
                    topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of a title, sapo and body paragraphs to any of ``topics``.

    The score is the best topic's; ``matched`` and ``excluded`` hold every topic's matches.
    """
    best = 0.0
    relevant_topics: list[str] = []
    matched: list[Match] = []
    excluded: list[Match] = []
    for i, topic in enumerate(topics):
        score, found, masked = score_topic(topic, title, sapo, body)
        matched += found
        excluded += masked
        if i == 0 or score > best:
            best = score
        if score >= topic.threshold:
            relevant_topics.append(topic.name)
    return Relevance(score=best, relevant=bool(relevant_topics), matched=tuple(matched),
                     topics=tuple(relevant_topics), excluded=tuple(excluded))


def classify(article: Article, topics: Sequence[TopicConfig]) -> Relevance:
    """Relevance of an extracted article to any of ``topics``."""
    return classify_fields(article.title, article.sapo, article.body, topics)


def highlight_spans(text: str, topics: Sequence[TopicConfig]) -> list[Span]:
    """Where the topics' positive phrases occur in NFC ``text``: sorted, non-overlapping spans.

    Used to highlight displayed text (a title, a sapo, an excerpt) independently of where the
    article was scored, so an excerpt cut from the body is highlighted correctly.
    """
    spans: list[Span] = []
    for topic in topics:
        compiled = compile_topic(topic)
        hits, _ = compiled.search(text)
        spans += [(h.start, h.end) for h in hits if compiled.weight(h.phrase) > 0]
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
