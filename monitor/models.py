"""Records passed between the steps of a run: frozen, slotted, fully typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Extractor = Literal["profile", "generic"]


@dataclass(frozen=True, slots=True)
class Removed:
    """A piece of the page that extraction dropped, and why (shown by ``monitor inspect``)."""

    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class Article:
    """The article of one page, stripped of everything around it."""

    url: str
    title: str
    sapo: str = ""
    body: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()
    author: str | None = None
    published_at: datetime | None = None
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    image: str | None = None
    extractor: Extractor = "profile"
    confidence: float = 1.0
    removed: tuple[Removed, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Sapo and body joined by blank lines: the text that is diffed and classified."""
        return "\n\n".join(p for p in (self.sapo, *self.body) if p)


@dataclass(frozen=True, slots=True)
class ListingLink:
    url: str
    title: str = ""
    published_at: datetime | None = None
    article_id: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The article links of a section page, in page order, and the next page if any."""

    url: str
    links: tuple[ListingLink, ...] = ()
    next_page: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """An article found by a source, before it is fetched."""

    url: str
    article_id: str
    source: str
    title: str = ""
    published_at: datetime | None = None
    lastmod: datetime | None = None


Verdict = Literal["relevant", "possible", "not"]
# What produced a match: a phrase, a near rule, or (in ``Relevance.excluded``) an exclusion
# overlapping a hit or a context exclusion near it.
MatchKind = Literal["phrase", "near", "exclude", "context", "model"]
# What became of one subscriber's digest in a delivery.
Status = Literal["sent", "resent", "failed", "rejected", "empty", "not-due", "skipped"]
# The outcomes of a digest handed to the mail server (accepted or refused): the ones the log
# and the metrics count; "empty", "not-due" and "skipped" sent nothing.
HANDED_OVER: frozenset[Status] = frozenset({"sent", "resent", "failed", "rejected"})


@dataclass(frozen=True, slots=True)
class TopicVerdict:
    """One topic's judgement of one text: its score, verdict and the matches that make it."""

    topic: str
    score: float
    verdict: Verdict
    matched: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Relevance:
    """Whether an article is about the topics, and why: the score is the sum of ``points``."""

    score: float
    relevant: bool
    matched: tuple[Match, ...] = field(default_factory=tuple)
    # Names of the topics whose threshold the article reached (empty when not relevant).
    topics: tuple[str, ...] = ()
    # Hits that did not count, each named by what cancelled it: an exclusion phrase overlapping
    # it (kind "exclude") or a context word near it (kind "context").
    excluded: tuple[Match, ...] = ()
    # "relevant" from a topic's threshold, "possible" from its review threshold, else "not".
    verdict: Verdict = "not"
    # Names of the topics for which the article is only "possible".
    possible_topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """One phrase of a topic found in one field of an article."""

    topic: str
    phrase: str
    where: Literal["title", "sapo", "body"]
    count: int
    weight: float
    # What this phrase added to the score: weight x field weight, damped for repeats.
    points: float = 0.0
    # Offsets in the NFC text of the field (the body: paragraphs joined by a blank line).
    spans: tuple[tuple[int, int], ...] = ()
    kind: MatchKind = "phrase"
    # The words found, as written ("sáp nhập … xã" for a near rule), one per distinct text.
    terms: tuple[str, ...] = ()
