"""How well the configured topics decide: precision, recall and the errors, on labelled items.

Labelled items come from JSONL files (one object a line: ``id``, ``title``, ``sapo``, optional
``body`` (a list of paragraphs), ``relevant`` (true or false), optional ``note``; the format of
``tests/fixtures/relevance/``) and from the labels an operator recorded in the state with
``monitor label``. ``evaluate`` classifies each item and keeps the outcome; a ``Scorecard``
gives the figures and ``render`` the report, every error with its explanation. Pure: the
command reads files and the state, this module only judges values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify import classify_fields, explain
from monitor.config import TopicConfig
from monitor.errors import UsageError
from monitor.models import Relevance


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    title: str
    relevant: bool
    sapo: str = ""
    body: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    item: LabelledItem
    relevance: Relevance

    @property
    def error(self) -> str | None:
        """"false positive", "false negative", or None when the main verdict is right."""
        if self.relevance.relevant == self.item.relevant:
            return None
        return "false positive" if self.relevance.relevant else "false negative"


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


@dataclass(frozen=True, slots=True)
class Scorecard:
    name: str
    outcomes: tuple[Outcome, ...]

    def _count(self, relevant: bool, verdicts: tuple[str, ...]) -> int:
        return sum(1 for o in self.outcomes
                   if o.item.relevant == relevant and o.relevance.verdict in verdicts)

    @property
    def tp(self) -> int:
        return self._count(True, ("relevant",))

    @property
    def fp(self) -> int:
        return self._count(False, ("relevant",))

    @property
    def fn(self) -> int:
        return self._count(True, ("possible", "not"))

    @property
    def tn(self) -> int:
        return self._count(False, ("possible", "not"))

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def recall_with_possible(self) -> float:
        """Share of the relevant items a reader sees at all: in the main list or as possible."""
        return _ratio(self._count(True, ("relevant", "possible")), self.tp + self.fn)

    @property
    def possible(self) -> int:
        return self._count(True, ("possible",)) + self._count(False, ("possible",))

    @property
    def possible_noise(self) -> float:
        """Share of the non-relevant items that the possible section shows."""
        return _ratio(self._count(False, ("possible",)), self.fp + self.tn) if (
            self.fp + self.tn) else 0.0

    @property
    def errors(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.error)


def _text(value: object, where: str, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{where}: {key!r} must be a string")
    return value


def parse_item(line: str, where: str) -> LabelledItem:
    """One JSONL line; a clear error naming the file, line and key when it is malformed."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object")
    if not isinstance(data.get("relevant"), bool):
        raise UsageError(f"{where}: 'relevant' must be true or false")
    title = _text(data.get("title"), where, "title")
    if not title.strip():
        raise UsageError(f"{where}: 'title' is required")
    body = data.get("body") or []
    if not isinstance(body, list) or not all(isinstance(p, str) for p in body):
        raise UsageError(f"{where}: 'body' must be a list of strings")
    return LabelledItem(id=str(data.get("id") or where), title=title, relevant=data["relevant"],
                        sapo=_text(data.get("sapo"), where, "sapo"), body=tuple(body),
                        note=_text(data.get("note"), where, "note"))


def read_labelled(path: Path) -> list[LabelledItem]:
    """The items of a labelled JSONL file (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    return [parse_item(line, f"{path}:{n}")
            for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def evaluate(items: Iterable[LabelledItem], topics: Sequence[TopicConfig],
             name: str) -> Scorecard:
    return Scorecard(name, tuple(
        Outcome(item, classify_fields(item.title, item.sapo, item.body, topics))
        for item in items))


def combined(cards: Sequence[Scorecard]) -> Scorecard:
    return Scorecard("all", tuple(o for card in cards for o in card.outcomes))


def _explain(outcome: Outcome) -> list[str]:
    rel = outcome.relevance
    lines = [f"        {explain(m)}" for m in rel.matched if m.points]
    lines += [f"        cancelled: {'; '.join(m.terms[:2])} in {m.where}, by {m.phrase!r}"
              for m in rel.excluded]
    return lines or ["        nothing matched"]


def figures(card: Scorecard) -> str:
    """The figures of one scorecard: its size, precision and recall, the possible section."""
    relevant = card.tp + card.fn
    return "\n".join([
        f"== {card.name}: {len(card.outcomes)} items ({relevant} relevant, "
        f"{len(card.outcomes) - relevant} not)",
        f"precision {card.precision:.3f}  recall {card.recall:.3f}  "
        f"recall with possible {card.recall_with_possible:.3f}  "
        f"(tp {card.tp}, fp {card.fp}, fn {card.fn}, tn {card.tn})",
        f"possible section: {card.possible} items, {card.possible_noise:.1%} of the "
        "non-relevant items",
    ])


def render(card: Scorecard) -> str:
    """The figures of one scorecard, then every error (and each non-relevant possible item)."""
    lines = [figures(card)]
    shown = [o for o in card.outcomes if o.error or (
        not o.item.relevant and o.relevance.verdict == "possible")]
    for o in shown:
        kind = o.error or "possible, not relevant"
        lines.append(f"  {kind}: {o.item.id} ({o.relevance.verdict}, score "
                     f"{o.relevance.score:g}) {o.item.title}")
        if o.item.note:
            lines.append(f"        note: {o.item.note}")
        lines += _explain(o)
    return "\n".join(lines) + "\n"
