"""The digest: which items a subscriber gets, and how they read (pure functions, no I/O)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from monitor.config import Config, DigestConfig, SubscriberConfig, TopicConfig, loads
from monitor.deliver import message_for
from monitor.digest import (
    Candidate,
    Digest,
    Snapshot,
    choose,
    excerpt,
    highlight,
    http_url,
    material_changes,
    render,
    subject,
)
from monitor.extract.text import VN_TZ

NOW = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)
TOPIC = TopicConfig(name="bo-may", label="sắp xếp bộ máy", threshold=3.0,
                    phrases={"sắp xếp bộ máy": 3.0, "sáp nhập tỉnh": 3.0, "tinh gọn": 1.0},
                    exclude=("sáp nhập ngân hàng",))
SUB = SubscriberConfig(email="an@example.org", name="An", topics=("bo-may",), schedule="daily")
SETTINGS = DigestConfig()


def cand(article_id: int, title: str, *, hours_ago: float = 1, sapo: str = "Kinhtedothi - x",
         body: tuple[str, ...] = (), url: str | None = None, version: int = 1,
         delivered: Snapshot | None = None, delivered_version: int | None = None) -> Candidate:
    when = NOW - timedelta(hours=hours_ago)
    return Candidate(article_id, url or f"https://kinhtedothi.vn/bai.{article_id}.html", title,
                     sapo, body, when, when, version, delivered_version, delivered)


def digest_of(*cands: Candidate, settings: DigestConfig = SETTINGS,
              since: datetime | None = None):  # type: ignore[no-untyped-def]
    return choose(SUB, [TOPIC], list(cands), now=NOW, settings=settings, since=since)


def config(**digest: object) -> Config:
    lines = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in digest.items())
    return loads(f"""
[mail]
sender = "Monitor <monitor@example.org>"
unsubscribe = "https://example.org/huy?u=1&x=2"
[[schedules]]
name = "daily"
times = ["07:00", "17:00"]
[digest]
{lines}
""")


# --- choosing ---------------------------------------------------------------------------------


def test_only_relevant_articles_are_chosen_newest_first() -> None:
    d = digest_of(cand(1, "Sắp xếp bộ máy ở Hà Nội", hours_ago=5),
                  cand(2, "Giá vàng hôm nay"),
                  cand(3, "Sáp nhập tỉnh: kết quả", hours_ago=1))
    assert [i.article_id for i in d.new] == [3, 1]
    assert all(i.kind == "new" for i in d.new) and not d.updates


def test_articles_before_the_start_point_are_not_sent() -> None:
    since = NOW - timedelta(hours=24)
    old_but_found_late = Candidate(3, "https://kinhtedothi.vn/c.3.html", "Sắp xếp bộ máy", "",
                                   (), NOW - timedelta(days=30), NOW, 1)
    d = digest_of(cand(1, "Sắp xếp bộ máy", hours_ago=48), cand(2, "Sắp xếp bộ máy"),
                  old_but_found_late, since=since)
    assert [i.article_id for i in d.new] == [2]


def test_a_material_edit_of_a_delivered_article_is_an_update_showing_what_changed() -> None:
    before = Snapshot("Sắp xếp bộ máy", "Kinhtedothi - Sáng 8/12, hội nghị.", ("Một đoạn.",))
    edited = cand(1, "Sắp xếp bộ máy: kết luận", sapo=before.sapo, body=before.body,
                  version=2, delivered=before, delivered_version=1)
    d = digest_of(edited)
    assert not d.new
    (item,) = d.updates
    assert item.kind == "update" and item.version == 2
    assert [(c.field, c.before, c.after) for c in item.changes] == [
        ("title", "Sắp xếp bộ máy", "Sắp xếp bộ máy: kết luận")]


def test_a_delivered_article_without_a_material_change_is_not_sent_again() -> None:
    before = Snapshot("Sắp xếp bộ máy", "Kinhtedothi - Sáng 8/12, hội nghị.", ("Một đoạn.",))
    retyped = cand(1, "Sắp  xếp bộ máy", sapo="Kinhtedothi - Sáng 8/12, hội nghị!",
                   body=("Một đoạn .",), version=2, delivered=before, delivered_version=1)
    unchanged = cand(2, "Sắp xếp bộ máy", version=1, delivered=before, delivered_version=1)
    assert digest_of(retyped, unchanged).empty


def test_updates_can_be_turned_off() -> None:
    before = Snapshot("Sắp xếp bộ máy", "x")
    edited = cand(1, "Sắp xếp bộ máy mới", version=2, delivered=before, delivered_version=1)
    assert digest_of(edited, settings=DigestConfig(show_updates=False)).empty


def test_items_over_the_limit_wait_for_the_next_digest() -> None:
    d = digest_of(*[cand(i, "Sắp xếp bộ máy", hours_ago=i) for i in range(1, 6)],
                  settings=DigestConfig(max_items=3))
    assert [i.article_id for i in d.new] == [1, 2, 3] and d.held_back == 2


def test_the_digest_key_depends_on_the_subscriber_and_items_only() -> None:
    a = digest_of(cand(1, "Sắp xếp bộ máy"), cand(2, "Sáp nhập tỉnh"))
    b = choose(SUB, [TOPIC], [cand(2, "Sáp nhập tỉnh"), cand(1, "Sắp xếp bộ máy")],
               now=NOW + timedelta(hours=3), settings=SETTINGS)
    other = choose(SubscriberConfig(email="binh@example.org"), [TOPIC], [cand(1, "Sắp xếp bộ máy")],
                   now=NOW, settings=SETTINGS)
    assert a.key == b.key and a.key != other.key and len(a.key) == 64


def test_body_changes_are_summarised() -> None:
    old = Snapshot("t", "s", ("Đoạn một giữ nguyên.",))
    new = Snapshot("t", "s", ("Đoạn một giữ nguyên.",
                              "Đoạn mới thêm vào có hơn mười lăm từ để được coi là một thay đổi "
                              "đáng kể của nội dung bài viết này."))
    (change,) = material_changes(old, new)
    assert change.field == "body" and change.summary == "thêm 1 đoạn"
    assert change.after.startswith("Đoạn mới thêm vào")


# --- text helpers -----------------------------------------------------------------------------


def test_only_http_and_https_links_are_kept() -> None:
    assert http_url("https://kinhtedothi.vn/a.1.html") == "https://kinhtedothi.vn/a.1.html"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "/relative",
                "https://", "https://kinhtedothi.vn/a b", "https://x.vn/\r\nBcc: y", None, ""):
        assert http_url(bad) is None, bad


def test_the_excerpt_is_the_passage_around_the_first_phrase() -> None:
    filler = "Lời mở đầu rất dài không liên quan đến chủ đề. " * 10
    text = excerpt(("Mở đầu ngắn.", filler + "Thành phố tiếp tục sắp xếp bộ máy gọn hơn."),
                   [TOPIC])
    assert "sắp xếp bộ máy" in text and text.startswith("…") and len(text) <= 285
    assert excerpt(("Không có gì liên quan ở đây cả, nhưng đây là đoạn văn đủ dài để làm trích "
                    "đoạn.",), [TOPIC]).startswith("Không có gì")


def test_highlight_cuts_text_into_marked_parts() -> None:
    assert highlight("Hà Nội sắp xếp bộ máy.", [TOPIC]) == [
        ("Hà Nội ", False), ("sắp xếp bộ máy", True), (".", False)]


# --- rendering --------------------------------------------------------------------------------


def test_the_subject_counts_the_items_and_names_the_topic_and_day() -> None:
    d = digest_of(*[cand(i, "Sắp xếp bộ máy", hours_ago=i) for i in range(1, 4)])
    assert subject(d, "[Kinh tế & Đô thị]") == \
        "[Kinh tế & Đô thị] 3 bài mới về sắp xếp bộ máy – 08/12/2025"


def test_both_parts_hold_every_item_grouped_by_day() -> None:
    d = digest_of(cand(1, "Sắp xếp bộ máy ngày một", hours_ago=1),
                  cand(2, "Sáp nhập tỉnh ngày hai", hours_ago=30))
    r = render(d, config())
    for part in (r.html, r.text):
        assert "bộ máy</span> ngày một" in part or "bộ máy* ngày một" in part
        assert "tỉnh</span> ngày hai" in part or "tỉnh* ngày hai" in part
        assert "https://kinhtedothi.vn/bai.1.html" in part
        assert "https://kinhtedothi.vn/bai.2.html" in part
        assert "Thứ Hai, 08/12/2025" in part and "Chủ Nhật, 07/12/2025" in part
        assert "08/12/2025 16:00" in part
    assert r.html.index("bai.1.html") < r.html.index("bai.2.html")
    assert '<span class="hl-title">Sắp xếp bộ máy</span>' in r.html
    assert "*Sắp xếp bộ máy* ngày một" in r.text


def test_hostile_content_is_escaped_and_bad_links_dropped() -> None:
    evil = cand(1, "Sắp xếp bộ máy <script>alert(1)</script></table>\r\nBcc: x@evil.org",
                sapo="Kinhtedothi - <img src=x onerror=alert(1)> sắp xếp bộ máy",
                url="javascript:alert(document.cookie)")
    r = render(digest_of(evil), config())
    assert "<script>" not in r.html and "</table>\r\n" not in r.html
    assert "&lt;script&gt;" in r.html and "&lt;/table&gt;" in r.html
    assert "<img" not in r.html and "&lt;img" in r.html
    assert "javascript:" not in r.html and "javascript:" not in r.text
    assert "\r" not in r.subject and "\n" not in r.subject
    # The title is one line in the text part too: no forged lines.
    assert "\nBcc:" not in r.text and "Bcc: x@evil.org" in r.text
    # The operator's unsubscribe link is escaped as an attribute, not mangled.
    assert 'href="https://example.org/huy?u=1&amp;x=2"' in r.html


def test_the_footer_says_why_and_how_to_unsubscribe() -> None:
    r = render(digest_of(cand(1, "Sắp xếp bộ máy")), config())
    for part in (r.html, r.text):
        assert "an@example.org" in part and "07:00 và 17:00" in part
        assert "https://example.org/huy?u=1" in part


def test_an_empty_digest_renders_a_short_note() -> None:
    r = render(digest_of(), config(send_empty=True))
    assert "Không có bài mới" in r.subject and "Không có bài mới" in r.text


def test_matched_phrases_are_separated_by_a_mark_no_phrase_contains() -> None:
    topic = TopicConfig(name="bo-may", threshold=1.0,
                        phrases={"sắp xếp, tinh gọn tổ chức bộ máy": 3.0, "126 xã, phường": 2.0})
    c = cand(1, "Hà Nội: 126 xã, phường sau sắp xếp, tinh gọn tổ chức bộ máy")
    r = render(choose(SUB, [topic], [c], now=NOW, settings=SETTINGS), config())
    line = "sắp xếp, tinh gọn tổ chức bộ máy · 126 xã, phường"
    assert f"Từ khóa: {line}" in r.text and f"Từ khóa: {line}" in r.html


# --- what changed, word by word ---------------------------------------------------------------


def test_an_update_marks_the_words_that_changed_not_whole_paragraphs() -> None:
    old = ("Sau sắp xếp, Hà Nội có 579 xã, phường; các đơn vị mới đi vào hoạt động từ ngày "
           "1/7 với bộ máy tinh gọn, hoạt động hiệu lực, hiệu quả theo chỉ đạo của Trung ương.")
    new = old.replace("579", "126").replace("từ ngày 1/7", "từ ngày 1/7/2025")
    before = Snapshot("Sắp xếp bộ máy", "Kinhtedothi - x", (old,))
    edited = cand(1, "Sắp xếp bộ máy", body=(new, "Đoạn mới. " * 10), version=2,
                  delivered=before, delivered_version=1)
    r = render(digest_of(edited), config())
    assert "<del class=\"del\">579</del> <ins class=\"ins\">126</ins>" in r.html
    assert "[-579-]{+126+}" in r.text
    assert "1/7{+/2025+}" in r.text
    # The unchanged words between the two edits stay plain, and no whole paragraph is struck.
    assert "[-Sau sắp xếp" not in r.text and "Trước:" not in r.text
    assert "line-through" in r.html  # removed words are struck through, not only coloured


def test_a_word_diff_cuts_long_unchanged_stretches_to_some_context() -> None:
    from monitor.worddiff import word_diff

    same = " ".join(f"từ{i}" for i in range(60))
    runs = word_diff(f"{same} cũ {same}", f"{same} mới {same}")
    assert [op for _, op in runs] == ["same", "del", "ins", "same"]
    assert runs[0][0].startswith("…") and runs[-1][0].endswith("…")
    assert len(runs[0][0].split()) <= 9 and len(runs[-1][0].split()) <= 9
    assert word_diff("Hà Nội", "Hà Nội") == [("Hà Nội", "same")]


# --- the size budget --------------------------------------------------------------------------

LISTING = Path(__file__).parent / "fixtures" / "kinhtedothi" / "listing-page2.html"
BODY = ("Báo cáo tại hội nghị cho thấy, năm 2025, ngành Tổ chức xây dựng Đảng đã tham mưu triển "
        "khai quyết liệt việc sắp xếp bộ máy một cách tổng thể, triệt để, sâu rộng và đồng bộ.",)


def busy_day(n: int, *, short_links: bool = False) -> list[Candidate]:
    """``n`` relevant articles with the titles and links of a real listing page (72 and 106
    characters on average), or with short links."""
    found = re.findall(r'href="([^"]+)\.(\d+)\.html" title="([^"]+)"',
                       LISTING.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        slug, _, title = found[i % len(found)]
        slug = slug if slug.startswith("http") else "https://kinhtedothi.vn" + slug
        url = f"https://kinhtedothi.vn/{900000 + i}.html" if short_links else \
            f"{slug}.{900000 + i}.html"
        when = NOW - timedelta(minutes=5 * i + 1)
        out.append(Candidate(900000 + i, url, f"{title} ({i})", "Kinhtedothi - Sáng nay, các "
                             "địa phương tiếp tục sắp xếp bộ máy.", BODY, when, when, 1))
    return out


def sent(digest: Digest, cfg: Config) -> tuple[Digest, bytes, str, str]:
    fitted, _, _, raw = message_for(cfg, digest, NOW)
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    text, html = (msg.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    return fitted, raw, text.get_content(), html.get_content()


def test_a_200_item_digest_stays_under_the_budget_and_accounts_for_every_item() -> None:
    cfg = config(max_items=200)
    digest = digest_of(*busy_day(200), settings=cfg.digest)
    fitted, raw, text, html = sent(digest, cfg)
    assert cfg.digest.max_message_kb == 90 and len(raw) <= 90 * 1024
    in_message = {i.article_id for i in fitted.items}
    assert len(in_message) + fitted.held_back == 200 and len(in_message) >= 120
    for c in busy_day(200):
        if c.article_id in in_message:  # title and link, in both parts
            assert c.url in text and f'href="{c.url}"' in html and c.title in html, c.url
        else:  # not in this message: left for the next one, which the reader is told
            assert c.url not in text and c.url not in html
    assert f"Còn {fitted.held_back} bài nữa sẽ có trong bản tin sau" in text
    assert "Hủy đăng ký" in text and "hủy đăng ký" in html  # the footer is not clipped


def test_past_the_budget_items_are_listed_by_title_and_link_after_the_full_ones() -> None:
    cfg = config(max_items=40)
    fitted, raw, text, html = sent(digest_of(*busy_day(40), settings=cfg.digest), cfg)
    assert len(raw) <= 90 * 1024 and not fitted.held_back
    full, listed = fitted.new + fitted.updates, fitted.more
    assert full and listed and len(full) + len(listed) == 40
    assert f"== Và {len(listed)} bài khác ==" in text and f"Và {len(listed)} bài khác" in html
    for item in listed:
        assert item.url and item.url in text and f'href="{item.url}"' in html
        assert text.index(item.url) > text.index("bài khác ==")
    # A listed item shows no sapo or excerpt: only the full ones do.
    assert html.count('class="sapo"') == len(full)


def test_a_digest_within_the_budget_is_left_whole() -> None:
    cfg = config()
    digest = digest_of(*busy_day(5))
    fitted, raw, text, _ = sent(digest, cfg)
    assert fitted == digest and not fitted.more and "bài khác" not in text
    assert len(raw) < 30 * 1024


def test_the_budget_keeps_as_many_items_in_full_as_fit() -> None:
    cfg = config(max_items=60)
    fitted, raw, _, _ = sent(digest_of(*busy_day(60), settings=cfg.digest), cfg)
    assert len(raw) <= 90 * 1024 and fitted.new and fitted.more and not fitted.held_back
    # One more item in full would not fit.
    one_more = replace(fitted, new=fitted.new + fitted.more[:1], more=fitted.more[1:])
    assert len(message_for(replace(cfg, digest=replace(cfg.digest, max_message_kb=10_000)),
                           one_more, NOW)[3]) > 90 * 1024
