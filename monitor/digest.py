"""Digests: each subscriber's due items, and the email they read (pure: values in, values out).

``choose`` picks, from the stored articles a subscriber has not yet received (``Candidate``), the
ones relevant to their topics, newest first, and the delivered ones whose title, sapo or body
changed materially since (the "Cập nhật" section). ``render`` turns a ``Digest`` into a subject,
an HTML body and a plain-text body with one Jinja2 environment (autoescape on, undefined names
are errors), from the operator's ``templates_dir`` first, then the package's (``monitor.jinja``).

Only http(s) links reach a template: any other URL (``javascript:``, ``data:``) is dropped here.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from monitor import jinja
from monitor.classify import classify_fields, highlight_spans
from monitor.config import Config, DigestConfig, SubscriberConfig, TopicConfig
from monitor.extract.text import VN_TZ, fold, format_local, nfc
from monitor.models import Relevance
from monitor.worddiff import Run, word_diff

ItemKind = Literal["new", "update"]
FieldName = Literal["title", "sapo", "body"]

# A change is material when at least this many words differ (any word, for a title).
SAPO_MIN_WORDS = 3
BODY_MIN_WORDS = 15
EXCERPT_CHARS = 280
MAX_PHRASES = 6
# The phrases themselves contain commas ("126 xã, phường"): a comma cannot separate them.
PHRASE_SEPARATOR = " · "
_WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_LEAD = re.compile(r"^\s*kinhtedothi\s*[-–—:]\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The text of one version of an article."""

    title: str
    sapo: str
    body: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored article as one subscriber stands towards it."""

    article_id: int
    url: str
    title: str
    sapo: str
    body: tuple[str, ...]
    published_at: datetime | None
    first_seen: datetime
    version: int
    # What this subscriber last received of it, if anything.
    delivered_version: int | None = None
    delivered: Snapshot | None = None
    # The stored verdicts of the subscriber's topics on this version, when the store has them
    # (else ``choose`` classifies the text); ``due``: the store selected it as due (its verdict
    # is one the subscriber asked for), so ``choose`` need not judge it again.
    relevance: Relevance | None = None
    due: bool = False
    version_id: int = 0

    @property
    def when(self) -> datetime:
        return self.published_at or self.first_seen


@dataclass(frozen=True, slots=True)
class Change:
    """How one field changed since the subscriber received the article."""

    field: FieldName
    before: str
    after: str
    summary: str = ""


@dataclass(frozen=True, slots=True)
class DigestItem:
    article_id: int
    version: int
    kind: ItemKind
    title: str
    url: str | None  # None when the stored URL is not http(s)
    when: datetime
    sapo: str
    excerpt: str
    relevance: Relevance
    changes: tuple[Change, ...] = ()
    # In the "Có thể liên quan" section (a "new" item for the ledger).
    possible: bool = False


@dataclass(frozen=True, slots=True)
class Digest:
    subscriber: SubscriberConfig
    topics: tuple[TopicConfig, ...]
    created_at: datetime
    new: tuple[DigestItem, ...] = ()
    updates: tuple[DigestItem, ...] = ()
    held_back: int = 0  # relevant items over [digest] max_items, left for the next digest
    # Past the size budget (``fit``): listed at the end by title and link only.
    more: tuple[DigestItem, ...] = ()
    # "Có thể liên quan": new items whose verdict is only "possible" (delivered once, like the
    # others: the ledger records them, so one that later becomes relevant is not new again).
    possible: tuple[DigestItem, ...] = ()

    @property
    def items(self) -> tuple[DigestItem, ...]:
        """Every item the message carries, in full or listed: what the ledger records."""
        return self.new + self.updates + self.possible + self.more

    def count(self, kind: ItemKind) -> int:
        """Main items of ``kind`` (the possible section is counted apart)."""
        return sum(1 for i in self.items if i.kind == kind and not i.possible)

    @property
    def empty(self) -> bool:
        return not self.items

    @property
    def key(self) -> str:
        """Names this digest: the same subscriber and items give the same key (and Message-ID)."""
        parts = sorted(f"{i.kind}:{i.article_id}:{i.version}" for i in self.items)
        if not parts:  # an empty digest is one per delivery slot
            parts = [self.created_at.astimezone(VN_TZ).strftime("empty:%Y-%m-%dT%H:%M")]
        data = "\n".join([self.subscriber.email.lower(), *parts])
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


# --- choosing -----------------------------------------------------------------------------------


def http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL without whitespace or control characters."""
    if not url or _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def one_line(text: str) -> str:
    """NFC, control characters and line breaks gone, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", nfc(text)).split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


def _changed_words(before: Sequence[str], after: Sequence[str]) -> int:
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def material_changes(before: Snapshot, after: Snapshot) -> tuple[Change, ...]:
    """The fields that changed enough to tell a reader: typo fixes and re-spacing do not."""
    changes: list[Change] = []
    if _words(before.title) != _words(after.title):
        changes.append(Change("title", one_line(before.title), one_line(after.title)))
    if _changed_words(_words(before.sapo), _words(after.sapo)) >= SAPO_MIN_WORDS:
        changes.append(Change("sapo", _strip_lead(before.sapo), _strip_lead(after.sapo)))
    old_words = _words("\n".join(before.body))
    new_words = _words("\n".join(after.body))
    if _changed_words(old_words, new_words) >= BODY_MIN_WORDS:
        changes.append(_body_change(before.body, after.body))
    return tuple(changes)


def _body_change(before: Sequence[str], after: Sequence[str]) -> Change:
    old = [one_line(p) for p in before]
    new = [one_line(p) for p in after]
    added = removed = edited = 0
    first_new = first_old = ""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        edited += paired
        added += (j2 - j1) - paired
        removed += (i2 - i1) - paired
        first_new = first_new or next((p for p in new[j1:j2] if p), "")
        first_old = first_old or next((p for p in old[i1:i2] if p), "")
    summary = ", ".join(f"{label} {n} đoạn" for label, n in
                        (("thêm", added), ("sửa", edited), ("bớt", removed)) if n)
    return Change("body", first_old, first_new, summary)


DueKind = Literal["new", "update", "possible"]
Due = tuple[DueKind, Relevance, tuple[Change, ...]]


def due_kind(c: Candidate, topics: Sequence[TopicConfig], settings: DigestConfig,
             since: datetime | None = None, *, possible: bool = True) -> Due | None:
    """Whether ``c`` is due, as what, and why: the rule ``choose`` keeps items by. A "possible"
    item (its verdict only "possible", and the subscriber keeps that section) is new to the
    ledger like any other."""
    if c.delivered_version is None:
        if since is not None and (c.when < since or c.first_seen < since):
            return None
        relevance = c.relevance or classify_fields(c.title, c.sapo, c.body, topics)
        if relevance.relevant:
            return "new", relevance, ()
        return ("possible", relevance, ()) if possible and relevance.verdict == "possible" else None
    if settings.show_updates and c.delivered and c.version > c.delivered_version:
        changes = material_changes(c.delivered, Snapshot(c.title, c.sapo, c.body))
        if changes:
            relevance = c.relevance or classify_fields(c.title, c.sapo, c.body, topics)
            return "update", relevance, changes
    return None


def choose(subscriber: SubscriberConfig, topics: Sequence[TopicConfig],
           candidates: Sequence[Candidate], *, now: datetime, settings: DigestConfig,
           since: datetime | None = None) -> Digest:
    """The digest due to ``subscriber`` now, from what they have not received yet."""
    new: list[DigestItem] = []
    updates: list[DigestItem] = []
    possible: list[DigestItem] = []
    for c in candidates:
        found = due_kind(c, topics, settings, since, possible=subscriber.possible)
        if found is not None:
            kind, relevance, changes = found
            if kind == "possible":
                possible.append(_item(c, "new", relevance, topics, possible=True))
            else:
                (new if kind == "new" else updates).append(
                    _item(c, kind, relevance, topics, changes))
    for found_items in (new, updates, possible):
        found_items.sort(key=lambda i: (i.when, i.article_id), reverse=True)
    room = max(settings.max_items, 0)
    kept_new = new[:room]
    kept_updates = updates[: max(room - len(kept_new), 0)]
    kept_possible = possible[: max(room - len(kept_new) - len(kept_updates), 0)]
    held = (len(new) + len(updates) + len(possible)
            - len(kept_new) - len(kept_updates) - len(kept_possible))
    return Digest(subscriber, tuple(topics), now, tuple(kept_new), tuple(kept_updates), held,
                  possible=tuple(kept_possible))


def _item(c: Candidate, kind: ItemKind, relevance: Relevance, topics: Sequence[TopicConfig],
          changes: tuple[Change, ...] = (), *, possible: bool = False) -> DigestItem:
    return DigestItem(
        article_id=c.article_id, version=c.version, kind=kind, title=one_line(c.title),
        url=http_url(c.url), when=c.when, sapo=_strip_lead(c.sapo),
        excerpt="" if possible else excerpt(c.body, topics), relevance=relevance,
        changes=changes, possible=possible,
    )


def _strip_lead(sapo: str) -> str:
    # Every sapo opens with "Kinhtedothi - ": noise in a digest made of them.
    return _LEAD.sub("", one_line(sapo))


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–") + "…"


def excerpt(body: Sequence[str], topics: Sequence[TopicConfig],
            limit: int = EXCERPT_CHARS) -> str:
    """A short passage of the body: around the first topic phrase, else its first paragraph."""
    paragraphs = [one_line(p) for p in body if one_line(p)]
    # Subheadings are short and read poorly alone: paragraphs of some length come first.
    ranked = [p for p in paragraphs if len(p) > 60] + [p for p in paragraphs if len(p) <= 60]
    for p in ranked:
        spans = _spans(p, tuple(topics))
        if spans:
            start = spans[0][0]
            if len(p) <= limit or start < limit // 3:
                return _shorten(p, limit)
            # Start at a word a little before the phrase, so it reads as a sentence fragment.
            begin = p.rfind(" ", 0, max(start - limit // 4, 0)) + 1
            return "…" + _shorten(p[begin:], limit)
    longer = [p for p in paragraphs if len(p) > 60]
    return _shorten((longer or paragraphs or [""])[0], limit)


# --- rendering ----------------------------------------------------------------------------------

Parts = list[tuple[str, bool]]


@dataclass(frozen=True, slots=True)
class _View:
    """One item as the templates see it: text already cut into highlighted parts."""

    kind: str
    url: str | None
    title: Parts
    time: str
    sapo: Parts
    excerpt: Parts
    phrases: tuple[str, ...]
    changes: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class _Day:
    label: str
    items: tuple[_View, ...] = field(default_factory=tuple)


@functools.lru_cache(maxsize=4096)
def _spans(text: str, topics: tuple[TopicConfig, ...]) -> tuple[tuple[int, int], ...]:
    # Fitting a digest to its size budget renders it several times: each text is matched once.
    return tuple(highlight_spans(text, topics))


def highlight(text: str, topics: Sequence[TopicConfig]) -> Parts:
    """``text`` cut into (part, is_a_topic_phrase) pieces, for the templates to mark up."""
    parts: Parts = []
    last = 0
    for start, end in _spans(text, tuple(topics)):
        if start > last:
            parts.append((text[last:start], False))
        parts.append((text[start:end], True))
        last = end
    if last < len(text) or not parts:
        parts.append((text[last:], False))
    return parts


def _phrases(relevance: Relevance) -> tuple[str, ...]:
    """The words that made an item relevant, strongest first: a phrase, or for a near rule the
    words it found ("sáp nhập … xã"), which say more to a reader than the rule's name."""
    best: dict[str, float] = {}
    for m in relevance.matched:
        if m.points > 0:
            words = m.terms[0].lower() if m.kind in ("near", "model") and m.terms else m.phrase
            best[words] = best.get(words, 0.0) + m.points
    return tuple(sorted(best, key=lambda p: (-best[p], p))[:MAX_PHRASES])


_FIELD_LABELS = {"title": "Tiêu đề", "sapo": "Sapo", "body": "Nội dung"}


def change_runs(change: Change) -> list[Run]:
    """What changed in a field, word by word; a paragraph added or removed whole is shortened."""
    if not change.before:
        return [(_shorten(change.after, EXCERPT_CHARS), "ins")]
    if not change.after:
        return [(_shorten(change.before, EXCERPT_CHARS), "del")]
    return word_diff(change.before, change.after)


def _view(item: DigestItem, topics: Sequence[TopicConfig]) -> _View:
    changes = tuple(
        {"label": _FIELD_LABELS[c.field], "field": c.field, "summary": c.summary,
         "diff": change_runs(c)}
        for c in item.changes
    )
    return _View(kind=item.kind, url=item.url, title=highlight(item.title, topics),
                 time=format_local(item.when), sapo=highlight(item.sapo, topics),
                 excerpt=highlight(item.excerpt, topics) if item.excerpt else [],
                 phrases=_phrases(item.relevance), changes=changes)


def _days(items: Sequence[DigestItem], topics: Sequence[TopicConfig]) -> list[_Day]:
    days: list[_Day] = []
    for item in items:
        local = item.when.astimezone(VN_TZ)
        label = f"{_WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y}"
        if days and days[-1].label == label:
            days[-1] = _Day(label, (*days[-1].items, _view(item, topics)))
        else:
            days.append(_Day(label, (_view(item, topics),)))
    return days


def topic_label(topics: Sequence[TopicConfig]) -> str:
    return " và ".join(t.label or t.name for t in topics) or "các chủ đề đã chọn"


def subject(digest: Digest, prefix: str) -> str:
    n_new, n_upd = digest.count("new"), digest.count("update")
    n_possible = sum(1 for i in digest.items if i.possible)
    if n_new and n_upd:
        count = f"{n_new} bài mới, {n_upd} bài cập nhật"
    elif n_upd:
        count = f"{n_upd} bài cập nhật"
    elif n_new:
        count = f"{n_new} bài mới"
    elif n_possible:
        count = f"{n_possible} bài có thể liên quan"
    else:
        count = "Không có bài mới"
    day = digest.created_at.astimezone(VN_TZ).strftime("%d/%m/%Y")
    return one_line(f"{prefix} {count} về {topic_label(digest.topics)} – {day}")


def _schedule_text(config: Config, name: str) -> str:
    times = next((s.times for s in config.schedules if s.name == name), ())
    if not times:
        return "ngay khi có bài mới"
    return "lúc " + " và ".join(t.strftime("%H:%M") for t in times) + " hằng ngày"


def _unsubscribe(value: str) -> str | None:
    # The operator's address, not page content: mailto: is allowed here besides http(s).
    value = one_line(value)
    if value.lower().startswith("mailto:") and "@" in value and " " not in value:
        return value
    return http_url(value)


def render(digest: Digest, config: Config, *, unsubscribe: str | None = None) -> RenderedDigest:
    """Subject, HTML and plain text of a digest; both bodies hold the same items.

    ``unsubscribe``: this subscriber's own unsubscribe page (``monitor.unsubscribe``), else the
    operator's ``[mail] unsubscribe`` address.
    """
    topics = digest.topics
    title = subject(digest, config.digest.subject_prefix)
    sub = digest.subscriber
    context: dict[str, Any] = {
        "subject": title,
        "site_name": one_line(config.site.name),
        "site_url": http_url(config.site.base_url),
        "topic_label": topic_label(topics),
        "date": digest.created_at.astimezone(VN_TZ).strftime("%d/%m/%Y"),
        "generated": format_local(digest.created_at),
        "name": one_line(sub.name) or "bạn đọc",
        "email": one_line(sub.email),
        "schedule": _schedule_text(config, sub.schedule),
        "unsubscribe": _unsubscribe(unsubscribe or config.mail.unsubscribe),
        "new_count": digest.count("new"),
        "update_count": digest.count("update"),
        "held_back": digest.held_back,
        "preheader": " · ".join(i.title for i in digest.items[:3]),
        "days": _days(digest.new, topics),
        "updates": [_view(i, topics) for i in digest.updates],
        "more": [{"title": i.title, "url": i.url, "kind": i.kind} for i in digest.more],
        "phrase_separator": PHRASE_SEPARATOR,
        "possible": [_view(i, topics) for i in digest.possible],
    }
    html = jinja.render(config.templates_dir, "digest.html.j2", context)
    text = jinja.render(config.templates_dir, "digest.txt.j2", context)
    return RenderedDigest(title, html, text)


# --- the size budget ----------------------------------------------------------------------------


def fit(digest: Digest, size: Callable[[Digest], int], limit: int) -> Digest:
    """``digest`` made to fit in ``limit`` bytes as ``size`` measures the message.

    Items keep their full form (sapo, excerpt, changes) in order while the message fits; the
    rest are listed at the end by title and link (``Digest.more``). Only when even that list
    does not fit are the last items left out, for the next digest (``held_back``): an item is
    never dropped, and the ledger records only what the message carries.
    """
    if size(digest) <= limit:
        return digest
    ordered = digest.new + digest.updates + digest.possible

    def split(full: int, listed: int) -> Digest:
        keep = ordered[:full]
        return replace(digest, new=tuple(i for i in keep if i.kind == "new" and not i.possible),
                       updates=tuple(i for i in keep if i.kind == "update"),
                       possible=tuple(i for i in keep if i.possible),
                       more=ordered[full:full + listed],
                       held_back=digest.held_back + len(ordered) - full - listed)

    def largest(fits: Callable[[int], bool], top: int) -> int:
        low, high = 0, top  # fits(low) is assumed; the message grows with the count
        while low < high:
            mid = (low + high + 1) // 2
            if fits(mid):
                low = mid
            else:
                high = mid - 1
        return low

    n = len(ordered)
    if size(split(0, n)) <= limit:
        full = largest(lambda k: size(split(k, n - k)) <= limit, n)
        return split(full, n - full)
    listed = largest(lambda k: size(split(0, k)) <= limit, n)
    return split(0, listed)
