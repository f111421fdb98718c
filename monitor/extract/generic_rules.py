"""The words and phrases the generic extractor judges page parts by: data, in several languages.

Nothing here names a site. Class and id values are matched word by word (a value is split at
``-``, ``_``, spaces and digits, then lower-cased): short words must be a whole word ("nav",
"ad"), long ones may sit inside a word ("relatedPosts", "binhluan"). Headings and short lines are
matched with ``text.fold`` so that case and the two Vietnamese tone-mark placements do not matter.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from monitor.extract.text import fold

# Whole words of a class or id that mark a part that is not the article.
_NEGATIVE_WORDS = frozenset(
    """
    nav navbar navigation menu menubar breadcrumb breadcrumbs pagination pager paging
    sidebar sidebars aside footer masthead topbar toolbar
    comment comments commentlist disqus discussion replies respond reply
    related recommended recommendations recommend trending popular mostread
    share sharing sharebar shares social socials sns follow
    newsletter subscribe subscription signup login signin register paywall
    cookie cookies consent gdpr banner promo promotion promoted sponsor sponsored advert
    advertisement advertising ads ad adsbygoogle dfp outbrain taboola
    popup modal overlay lightbox dialog tooltip skip print sr screen
    tags tagcloud taglist keywords byline author authors bio meta postmeta
    reaction reactions vote poll prevnext next previous prev readmore morestories
    disclaimer disclaimers disclosure disclosures legal copyright
    """.split()
)
# Words too common in the article's own wrappers ("hs_cos_wrapper_meta_field", "entry-meta",
# "paywall-content") to remove a part that holds real paragraphs; they drop only small parts.
WEAK_WORDS = frozenset(
    """
    meta postmeta tags keywords print skip sr screen next prev previous prevnext toolbar topbar
    aside banner masthead follow reply replies rating vote poll register login signin paywall
    overlay lightbox tooltip reaction reactions
    """.split()
)
# Words of an ad slot: what it holds besides its script is the article's text, when it is prose.
AD_WORDS = frozenset("ad ads advert advertisement advertising adsbygoogle dfp".split())
# Fragments that mark boilerplate wherever they sit inside a class or id value: English words
# long enough not to occur by chance, and Vietnamese ones written without accents ("tin-lien-quan",
# "binhluan", "quang_cao").
_NEGATIVE_FRAGMENTS = (
    "comment", "related", "sidebar", "newsletter", "subscri", "breadcrumb", "pagination",
    "cookie", "social", "sharing", "sponsor", "advert", "outbrain", "taboola", "disqus",
    "recommend", "trending", "popular", "mostread", "navbar", "navigation", "footer",
    "lienquan", "binhluan", "docnhieu", "quangcao", "chiase", "xemthem", "tinkhac", "tinmoi",
    "cungchuyenmuc", "taitro", "dangky", "dangnhap", "tieudiem", "noibat", "hoidap", "camnhan",
    "readmore", "morestories", "alsoread", "readalso", "widgetarea", "chantrang", "cotphai",
)
# Words that mark the article itself (a bonus when choosing the container, never a veto).
POSITIVE_WORDS = frozenset(
    """
    article articlebody content entry main post story text body detail details prose
    blog news single noidung baiviet chitiet tinchitiet
    """.split()
)
# Class values that only look negative: state classes of the article's own wrapper.
_HARMLESS = re.compile(
    r"^(?:comments?-(?:open|closed|enabled|disabled)|has-[\w-]+|with-[\w-]+|no-[\w-]+|"
    r"hidden-(?:xs|sm|md|lg|xl|mobile|tablet|desktop)|"
    r"[\w-]*-(?:enabled|active|visible|loaded|only))$"
)
_SPLIT = re.compile(r"[^a-z]+")
# A generated token ("b5343ad4", "x3Lm2", "1a2b3c"): letters after a digit. Its letters are
# chance, not words ("w-node-b5343ad4" names no ad), so the whole token is skipped.
_HASH = re.compile(r"[0-9][a-zA-Z]")
_TOKENS = re.compile(r"[^a-zA-Z0-9]+")
_FRAGMENTS = re.compile("|".join(_NEGATIVE_FRAGMENTS))
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

# Words of a class or id that name the lead (sapo, standfirst, dek) of an article.
LEAD_WORDS = frozenset(
    """
    sapo lead lede standfirst dek deck excerpt summary intro introduction chapo chapeau
    description desc subtitle subheadline subhead brief abstract teaser kicker tomtat
    """.split()
)
CAPTION_WORDS = frozenset("caption captions figcaption credit credits legend photocaption".split())

# Box headings: a block whose whole text is one of these heads a box that is not the article.
_BOX_HEADINGS = (
    # Vietnamese
    "Đọc nhiều", "Đừng bỏ lỡ", "Tin mới", "Tin mới nhất", "Tin liên quan", "Bài viết liên quan",
    "Bài liên quan", "Bình luận", "Cảm nhận của bạn về bài viết này", "Hỏi đáp thông minh",
    "Tin tài trợ", "Video", "Xem thêm", "Tin cùng chuyên mục", "Có thể bạn quan tâm",
    "Tin khác", "Tin nổi bật", "Xem nhiều", "Đọc thêm", "Chia sẻ", "Từ khóa", "Tags",
    "Ý kiến bạn đọc", "Gửi bình luận", "Cùng chuyên mục", "Tiêu điểm", "Mới nhất",
    # English
    "Related", "Related articles", "Related posts", "Related stories", "Related content",
    "Related reading", "Related news", "Related topics", "Related links", "More stories",
    "More from", "More news", "More articles", "Read more", "Read next", "Read also",
    "Also read", "See also", "Recommended", "Recommended for you", "Recommended reading",
    "You may also like", "You might also like", "You may be interested in", "Don't miss",
    "Most read", "Most popular", "Popular posts", "Popular stories", "Trending",
    "Trending now", "Latest news", "Latest stories", "Latest posts", "Latest articles",
    "Top stories", "Comments", "Comment", "Leave a comment", "Leave a reply",
    "Post a comment", "Join the discussion", "Join the conversation", "Newsletter",
    "Sign up for our newsletter", "Subscribe", "Subscribe to our newsletter",
    "Share this article", "Share this post", "Share this story", "Share this", "Share",
    "Follow us", "Tags", "Topics", "Filed under", "Sponsored", "Sponsored content",
    "Advertisement", "About the author", "Editor's picks", "In case you missed it",
    "Up next", "Keep reading", "Further reading", "Around the web", "From the web",
    "Partner content", "Promoted stories",
    # French, German, Spanish
    "Articles liés", "À lire aussi", "Lire aussi", "Commentaires", "Ähnliche Artikel",
    "Das könnte Sie auch interessieren", "Kommentare", "Mehr zum Thema",
    "Artículos relacionados", "Comentarios", "Te puede interesar", "Lo más leído",
)
BOX_HEADINGS = frozenset(fold(h) for h in _BOX_HEADINGS)
# Trailing decorations of a box heading: a count "(3)", a colon, arrows.
_HEADING_TAIL = re.compile(r"[\s:»›>→\-–|]*(?:\(\s*\d+\s*\))?[\s:»›>→\-–|]*$")

# Lines that are never article text when they stand alone (matched on the folded line).
_JUNK_LINE = re.compile(
    r"^(?:advertisement|advertisements|sponsored|ad|ads|quảng cáo|share|share this|"
    r"share on \w+|tweet|print|email|e-mail|copy link|link copied|pin it|"
    r"click to (?:share|print|email)[\w\s()]*|opens? in (?:a )?new (?:tab|window)|"
    r"read more|read full (?:story|article)|continue reading|loading\W*|"
    r"learn more|find out more|get started|contact us|book a demo|request a demo|"
    r"get a (?:free )?quote|(?:start (?:your )?)?free trial|(?:shop|buy|order|download) now|"
    r"(?:sign up|subscribe)(?: now| today| here)?|log ?in|sign ?in|register|"
    r"follow us(?: on [\w\s]+)?|like us on facebook|skip to (?:main )?content|"
    r"back to top|go to top|scroll to top|top|next|previous|prev|chia sẻ|"
    r"xem thêm|đọc thêm|bình luận|theo dõi|in bài|gửi bài|lưu|"
    r"(?:image|photo|picture)(?: credit)?s?:.{0,60}|(?:source|nguồn|ảnh):.{0,60})$"
)


# Words of a call to action ("Learn More", "Free Trial", "View Webcam"): a short capitalised last
# line holding one is a button, not the name that signs the article.
_ACTION_WORDS = frozenset(
    """
    learn more find get view see read watch start free trial book demo quote contact call
    shop buy order download subscribe join sign try explore discover request apply register
    click visit follow share donate back top next previous home menu login now here
    """.split()
)


# What legal, disclosure and cookie text says near its start: such a paragraph, however long and
# comma-heavy, is not the article and must not outvote it.
_LEGAL = re.compile(
    r"^\W*(?:\w+\s+){0,2}(?:disclosure|disclaimer)s?\s*:|^\W*(?:copyright\b|©)|"
    r"\b(?:affiliate links?|as an amazon associate|we may earn|"
    r"(?:earn|receive) (?:a )?(?:small )?(?:affiliate )?commission|all rights reserved|"
    r"this (?:site|website) uses cookies|we use cookies|cookie (?:policy|settings|preferences)|"
    r"privacy policy|terms (?:of|and) (?:use|service|conditions)|"
    r"cơ quan chủ quản|giấy phép (?:số|hoạt động)|chịu trách nhiệm (?:chính|nội dung|xuất bản)|"
    r"bản quyền thuộc|ghi rõ nguồn|sử dụng cookie|chính sách (?:bảo mật|quyền riêng tư|cookie))"
)
_LEGAL_HEAD = 160  # characters: where a legal paragraph says what it is


# A word each of _LEGAL's phrases holds: the pattern is tried only on a text that has one (most
# texts have none, and the many-branched pattern costs ten times the look-ups).
_LEGAL_WORDS = ("disclosure", "disclaimer", "copyright", "©", "affiliate", "amazon", "earn",
                "commission", "rights", "cookie", "privacy", "terms", "chủ quản", "giấy phép",
                "trách nhiệm", "bản quyền", "nguồn", "chính sách")


def is_legal(text: str) -> bool:
    """Whether a paragraph is legal, disclosure or cookie text (by what it says first)."""
    head = unicodedata.normalize("NFC", text[:_LEGAL_HEAD]).casefold()
    return any(word in head for word in _LEGAL_WORDS) and bool(_LEGAL.search(head))


def is_call_to_action(line: str) -> bool:
    return not _ACTION_WORDS.isdisjoint(line.casefold().split())


@lru_cache(maxsize=16384)
def attribute_verdict(value: str) -> str | None:
    """The boilerplate word of a class/id value ("post-comments" -> "comments"), or None.
    Cached as a whole: the same values recur on every part of a page and on every page of a
    site, and most parts are judged more than once."""
    word, _ = judge(value)
    return word


@lru_cache(maxsize=16384)
def is_positive(value: str) -> bool:
    """Whether a class/id value has a word that marks the article itself."""
    return not POSITIVE_WORDS.isdisjoint(attribute_words(value))


def judge(value: str) -> tuple[str | None, bool]:
    """(the boilerplate word of a class/id value or None, whether it names a lead)."""
    lead = False
    for name in value.split():
        word = _name_verdict(name)
        if word == _LEAD:
            lead = True
        elif word:
            return word, False
    return None, lead


_LEAD = "\x00lead"


@lru_cache(maxsize=65536)
def _name_verdict(name: str) -> str | None:
    """The verdict on one class name or id; cached, as pages share most of their names."""
    if _HARMLESS.match(name.lower()):
        return None
    words = _words(name)
    for word in words:
        if word in _NEGATIVE_WORDS:
            return word
    if m := _FRAGMENTS.search("".join(words)):
        return m.group(0)
    if not LEAD_WORDS.isdisjoint(words):
        return _LEAD
    return None


@lru_cache(maxsize=16384)
def attribute_words(value: str) -> frozenset[str]:
    """The lower-case words of a class/id value, camelCase split."""
    return frozenset(_words(value))


def _words(value: str) -> list[str]:
    """The lower-case words of a class/id value, camelCase split, generated tokens skipped."""
    if _HASH.search(value):
        value = " ".join(t for t in _TOKENS.split(value) if not _HASH.search(t))
    return [w for w in _SPLIT.split(_CAMEL.sub("-", value).lower()) if w]


def heading_key(text: str) -> str:
    """A heading's matching key: folded, decorations and counts removed."""
    key = fold(text)
    # The tail pattern is tried at every position of the text, which costs more than the rest
    # of the check; it can only remove something when the text ends in one of its characters.
    if key and (key[-1] in _TAIL_ENDS or key[-1].isspace()):
        key = _HEADING_TAIL.sub("", key)
    return key.strip()


def is_box_heading(text: str) -> bool:
    if len(text) > 60:
        return False
    key = heading_key(text)
    if key in BOX_HEADINGS:
        return True
    # "More from <section>", "Related: ..." and the like: a box heading and a name. Every such
    # prefix is two words, so one split finds the candidate instead of a loop over them all.
    parts = key.split(" ", 2)
    if len(parts) < 3:
        return False
    head = f"{parts[0]} {parts[1]}"
    return head in _PREFIX_HEADINGS and len(key) < len(head) + 25


_PREFIX_HEADINGS = frozenset(fold(h) for h in ("More from", "More in", "Latest from", "More on",
                                               "Tin cùng", "Xem thêm", "Other stories"))
assert all(len(h.split(" ")) == 2 for h in _PREFIX_HEADINGS)  # what is_box_heading relies on
# The last characters _HEADING_TAIL can remove (besides whitespace, \s).
_TAIL_ENDS = frozenset(":»›>→-–|)")


def is_junk_line(text: str) -> bool:
    return len(text) <= 80 and bool(_JUNK_LINE.match(fold(text).strip(" .:|»›>")))
