"""The statistical relevance signal (pure): a logistic regression over the words of a title and
sapo, trained on the labelled sets of tests/fixtures/relevance/ by
``benchmarks/train_relevance_model.py`` and shipped as ``monitor/data/relevance_model.json``.

Features are the folding keys (``monitor.extract.text.fold``) of the title's and the sapo's
words, numbers left out, and each pair of neighbouring words, each counted once. The model
gives the probability that the text is about the reorganisation of the apparatus, and names the
words that weigh most for its answer, so its part of a verdict is explained like a rule's.
A topic uses it through ``model_weight`` (``classify.score_topic``): it adds
``model_weight x (2p - 1)`` points, which is negative when the model says no.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from heapq import nlargest, nsmallest
from importlib import resources
from itertools import chain, pairwise
from operator import itemgetter

from monitor.extract.text import FUNCTION_WORDS, WordMemo, fold

_WORD = re.compile(r"\w+")
MODEL_FILE = "relevance_model.json"


# word as written (lower case) -> its folding key: folding one costs more than the rest of the
# model's work
KEYS = WordMemo(fold)


def features(title: str, sapo: str) -> list[str]:
    """The words and neighbouring pairs of a title and sapo, each once, in order of appearance."""
    return list(_each_once(_parts(title, sapo)))


def _parts(title: str, sapo: str) -> list[tuple[list[str], list[str]]]:
    """Per text, its words as written (lower case) and its features (folding keys): the words'
    keys, then each neighbouring pair's."""
    parts = []
    for text in (title, sapo):
        words = [w for w in _WORD.findall(text.lower()) if not w.isdigit()]
        keys = list(map(KEYS.__getitem__, words))
        parts.append((words, [*keys, *map(" ".join, pairwise(keys))]))
    return parts


def _each_once(parts: list[tuple[list[str], list[str]]]) -> dict[str, None]:
    """The features of the parts, each once, in order of appearance."""
    return dict.fromkeys(chain.from_iterable(found for _, found in parts))


def _as_written(feature: str, parts: list[tuple[list[str], list[str]]]) -> str:
    """How the text first writes a feature: its key puts tone marks where ``fold`` does ("hoà"),
    which a reader should not see in an explanation. (Asked of the few features named only.)"""
    for words, found in parts:
        if feature in found:
            i = found.index(feature)
            if i < len(words):
                return words[i]
            pair = i - len(words)  # the features after the words are the pairs, in order
            return f"{words[pair]} {words[pair + 1]}"
    return feature


def norm(features: int) -> float:
    """What a text's summed weights are divided by, so a long sapo does not outweigh a title."""
    return math.sqrt(max(features, 1))


def probability(z: float) -> float:
    """The logistic function, bounded so that no sum of weights overflows it."""
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


@dataclass(frozen=True, slots=True)
class Judgement:
    probability: float
    terms: tuple[str, ...]  # the words that weigh most for the answer, strongest, as written


@dataclass(frozen=True)
class RelevanceModel:
    weights: dict[str, float]
    bias: float
    version: str  # a digest of the weights: stored verdicts depend on it

    def judge(self, title: str, sapo: str, explain: int = 3) -> Judgement:
        parts = _parts(title, sapo)
        every = _each_once(parts)
        found = [(f, w) for f in every if (w := self.weights.get(f)) is not None]
        p = probability(self.bias + sum(w for _, w in found) / norm(len(every)))
        yes = p >= 0.5
        # the heaviest for a yes, the lightest for a no; ties in order of appearance
        strongest = (nlargest if yes else nsmallest)(
            explain, [f for f in found if f[0] not in FUNCTION_WORDS], key=itemgetter(1))
        return Judgement(p, tuple(_as_written(f, parts) for f, w in strongest
                                  if (w > 0 if yes else w < 0)))


def from_json(text: str) -> RelevanceModel:
    data = json.loads(text)
    return RelevanceModel(weights={str(k): float(v) for k, v in data["weights"].items()},
                          bias=float(data["bias"]),
                          version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])


@cache
def bundled() -> RelevanceModel:
    """The model shipped with the package (read once)."""
    return from_json(resources.files("monitor.data").joinpath(MODEL_FILE)
                     .read_text(encoding="utf-8"))
