"""The digest's size budget on a busy day: how many items one message carries, how big it is,
and how long fitting it takes (each probe renders, inlines the CSS and encodes the message).

    .venv/bin/python benchmarks/bench_digest.py

Titles and links are those of a real listing page (tests/fixtures/kinhtedothi/listing-page2.html:
72 and 106 characters on average), repeated with other ids.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import loads  # noqa: E402
from monitor.deliver import message_for  # noqa: E402
from monitor.digest import Candidate, choose  # noqa: E402
from monitor.extract.text import VN_TZ  # noqa: E402

LISTING = ROOT / "tests" / "fixtures" / "kinhtedothi" / "listing-page2.html"
NOW = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)
BODY = ("Báo cáo tại hội nghị cho thấy, năm 2025, ngành Tổ chức xây dựng Đảng đã tham mưu triển "
        "khai quyết liệt việc sắp xếp, tinh gọn tổ chức bộ máy một cách tổng thể và đồng bộ.",)


def busy_day(n: int) -> list[Candidate]:
    found = re.findall(r'href="([^"]+)\.(\d+)\.html" title="([^"]+)"',
                       LISTING.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        slug, _, title = found[i % len(found)]
        slug = slug if slug.startswith("http") else "https://kinhtedothi.vn" + slug
        when = NOW - timedelta(minutes=5 * i + 1)
        out.append(Candidate(900000 + i, f"{slug}.{900000 + i}.html", title,
                             "Kinhtedothi - Các địa phương tiếp tục sắp xếp tổ chức bộ máy.",
                             BODY, when, when, 1))
    return out


def main() -> int:
    config = loads((ROOT / "config.toml").read_text(encoding="utf-8"), root=ROOT)
    sub = config.subscribers[0]
    print(f"budget {config.digest.max_message_kb} KB; n = relevant items due")
    print("    n  max_items  full  listed  held  message KB  fit s")
    for n, max_items in ((10, 50), (26, 50), (50, 50), (200, 50), (200, 200)):
        settings = replace(config.digest, max_items=max_items)
        cfg = replace(config, digest=settings)
        digest = choose(sub, config.topics, busy_day(n), now=NOW, settings=settings,
                        since=NOW - timedelta(days=30))
        started = time.perf_counter()
        fitted, _, _, raw = message_for(cfg, digest, NOW)
        took = time.perf_counter() - started
        full = len(fitted.new) + len(fitted.updates)
        print(f"{n:5d}  {max_items:9d}  {full:4d}  {len(fitted.more):6d}  "
              f"{fitted.held_back:4d}  {len(raw) / 1024:10.1f}  {took:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
