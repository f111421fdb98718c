"""The kinhtedothi.vn site profile: selectors with fallback chains, and boilerplate rules.

Selectors are data, in one place. Each field has a chain tried in order that covers the three
front-ends the site has had (../shared/reference/README.md): the current vPress CMS (2025-),
the 2022-2025 one (``itemprop=articleBody``, ``detail__*``) and the one up to 2021
(``title_detail_news``, ``sapo_detail``, ``#cotent_detail`` [sic]). Any chain can be replaced from
config.toml (``[site.selectors]``) when the site changes; ``monitor inspect`` shows which selector
matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.errors import ConfigError

DEFAULT_SELECTORS: dict[str, tuple[str, ...]] = {
    "title": (
        "h1.article-title", "h1.article__title", "h1.detail__title", "h1.detail-title",
        "h1.title_detail_news", "h1[itemprop=headline]", "article h1", "main h1", "h1",
    ),
    "sapo": (
        "#article-brief", ".article-brief", ".article-sapo", ".article__sapo",
        ".detail__sapo", ".detail__summary", ".detail-sapo", "div.sapo_detail", ".sapo_detail",
        "[itemprop=description]", ".sapo",
    ),
    "body": (
        "#article-detail", ".article-detail", ".article-content", ".article__body",
        "div[itemprop=articleBody]", "[itemprop=articleBody]", ".detail__content",
        ".detail-content", "#cotent_detail", "#content_detail", ".content_detail",
    ),
    "time": (
        "div.article-published-on", ".article-published-on", ".article-publish-time",
        ".article__time", ".detail__time", "span.detail__time", ".detail-time",
        ".time_detail_news", ".date_detail", ".time_detail", ".date-time", "time",
    ),
    "author": (
        ".article-author", ".article__author", "span.detail__author", ".detail__author",
        ".detail-author", ".author_detail", ".author-detail", "[itemprop=author]",
        "[rel=author]",
    ),
    "tags": (
        ".article-tags a", ".article__tags a", ".box-tags a", ".detail__tags a",
        ".tags_detail a", ".tag_detail a", ".tag-detail a", ".tags a",
    ),
    "captions": (
        "figcaption", ".image-caption", ".img-caption", ".PhotoCMS_Caption",
        "td.caption", ".caption", ".expNoEdit", "[class*=caption]",
    ),
}

# Removed wherever they are: never article text.
JUNK_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "form", "button",
    "input", "select", "textarea", "svg", "canvas", "nav", "header", "footer", "aside", "video",
    "audio",
)

# Class and id words of boxes that are not the article (matched as whole words of the value).
BOILERPLATE_WORDS = (
    "related", "relate", "relation", "lienquan", "tinlienquan", "most-read", "mostread",
    "docnhieu", "doc-nhieu", "comment", "comments", "binhluan", "binh-luan", "share", "social",
    "sharing", "ads", "advert", "advertisement", "adsbygoogle", "banner", "qc", "quangcao",
    "sponsor", "sponsored", "taitro", "tai-tro", "reaction", "reactions", "rating", "vote",
    "newsletter", "subscribe", "breadcrumb", "breadcrumbs", "menu", "navbar", "sidebar",
    "dont-miss", "dontmiss", "dung-bo-lo", "tin-moi", "latest", "hot-news", "readmore",
    "read-more", "xem-them", "see-more", "box-video", "print", "toolbar", "popup", "modal",
    "cookie", "login", "hoi-dap", "qa-widget", "chatbot",
)

# Headings of site boxes ("Đọc nhiều", ...); a block that starts with one of them goes whole.
BOX_HEADINGS = (
    "Đọc nhiều", "Đừng bỏ lỡ", "Tin mới", "Tin mới nhất", "Tin liên quan", "Bài viết liên quan",
    "Bài liên quan", "Tin cùng chuyên mục", "Cùng chuyên mục", "Bình luận",
    "Cảm nhận của bạn về bài viết này", "Hỏi đáp thông minh", "Tin tài trợ", "Video",
    "Xem thêm", "Có thể bạn quan tâm", "Tin khác", "Tin nổi bật", "Tiêu điểm", "Từ khóa",
    "Tags", "Chia sẻ", "Gửi bình luận", "Ý kiến bạn đọc",
)

# The lead of every article starts with the paper's marker, which is not part of the text.
SAPO_MARKER = re.compile(r"^\(?\s*(?:kinhtedothi|KTĐT)\s*\)?\s*[-–—:]\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SiteProfile:
    name: str = "kinhtedothi"
    selectors: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_SELECTORS)
    )
    boilerplate_words: tuple[str, ...] = BOILERPLATE_WORDS
    box_headings: tuple[str, ...] = BOX_HEADINGS
    # Below this many characters of body text the profile is taken to have missed.
    min_body_chars: int = 250

    def chain(self, name: str) -> tuple[str, ...]:
        return self.selectors.get(name, ())

    def with_overrides(self, overrides: Mapping[str, Sequence[str]] | None) -> SiteProfile:
        """A profile whose chains named in ``overrides`` are replaced (from config.toml)."""
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(DEFAULT_SELECTORS))
        if unknown:
            raise ConfigError(
                f"[site.selectors] {unknown[0]}: unknown field; accepted: "
                + ", ".join(DEFAULT_SELECTORS)
            )
        merged = dict(self.selectors)
        merged.update({k: tuple(v) for k, v in overrides.items()})
        return replace(self, selectors=merged)


KINHTEDOTHI = SiteProfile()
