"""Vietnamese text: normalisation, a matching key, and the date formats the site prints.

Every string from a page passes through ``clean`` (NFC, invisible characters gone, whitespace
collapsed). Matching uses ``fold``: lower case with the tone mark moved to one canonical vowel, so
that "Thành ủy" and "Thành uỷ", "hòa" and "hoà" give the same key. ``fold`` keeps the length of an
NFC string, so a match found in the key is at the same offsets in the original text (which is what
digest highlighting relies on). ``fold_ascii`` also drops every diacritic (the opt-in
accent-insensitive mode).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Invisible characters pages carry: zero-width space/joiners, word joiner, BOM, soft hyphen; and
# the bidi controls and other format characters (U+202E, U+2066, ...) that can reorder or hide
# text in a mail client: Vietnamese needs none of them.
# (A regex, not str.translate: translate with a dict is slow on long paragraphs.)
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb\U000e0000-\U000e007f]"
)

# The five tone marks (grave, acute, hook above, tilde, dot below) as combining characters.
_TONES = frozenset("\u0300\u0301\u0309\u0303\u0323")
_VOWELS = frozenset("aăâeêioôơuưyAĂÂEÊIOÔƠUƯY")
_WORD = re.compile(r"\w+")


T = TypeVar("T")


class WordMemo(dict[str, T]):
    """What ``compute`` gives for a word, remembered: Vietnamese is written in syllables, and a
    few thousand of them (with the punctuation that sticks to them) make up nearly all of a
    text, so text is read word by word from a memo and rarely computed. Bounded, for the
    numbers and names a long-lived service meets. Look words up with ``memo[word]``."""

    LIMIT = 50_000  # 9-12 MB of words as written: Vietnamese news reaches it after millions

    def __init__(self, compute: Callable[[str], T]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, word: str) -> T:
        if len(self) >= self.LIMIT:
            self.clear()
        value = self[word] = self.compute(word)
        return value


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean(text: str | None) -> str:
    """NFC, invisible characters removed, any run of whitespace (nbsp included) made one space."""
    if not text:
        return ""
    if not text.isascii():
        text = _INVISIBLE.sub("", nfc(text))
    # str.split() splits on every Unicode space, nbsp included, faster than a regex.
    return " ".join(text.split())


def _split_tones(word: str) -> tuple[str, list[str]]:
    """An NFC word's letters without its tone marks (NFC: circumflex, breve and horn stay with
    their vowels), and its tone marks."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in _TONES]
    if not tones:
        return word, tones
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES)), tones


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    base, tones = _split_tones(word)
    if not tones:
        return word
    # Vowels are found on the base letters (circumflex, breve and horn stay with them).
    positions = [i for i, c in enumerate(base) if c in _VOWELS]
    if not positions:
        return word
    # Canonical place: the last vowel of the word. Any fixed rule works, as both placements of a
    # word reach the same key; this one keeps the key the same length as the NFC word.
    i = positions[-1]
    marked = unicodedata.normalize("NFC", base[i] + tones[0])
    folded = base[:i] + marked + base[i + 1 :]
    return folded if len(folded) == len(word) else word


def tone_placements(word: str) -> set[str]:
    """Every tone-mark placement of one NFC lower-case word: the spellings ``fold`` gives one
    key ("hòa", "hoà")."""
    base, tones = _split_tones(word)
    if len(tones) != 1:
        return {word}
    return {word} | {unicodedata.normalize("NFC", base[:i] + c + tones[0] + base[i + 1:])
                     for i, c in enumerate(base) if c in _VOWELS}


_SNIPPET = 80


def snippet(text: str) -> str:
    """A short, cleaned excerpt of a dropped piece, for `monitor inspect` (only its start is
    cleaned: a dropped box may be long)."""
    text = clean(text[:400])
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def fold(text: str) -> str:
    """Matching key: NFC, lower case, tone-mark placement made canonical. Length-preserving."""
    if text.isascii():  # no tone marks: the key is the lower case (the word walk is slow)
        return text.lower()
    return _WORD.sub(_fold_word, nfc(text).lower())


# Short function words and number words (folding keys): free between a near rule's action and
# unit, and never named as the relevance model's evidence.
FUNCTION_WORDS = frozenset(fold(w) for w in """
    và hoặc với cùng các những nhiều mọi một số của cho từ lại gần hơn trên dưới khoảng toàn
    đã sẽ được bị đang vừa mới thêm tiếp tục vào này đó hai ba bốn năm sáu bảy tám chín
    mười trăm nghìn ngàn triệu
""".split())


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).replace("đ", "d").replace("Đ", "D")


def fold_ascii(text: str) -> str:
    """Accent-insensitive key ("sap nhap" matches "sáp nhập"). Length-preserving on NFC text."""
    return strip_accents(nfc(text).lower())


# --- dates -----------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_TIME = r"(?P<H>\d{1,2})[:hg](?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<ampm>[AaPp][Mm]))?"
_DATE = r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"
_TIME_DATE = re.compile(_TIME + r"\s*(?:[,|-]\s*)?(?:ngày\s+)?" + _DATE)
_DATE_TIME = re.compile(_DATE + r"\s*(?:[,|-]\s*|\s+lúc\s+)?" + _TIME)
_DATE_ONLY = re.compile(_DATE)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_MONTH_NAME = re.compile(
    r"(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3})[a-z]*\.?(?:\s+(?P<y>\d{4}))?,?\s+" + _TIME
)


def _hour(h: str, ampm: str | None) -> int:
    hour = int(h)
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    return hour


def _build(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime | None:
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=VN_TZ)
    except ValueError:
        return None


def _from_groups(g: dict[str, str | None]) -> datetime | None:
    return _build(
        int(g["y"] or 0),
        int(g["m"] or 0),
        int(g["d"] or 0),
        _hour(g["H"] or "0", g.get("ampm")),
        int(g["M"] or 0),
        int(g["S"] or 0),
    )


def parse_iso(text: str) -> datetime | None:
    """ISO 8601; a value without offset is Vietnam time. Returns an aware datetime."""
    text = text.strip()
    if not _ISO.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value


def parse_datetime(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """Find a date and time in text as the site prints them; an aware datetime or None.

    Accepted: "Thứ Hai, 10:05 08/12/2025" (weekday optional), "08/12/2025 10:05",
    "08-12-2025 10:05", a bare "08/12/2025", ISO 8601, and the listing boxes' "08 Dec, 03:11 PM",
    whose year is inferred: the latest year that does not put the date in the future of ``now``.
    """
    if not text:
        return None
    text = clean(text)
    iso = _ISO.search(text)
    if iso and (found := parse_iso(iso.group(0))):
        return found
    for pattern in (_TIME_DATE, _DATE_TIME):
        m = pattern.search(text)
        if m and (found := _from_groups(m.groupdict())):
            return found
    m = _MONTH_NAME.search(text)
    if m and m.group("mon").lower()[:3] in _MONTHS:
        return _month_name(m, now)
    m = _DATE_ONLY.search(text)
    if m:
        return _build(int(m["y"]), int(m["m"]), int(m["d"]))
    return None


def _month_name(m: re.Match[str], now: datetime | None) -> datetime | None:
    month = _MONTHS[m.group("mon").lower()[:3]]
    hour, minute = _hour(m["H"], m["ampm"]), int(m["M"])
    if m["y"]:
        return _build(int(m["y"]), month, int(m["d"]), hour, minute)
    ref = (now or datetime.now(UTC)).astimezone(VN_TZ)
    # A page may be a few minutes ahead of our clock; allow a day before calling it future.
    for year in (ref.year, ref.year - 1):
        found = _build(year, month, int(m["d"]), hour, minute)
        if found and found <= ref + timedelta(days=1):
            return found
    return None


def format_local(value: datetime) -> str:
    """Vietnam time as subscribers read it: "08/12/2025 10:05"."""
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")
