"""A topic's terms compiled for matching (pure): tokens, folding keys, and an Aho-Corasick
automaton that finds every term of a text part in one C-level pass.

A text part is cut into tokens (runs of word characters, and single punctuation marks) of its
lower case; a token is compared by its folding key (``monitor.extract.text.fold``: one tone-mark
placement; with ``accent_insensitive`` every diacritic dropped as well). Each key a term uses
gets one character of its own, every other token one filler character, so that a part becomes a
string of one character per token: a term is then a substring of it, found whatever the
spacing, with its token positions as string indices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import Any

from ahocorasick_rs import AhoCorasick, MatchKind

from monitor.config import TopicConfig
from monitor.extract.text import (
    FUNCTION_WORDS,
    WordMemo,
    fold,
    fold_ascii,
    nfc,
    tone_placements,
)

_TOKEN = re.compile(r"\w+|[^\w\s]")
# The same tokens with the space before each: their lengths add up to each token's end offset.
# (After the spaces, a character that does not start a word is a punctuation mark: \S.)
SPACED_TOKEN = re.compile(r"\s*(?:\w+|\S)")
# Outlets write a dash as any of these ("Bà Rịa – Vũng Tàu", "2021 - 2026"): all match "-".
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
_FILLER = "\x00"  # the code of a token no term holds
# What the word memo gives for a word a text cannot be cut at its spaces around: an empty word
# (spaces side by side, or at an end) or one starting or ending with another space (a tab, a
# line break, a no-break space), which the word's marks or the next word's first piece would
# miss. Its gap character is no GAP_*, so a cut sees it in its gaps at no cost and reads the
# text by the regex instead.
_UNSAFE_GAP = "u"
_UNSAFE = _FILLER + _UNSAFE_GAP + "\x00\x00"

# What a term is: its role (below), its name as written in the config, its class (near rules)
Entry = tuple[int, str, str]
# A term found of a known role: first and last token, name (and class)
Term = tuple[int, int, str]
Classed = tuple[int, int, str, str]
# Roles: a phrase, an exclusion, a context exclusion's word, a word of a class some rule uses as
# an action, a word of a class only ever a unit (looked for near the actions only).
PHRASE, EXCLUDE, CONTEXT, CLASS, UNIT = range(5)


def tokens_of(text: str) -> list[str]:
    return _TOKEN.findall(text)


def lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters (such as "İ") lower-case to two; none is in a term, so they are replaced
    # to keep offsets exact.
    return "".join(c.lower() if len(c.lower()) == 1 else "\u25a1" for c in text)


# What a token is between a near rule's action and unit (``classify``'s gaps), one character:
GAP_END = "E"  # ends a sentence: ! ? ; … ¶, or a full stop with no letter or digit right after
GAP_NUMBER = "d"  # a number: free, and what a ``numbered`` rule needs
GAP_FREE = "f"  # a function word or another punctuation mark: free
GAP_WORD = "w"  # a word: counted
GAP_CAPITAL = "W"  # a word with a capital: part of a proper name, in a text that has names
_GAP_STOP = "."  # a full stop: GAP_END, or GAP_FREE with a letter or digit right after it
_SENTENCE_END = frozenset("!?;…\u00b6")


@dataclass(frozen=True, slots=True)
class Cut:
    """A text part cut into tokens, described one character per token in each string."""

    codes: str  # the code of the token's key, or the filler
    gaps: str  # what it is in a gap (GAP_*)
    _pieces: str  # chr(its length with the spaces before it)
    _sizes: str  # chr(its length)
    _origin: int  # where the pieces' lengths start adding up (-1: a space counted before all)

    @staticmethod
    def of(tokens: str, origin: int) -> Cut:
        """The cut of tokens given four characters each (code, gap, piece, size)."""
        return Cut(tokens[0::4], tokens[1::4], tokens[2::4], tokens[3::4], origin)

    def ends(self) -> list[int]:
        """Where each token ends."""
        try:  # bytes add up faster than characters, and few tokens are 256 long
            lengths: Iterable[int] = self._pieces.encode("latin-1")
        except UnicodeEncodeError:
            lengths = map(ord, self._pieces)
        ends = list(accumulate(lengths, initial=self._origin))
        del ends[0]
        return ends

    def size(self, token: int) -> int:
        return ord(self._sizes[token])


class _Automaton:
    """Terms as strings of key codes, all found in one pass of an Aho-Corasick automaton."""

    def __init__(self) -> None:
        self.terms: dict[str, list[Entry]] = {}
        self.longest = 0
        # per pattern of the automaton: its length in tokens, its entries, and each entry's
        # role with what a found term of it holds beside its first and last token
        self._found: list[tuple[int, list[Entry], tuple[tuple[int, tuple[str, ...]], ...]]] = []
        self._automaton: AhoCorasick | None = None

    def add(self, codes: str, entry: Entry) -> None:
        self.terms.setdefault(codes, []).append(entry)
        self.longest = max(self.longest, len(codes))

    def build(self) -> None:
        if self.terms:
            self._found = [(len(codes), entries,
                            tuple((role, (name, cls) if role == CLASS else (name,))
                                  for role, name, cls in entries))
                           for codes, entries in self.terms.items()]
            self._automaton = AhoCorasick(list(self.terms), matchkind=MatchKind.Standard)

    def by_role(self, codes: str) -> tuple[list[Term], list[Term], list[Term], list[Classed]]:
        """The terms of ``codes``: phrases, exclusions, context words and class words, each
        by first token and then longest first (at one token, terms of one length hold the same
        words: their entries stay in config order)."""
        found: list[list[Any]] = [[], [], [], []]  # by role: terms, or class words
        if self._automaton is not None:
            patterns = self._found
            for pattern, first, end in self._automaton.find_matches_as_indexes(
                    codes, overlapping=True):
                for role, held in patterns[pattern][2]:
                    found[role].append((first, end - 1, *held))
            for terms in found:
                if len(terms) > 1:
                    terms.sort(key=itemgetter(1), reverse=True)
                    terms.sort(key=itemgetter(0))
        return found[PHRASE], found[EXCLUDE], found[CONTEXT], found[CLASS]

    def add_starting_in(self, codes: str, windows: Sequence[tuple[int, int]],
                        by_class: dict[str, list[Term]]) -> None:
        """Adds to ``by_class`` the class words starting in one of ``windows`` ([start, stop)
        token ranges, in order, apart), read to their end, by first token: at one token, the
        longest of a class only."""
        if self._automaton is None:
            return
        found: list[tuple[int, int, int]] = []  # first token, minus the length, pattern
        n = len(codes)
        for lo, hi in windows:
            hi = min(hi, n)
            for pattern, start, end in self._automaton.find_matches_as_indexes(
                    codes[lo:min(hi - 1 + self.longest, n)], overlapping=True):
                if lo + start < hi:
                    found.append((lo + start, start - end, pattern))
        found.sort()
        patterns = self._found
        add_classed(by_class, ((first, first - negative - 1, name, cls)
                               for first, negative, pattern in found
                               for _, name, cls in patterns[pattern][1]))


def add_classed(by_class: dict[str, list[Term]], classed: Iterable[Classed]) -> None:
    """Adds class words (by first token, then longest first) to their classes' lists: at one
    token, the longest of a class only."""
    for first, last, name, cls in classed:
        terms = by_class.get(cls)
        if not terms:
            by_class[cls] = [(first, last, name)]
        elif terms[-1][0] != first:
            terms.append((first, last, name))


class CompiledTopic:
    """A topic ready to match: every term as a string of key codes in an automaton."""

    def __init__(self, topic: TopicConfig) -> None:
        self.topic = topic
        self.insensitive = topic.accent_insensitive
        # key of a token as written -> key it is compared by (filled with every tone placement
        # of the config's words, so text tokens are looked up, never folded one by one).
        self.canon: dict[str, str] = {}
        self._key_codes: dict[str, str] = {}
        self.terms = _Automaton()
        # The words of classes that are only ever a rule's unit ("xã", "bộ", "Hà Nội": the
        # commonest) are looked for only near an action found first (``units``).
        self.units = _Automaton()
        self.lazy = {r.unit for r in topic.near} - {r.action for r in topic.near}
        # field -> action class -> the farthest its rules with such a unit look (``within``)
        self.unit_reach: dict[str, dict[str, int]] = {}
        for rule in topic.near:
            if rule.unit in self.lazy:
                for where in rule.fields:
                    reach = self.unit_reach.setdefault(where, {})
                    reach[rule.action] = max(rule.within, reach.get(rule.action, 0))
        self.weights: dict[str, float] = {}
        for phrase, weight in topic.phrases.items():
            self._add(phrase, PHRASE, phrase)
            self.weights[phrase] = weight
        for phrase in topic.exclude:
            self._add(phrase, EXCLUDE, phrase)
        self.classes: set[str] = set()
        for rule in topic.near:
            for cls in (rule.action, rule.unit):
                if cls not in self.classes and cls in topic.classes:
                    self.classes.add(cls)
                    role = UNIT if cls in self.lazy else CLASS
                    for word in topic.classes[cls]:
                        self._add(word, role, word, cls)
            self.weights[rule.name] = rule.weight
        self.context_rules = [(ctx, frozenset(ctx.words)) for ctx in topic.exclude_near]
        # a context word farther from a hit than this cancels nothing
        self.context_reach = max((ctx.within for ctx in topic.exclude_near), default=0) + 8
        for ctx in topic.exclude_near:
            for word in ctx.words:
                self._add(word, CONTEXT, word)
        self.terms.build()
        self.units.build()
        # The class words that hold a shorter one ("sáp nhập" holds "nhập"): the only ones a
        # class word found can be inside of.
        # (one automaton of them all reads each: a topic of thousands compiles in well under
        # a second, where comparing every pair took seconds)
        codes_of = {name: codes for automaton in (self.terms, self.units)
                    for codes, entries in automaton.terms.items()
                    for role, name, _ in entries if role in (CLASS, UNIT)}
        self.holders: frozenset[str] = frozenset()
        if codes_of:
            every = AhoCorasick(list(set(codes_of.values())), matchkind=MatchKind.Standard)
            self.holders = frozenset(
                name for name, codes in codes_of.items()
                if any(end - start < len(codes) for _, start, end
                       in every.find_matches_as_indexes(codes, overlapping=True)))
        # a word as written (between single spaces) -> its tokens, four characters each; and a
        # lower-case token -> its code and what it is in a gap (when a word is new, its
        # syllables are seldom)
        self.word_memo = WordMemo(self._word)
        self.token_memo = WordMemo(self._kind)

    def key(self, low: str) -> str:
        """What a lower-case token is compared by."""
        return self._key(low) if self.insensitive else self.canon.get(low, low)

    def _key(self, token: str) -> str:
        if token in _DASHES:
            return "-"
        return fold_ascii(token) if self.insensitive else fold(token)

    def _add(self, text: str, role: int, name: str, cls: str = "") -> None:
        tokens = _TOKEN.findall(nfc(text).lower())
        if not tokens:
            return
        keys = tuple(self._key(t) for t in tokens)
        for token, key in zip(tokens, keys, strict=True):
            for variant in tone_placements(token) | {key} | (_DASHES if key == "-" else set()):
                self.canon[variant] = key
        codes = "".join(self._code(k) for k in keys)
        (self.units if role == UNIT else self.terms).add(codes, (role, name, cls))

    def _code(self, key: str) -> str:
        code = self._key_codes.get(key)
        if code is None:
            n = len(self._key_codes) + 1  # past the filler, and past the surrogates
            code = self._key_codes[key] = chr(n if n < 0xD800 else n + 0x800)
        return code

    def _kind(self, low: str) -> str:
        """A lower-case token's code and what it is in a gap, whatever is around it (a full
        stop's ``_GAP_STOP`` and a word's ``GAP_WORD`` are settled by ``_token``)."""
        key = self.key(low)
        if key in _SENTENCE_END:
            gap = GAP_END
        elif key == ".":
            gap = _GAP_STOP
        # key[:1]: a lone combining mark folds to "" without accents
        elif key in FUNCTION_WORDS or key.isdigit() or not key[:1].isalnum():
            gap = GAP_NUMBER if low.isdigit() else GAP_FREE
        else:
            gap = GAP_WORD
        return self._key_codes.get(key, _FILLER) + gap

    def _token(self, low: str, capital: bool, stop: bool, piece: int) -> str:
        """A token's four characters (``Cut``), given whether it is written with a capital,
        whether a letter or digit follows it without a space, and its length with the spaces
        before it."""
        kind = self.token_memo[low]
        if kind[1] == GAP_WORD and capital:
            kind = kind[0] + GAP_CAPITAL
        elif kind[1] == _GAP_STOP:  # "TP.HCM", "3.321": no sentence ends there
            kind = kind[0] + (GAP_FREE if stop else GAP_END)
        return kind + chr(piece) + chr(len(low))

    def _word(self, word: str) -> str:
        low = word.lower()
        if low.isalnum() and len(low) == len(word):  # one token: most words (``_token``, inlined)
            kind = self.token_memo[low]
            if kind[1] == GAP_WORD and word[0].isupper():
                kind = kind[0] + GAP_CAPITAL
            return kind + chr(len(low) + 1) + chr(len(low))
        if not word or word[-1].isspace() or word[0].isspace():
            return _UNSAFE
        low = lower(word)
        mark = low[-1:]
        if low[-2:-1].isalnum() and not (mark.isalnum() or mark == "_"):
            # A word and a mark ("xã,", "2025."): the tokens of the word alone (nothing
            # follows its last one), then the mark, a token of its own.
            return self.word_memo[word[:-1]] + self._token(mark, word[-1].isupper(), False, 1)
        mark = low[:1]
        if low[1:2].isalnum() and not (mark.isalnum() or mark == "_"):
            # A mark and a word ("(xã", a paragraph's first word after the paragraph mark):
            # the mark, with the space before the word, then the word's tokens, the first
            # without a space of its own.
            rest = self.word_memo[word[1:]]
            return (self._token(mark, word[0].isupper(), True, 2)
                    + rest[:2] + chr(ord(rest[2]) - 1) + rest[3:])
        # (the space before the word is counted in its first piece)
        return self._tokens(" " + low, " " + word)

    def _tokens(self, low: str, text: str) -> str:
        """The tokens of ``text`` (``low``: its lower case) by the regex, four characters each."""
        out = []
        at = 0
        for m in SPACED_TOKEN.finditer(low):
            end = m.end()
            token = m.group().lstrip()
            out.append(self._token(token, text[end - len(token)].isupper(),
                                   text[end:end + 1].isalnum(), end - at))
            at = end
        return "".join(out)

    def cut(self, text: str) -> Cut:
        """``text`` (NFC) cut into tokens."""
        # Extracted text is spaced by single spaces: cut word by word, each word's tokens
        # remembered (no token holds a space, so the words' tokens are the text's).
        cut = Cut.of("".join(map(self.word_memo.__getitem__, text.split(" "))), origin=-1)
        return self.cut_by_regex(text) if _UNSAFE_GAP in cut.gaps else cut

    def cut_by_regex(self, text: str) -> Cut:
        """``text`` (NFC) cut into tokens whatever its spacing."""
        return Cut.of(self._tokens(lower(text), text), origin=0)


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
