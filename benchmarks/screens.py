"""Screenshots of the digest as readers see it: 375 px (a phone) and 800 px (a desktop client),
light and dark, rendered by headless Chromium from the HTML part as it is sent (CSS inlined).

    .venv/bin/python benchmarks/screens.py [OUT_DIR]     # default: state/screens

Writes digest-375-light.png, digest-375-dark.png, digest-800-light.png, digest-800-dark.png and
the HTML they show. Needs /usr/bin/chromium (Debian: `apt-get install chromium`); without it the
script says so and exits 0. tests/test_render_chromium.py uses the same sample and Chromium set-up.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# No network, no first-run work, a throw-away profile: the render depends on the HTML only.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars", "--force-device-scale-factor=1")
# Chromium's "prefers-color-scheme" override: 0 is dark, 1 is light (checked with matchMedia;
# --force-dark-mode gives the same media result).
SCHEMES = {"light": "--blink-settings=preferredColorScheme=1",
           "dark": "--blink-settings=preferredColorScheme=0"}
WIDTHS = (375, 800)


def available() -> bool:
    return CHROMIUM.exists()


def sample_html() -> str:
    """A digest with every kind of element: days, highlights, an update, a listed item."""
    sys.path.insert(0, str(ROOT))
    from monitor.config import loads
    from monitor.digest import Candidate, Snapshot, choose, render
    from monitor.extract.text import VN_TZ
    from monitor.mail import inline_css

    config = loads((ROOT / "config.toml").read_text(encoding="utf-8"), root=ROOT)
    now = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)

    def at(day: int, hour: int) -> datetime:
        return datetime(2025, 12, day, hour, 5, tzinfo=VN_TZ)

    old = ("Sau sắp xếp đơn vị hành chính, Hà Nội có 579 xã, phường; các đơn vị mới đi vào "
           "hoạt động từ ngày 1/7 với bộ máy tinh gọn theo chỉ đạo của Trung ương.")
    new = old.replace("579", "126").replace("tinh gọn", "tinh gọn, hiệu lực, hiệu quả") + (
        " Thành phố yêu cầu các xã, phường mới rà soát, bố trí cán bộ phù hợp với vị trí việc "
        "làm và công khai kết quả trước ngày 31/12.")
    candidates = [
        Candidate(704101, "https://kinhtedothi.vn/hoan-thien-the-che-bo-may-moi.704101.html",
                  "Hoàn thiện thể chế để bảo đảm mô hình bộ máy mới sau sắp xếp tổ chức bộ máy",
                  "Kinhtedothi - Sáng 8/12, Ban Tổ chức Trung ương tổng kết công tác năm 2025; "
                  "cả nước đã hoàn thành sắp xếp tổ chức bộ máy.",
                  ("Ngành Tổ chức xây dựng Đảng đã tham mưu triển khai quyết liệt việc sắp xếp, "
                   "tinh gọn tổ chức bộ máy một cách tổng thể, triệt để và đồng bộ.",),
                  at(8, 10), at(8, 10), 1),
        Candidate(704088, "https://kinhtedothi.vn/ha-noi-126-xa-phuong.704088.html",
                  "Hà Nội: 126 xã, phường vận hành chính quyền địa phương 2 cấp ổn định",
                  "Kinhtedothi - Sau 5 tháng, các xã, phường của Thủ đô đã ổn định tổ chức.",
                  ("Thành phố đã hoàn thành sắp xếp đơn vị hành chính, còn 126 xã, phường.",),
                  at(7, 15), at(7, 15), 1),
        Candidate(703990, "https://kinhtedothi.vn/sap-xep-don-vi-hanh-chinh.703990.html",
                  "Sắp xếp đơn vị hành chính cấp xã: hoàn thành trước 30/6",
                  "Kinhtedothi - Các địa phương hoàn thiện hồ sơ sắp xếp đơn vị hành chính.",
                  (new,), at(5, 8), at(5, 8), 2, 1,
                  Snapshot("Sắp xếp đơn vị hành chính cấp xã: hoàn thành trước 30/6",
                           "Kinhtedothi - Các địa phương khẩn trương hoàn thiện hồ sơ.",
                           (old,))),
    ] + [
        Candidate(703900 + i, f"https://kinhtedothi.vn/tinh-gon-bo-may-{i}.{703900 + i}.html",
                  f"Tinh gọn bộ máy: kết quả sắp xếp tổ chức bộ máy ở địa phương số {i}",
                  "Kinhtedothi - Tin ngắn.", (), at(6, 9) - timedelta(hours=i),
                  at(6, 9) - timedelta(hours=i), 1)
        for i in range(1, 4)
    ]
    sub = config.subscribers[0]
    digest = choose(sub, config.topics, candidates, now=now, settings=config.digest,
                    since=now - timedelta(days=30))
    # The last new items as a budget-limited digest lists them: title and link only.
    digest = replace(digest, new=digest.new[:2], more=digest.new[2:])
    return inline_css(render(digest, config).html)


def run(url: str, *args: str, width: int, height: int, scheme: str, timeout: float = 120) -> str:
    """Run Chromium once on ``url`` with a fresh profile; its standard output."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [str(CHROMIUM), *FLAGS, SCHEMES[scheme], f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", *args, url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=profile)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


_WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" style="border:0;width:%(width)dpx;height:800px" srcdoc="%(srcdoc)s"></iframe>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const result = (function (doc, win) { %(body)s })(doc, doc.defaultView);
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script></body></html>"""


def probe(page: str, body: str, *, width: int, scheme: str) -> Any:
    """Run the JavaScript function ``body`` (given ``doc`` and ``win``) on ``page`` laid out
    ``width`` px wide, and return what it returns.

    The page sits in an iframe of that width: headless Chromium lays a page out at least 500 px
    wide whatever --window-size says, which would hide the phone layout.
    """
    wrapper = _WRAPPER % {"width": width, "srcdoc": html.escape(page, quote=True),
                          "body": body}
    with tempfile.TemporaryDirectory(prefix="probe-") as folder:
        path = Path(folder) / "probe.html"
        path.write_text(wrapper, encoding="utf-8")
        dom = run(path.as_uri(), "--dump-dom", "--virtual-time-budget=10000", width=width,
                  height=800, scheme=scheme)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not found:
        raise RuntimeError(f"the probe did not run: {dom[-500:]}")
    return json.loads(html.unescape(found.group(1)))


def page_height(page: Path, *, width: int, scheme: str) -> int:
    """How tall the page is at ``width``: the screenshot shows all of it and nothing more."""
    return int(probe(page.read_text(encoding="utf-8"),
                     "return doc.documentElement.scrollHeight;", width=width, scheme=scheme))


def screenshot(html: Path, png: Path, *, width: int, scheme: str) -> None:
    height = page_height(html, width=width, scheme=scheme)
    run(html.resolve().as_uri(), f"--screenshot={png.resolve()}", width=width, height=height,
        scheme=scheme)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else ROOT / "state" / "screens"
    if not available():
        print(f"screens: {CHROMIUM} not found; install Chromium (apt-get install chromium)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    html = out / "digest.html"
    html.write_text(sample_html(), encoding="utf-8")
    for width in WIDTHS:
        for scheme in SCHEMES:
            png = out / f"digest-{width}-{scheme}.png"
            screenshot(html, png, width=width, scheme=scheme)
            print(f"screens: {png} ({png.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
