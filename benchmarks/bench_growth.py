"""What a run costs as the archive grows: state databases of 1,000, 10,000 (and 100,000) articles.

Each database is built through the store API (synthetic Vietnamese text, 50 articles a day,
about one in five on the topic, one in twenty edited once), with the project's topics from
config.toml, a subscriber who has received every digest along the way, and one collect of a
local fixture site. Then, per size, each operation runs in a process of its own (its time, the
process's peak memory):

- ``collect``: a steady-state collect against the local site (nothing new, conditional GETs);
- ``deliver-empty``: a delivery with nothing due;
- ``status`` and ``preview`` with nothing due, then ``status-200``, ``preview-200`` and
  ``dry-run`` (``monitor run --dry-run``) with 200 items due;
- ``deliver-200``: a delivery of those 200 items to a local SMTP server (aiosmtpd).

``seconds`` is the operation itself (the command's function, after imports and config load),
the best of three runs for operations that leave the state unchanged (one run for the delivery
of 200 items); ``process`` the whole process, interpreter start included; ``peak MB`` the
largest maximum resident size of the runs. Built databases are cached in
/tmp/monitor-bench-growth/ (keyed by the schema and this generator's version), since 100,000
articles take minutes to build.

    .venv/bin/python benchmarks/bench_growth.py            # 1,000 and 10,000 (make bench)
    .venv/bin/python benchmarks/bench_growth.py --full     # also 100,000
    .venv/bin/python benchmarks/bench_growth.py --sizes 1000 100000

Results also go to benchmarks/out/bench_growth.json.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import config_toml  # noqa: E402
from support.sitesrv import FixtureSite, SiteServer  # noqa: E402
from support.smtpsrv import SmtpServer  # noqa: E402

from monitor.config import Config, load, loads  # noqa: E402
from monitor.models import Article  # noqa: E402
from monitor.store import db, verdicts  # noqa: E402
from monitor.store.articles import Fetched, record_article  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "bench_growth.json"
CACHE = Path(tempfile.gettempdir()) / "monitor-bench-growth"
GENERATOR = 1
PER_DAY = 50
DUE = 200
EMAIL = "ban-doc@example.org"
FAST = {"min_delay_seconds": 0.0, "jitter_seconds": 0.0, "concurrency": 4}
REPEAT = 3
ONCE = ("deliver-200", "warm-collect", "warm-deliver")
OPS = ("collect", "deliver-empty", "status", "preview", "status-200", "preview-200", "dry-run",
       "deliver-200")

# Words to build sentences from (the beat's vocabulary and everyday news words).
_WORDS = (
    "thành phố ủy ban nhân dân hội đồng đại biểu cán bộ đảng viên chi bộ đảng bộ công tác "
    "kiểm tra giám sát triển khai thực hiện nghị quyết kế hoạch năm nay nhiệm vụ trọng tâm "
    "phát triển kinh tế xã hội người dân doanh nghiệp đầu tư hạ tầng giao thông đô thị quận "
    "huyện phường xã thị trấn hội nghị tổng kết đánh giá kết quả đạt được hạn chế nguyên nhân "
    "giải pháp đồng chí bí thư chủ tịch phó chủ tịch trưởng ban thường trực chỉ đạo quyết liệt "
    "chặt chẽ hiệu quả nâng cao chất lượng đội ngũ chuyển đổi số cải cách hành chính dịch vụ "
    "công trực tuyến an sinh giáo dục y tế văn hóa môi trường ngân sách thu chi tiến độ dự án"
).split()
_PHRASES_OFF = ("giá vàng", "thời tiết", "bóng đá", "giao thông", "bất động sản")


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, phrases: list[str], relevant: bool) -> tuple[str, str, list[str]]:
    hint = rng.choice(phrases) if relevant else rng.choice(_PHRASES_OFF)
    title = f"{_sentence(rng, 6)[:-1]} {hint}"
    sapo = "Kinhtedothi - " + _sentence(rng, 25)
    body = []
    for _ in range(rng.randint(6, 12)):
        para = " ".join(_sentence(rng, rng.randint(10, 22)) for _ in range(rng.randint(2, 4)))
        if relevant and rng.random() < 0.3:
            para += f" Tiếp tục {rng.choice(phrases)} theo kế hoạch."
        body.append(para)
    return title, sapo, body


def topics_config() -> Config:
    return load(ROOT / "config.toml")


def bench_config(root: Path, site: str, smtp_port: int) -> Config:
    """The config of one benchmark state: the local site, a local SMTP server, the project's
    topics, one subscriber since the beginning, digests of up to 200 items."""
    text = config_toml(site, fetch=FAST, state={"lock_timeout_seconds": 60.0})
    text += f"""
[[schedules]]
name = "asap"
times = []

[mail]
sender = "Bản tin <monitor@example.org>"
unsubscribe = "mailto:monitor@example.org?subject=unsubscribe"

[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout_seconds = 30.0

[digest]
max_items = {DUE}

[[subscribers]]
email = "{EMAIL}"
schedule = "asap"
since = "2020-01-01T00:00:00+07:00"
"""
    config = loads(text, root=root, name=str(root / "config.toml"))
    return replace(config, topics=topics_config().topics)


def _store(conn: Any, config: Config, rng: random.Random, n: int, when: datetime,
           phrases: list[str], *, relevant: bool | None = None,
           seen: datetime | None = None) -> None:
    rel = rng.random() < 0.2 if relevant is None else relevant
    title, sapo, body = _text(rng, phrases, rel)
    ident = str(1_000_000 + n)
    url = f"https://kinhtedothi.vn/bai-viet-so-{n}.{ident}.html"
    article = Article(url=url, title=title, sapo=sapo, body=tuple(body), published_at=when)
    page = Fetched(url, None, None, "text/html", b"<html></html>")
    rec = record_article(conn, ident=ident, url=url, source="xay-dung-dang", article=article,
                         fetched=page, run_id=None, now=seen or when, baseline=False)
    verdicts.record(conn, rec.article_id, rec.version, title, sapo, body, config.topics)
    if rng.random() < 0.05:  # edited an hour later
        edited = replace(article, body=(*body[:-1], body[-1] + " " + _sentence(rng, 20)))
        rec = record_article(conn, ident=ident, url=url, source="xay-dung-dang",
                             article=edited, fetched=page, run_id=None,
                             now=(seen or when) + timedelta(hours=1), baseline=False)
        verdicts.record(conn, rec.article_id, rec.version, edited.title, sapo, edited.body,
                        config.topics)


def build(size: int, now: datetime) -> Path:
    """The cached database of ``size`` articles (built through the store API when missing)."""
    from monitor.deliver import DryTransport, deliver

    path = CACHE / f"growth-{size}-s{len(db.MIGRATIONS)}-g{GENERATOR}.sqlite3"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="growth-build-", dir=CACHE))
    config = bench_config(work, "http://127.0.0.1:9", 9)
    phrases = [p for t in config.topics for p, w in t.phrases.items() if w >= 3.0]
    rng = random.Random(size)
    conn = db.connect(db.db_path(config.state_dir))
    conn.execute("PRAGMA synchronous = OFF")
    verdicts.refresh(conn, config.topics, now=now)
    # Two years' worth ending three days ago (outside the re-check window).
    step = timedelta(days=1) / PER_DAY
    start = now - timedelta(days=3) - step * size
    started = time.perf_counter()
    conn.execute("BEGIN")
    for n in range(size):
        when = start + step * n
        _store(conn, config, rng, n, when, phrases)
        if (n + 1) % 500 == 0 or n + 1 == size:
            # The subscriber received everything up to here (the transport accepts all).
            deliver(conn, config, DryTransport("bench"), now=when + timedelta(minutes=1))
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            if (n + 1) % 10_000 == 0:
                print(f"   built {n + 1:,}/{size:,} ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.move(str(db.db_path(config.state_dir)), path)
    shutil.rmtree(work, ignore_errors=True)
    print(f"   built {size:,} articles in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def add_due(config: Config, count: int, now: datetime) -> None:
    """``count`` relevant articles stored since the last delivery, as a collect stores them
    (published 60 h ago, outside the re-check window; seen in the last hour)."""
    rng = random.Random(count)
    phrases = [p for t in config.topics for p, w in t.phrases.items() if w >= 3.0]
    conn = db.connect(db.db_path(config.state_dir))
    base = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0]) + 10_000_000
    for i in range(count):
        _store(conn, config, rng, base + i, now - timedelta(hours=60, minutes=i), phrases,
               relevant=True, seen=now - timedelta(minutes=60) + timedelta(seconds=i))
    conn.close()


# --- one operation, in a process of its own ---------------------------------------------


def run_op(op: str, root: Path, site: str, smtp_port: int) -> dict[str, Any]:
    from monitor.commands.collect import collect_command
    from monitor.commands.deliver import deliver_command
    from monitor.commands.preview import preview_command
    from monitor.commands.run import run_command
    from monitor.commands.status import status_command

    config = bench_config(root, site, smtp_port)
    sink = io.StringIO()
    name = op.removesuffix("-200").removesuffix("-empty")
    started = time.perf_counter()
    if name == "collect":
        code = collect_command(config, dry_run=False, baseline=False, out=sink)
    elif name == "deliver":
        code = deliver_command(config, dry_run=False, out=sink)
    elif name == "status":
        code = status_command(config, as_json=False, out=sink)
    elif name == "preview":
        code = preview_command(config, subscriber=None, output=None, text=False, out=sink)
    elif name == "dry-run":
        code = run_command(config, dry_run=True, out=sink)
    else:
        raise SystemExit(f"unknown operation {op}")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"op": op, "code": code, "seconds": round(seconds, 4), "peak_mb": round(peak, 1),
            "output": sink.getvalue()[:400]}


def measure(op: str, root: Path, site: str, smtp_port: int) -> dict[str, Any]:
    """The best of three runs for operations that leave the state as they found it (the
    machine is shared: the minimum is the figure least disturbed by others); one otherwise."""
    runs = [_measure_once(op, root, site, smtp_port)
            for _ in range(1 if op in ONCE else REPEAT)]
    best = min(runs, key=lambda r: r["seconds"])
    best["all_seconds"] = [r["seconds"] for r in runs]
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    return best


def _measure_once(op: str, root: Path, site: str, smtp_port: int) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--op", op, "--root", str(root), "--site", site,
         "--smtp", str(smtp_port)], stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process"] = round(time.perf_counter() - started, 3)
    return result


def one_size(size: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    cached = build(size, now)
    results: dict[str, Any] = {"articles": size}
    site = FixtureSite(articles_count=40, per_page=14, newest_age=timedelta(hours=72))
    with tempfile.TemporaryDirectory(prefix="growth-") as tmp, SiteServer(site) as server, \
            SmtpServer() as smtp:
        root = Path(tmp)
        config = bench_config(root, server.base, smtp.port)
        config.state_dir.mkdir(parents=True)
        shutil.copyfile(cached, db.db_path(config.state_dir))
        # The fixture site's articles are collected and delivered once: what a running
        # install has; then the steady state is measured.
        for op in ("collect", "deliver"):
            results[f"warm-{op}"] = _measure_once(op, root, server.base, smtp.port)
        for op in OPS:
            if op == "status-200":
                add_due(config, DUE, now)
            results[op] = measure(op, root, server.base, smtp.port)
        results["smtp_messages"] = len(smtp.messages)
        path = db.db_path(config.state_dir)
        results["db_mb"] = round(path.stat().st_size / 1e6, 1)
        relevant = _count(path, "SELECT count(DISTINCT version_id) FROM verdicts"
                                " WHERE verdict = 'relevant'")
        results["relevant_versions"] = relevant
    return results


def _count(path: Path, sql: str) -> int:
    conn = db.connect_readonly(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def table(runs: list[dict[str, Any]]) -> str:
    head = "| operation | " + " | ".join(f"{r['articles']:,} articles" for r in runs) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    for op in OPS:
        cells = [f"{r[op]['seconds']:.3f} s (process {r[op]['process']:.2f} s), "
                 f"{r[op]['peak_mb']:.0f} MB" for r in runs]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines.append("| database file | " + " | ".join(f"{r['db_mb']:.1f} MB" for r in runs) + " |")
    return "\n".join(lines)


def check(runs: list[dict[str, Any]]) -> list[str]:
    """The targets: at the largest size each figure within bounds and at most 2x its 1k value."""
    problems = []
    first, last = runs[0], runs[-1]
    for op in OPS:
        r = last[op]
        if r["code"] != 0:
            problems.append(f"{op} at {last['articles']:,}: exit {r['code']}: {r['output']}")
        bound = 2.0 if op == "deliver-200" else 0.5 if op in (
            "deliver-empty", "status", "preview", "status-200", "preview-200") else None
        if bound is not None and r["seconds"] >= bound:
            problems.append(f"{op}: {r['seconds']:.3f} s at {last['articles']:,} (bound {bound} s)")
        if r["peak_mb"] >= 150:
            problems.append(f"{op}: {r['peak_mb']} MB peak at {last['articles']:,}")
        if last is not first:
            for key in ("seconds", "peak_mb"):
                if r[key] > 2 * max(first[op][key], 0.01):
                    problems.append(f"{op}: {key} {r[key]} at {last['articles']:,} is over 2x "
                                    f"{first[op][key]} at {first['articles']:,}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 100,000 articles")
    parser.add_argument("--sizes", type=int, nargs="*")
    parser.add_argument("--op")
    parser.add_argument("--root")
    parser.add_argument("--site")
    parser.add_argument("--smtp", type=int)
    args = parser.parse_args(argv)
    if args.op:
        print(json.dumps(run_op(args.op, Path(args.root), args.site, args.smtp)))
        return 0
    sizes = args.sizes or ([1_000, 10_000, 100_000] if args.full else [1_000, 10_000])
    runs = []
    for size in sizes:
        print(f"-- {size:,} articles", flush=True)
        runs.append(one_size(size))
        print(table(runs[-1:]), flush=True)
    print(table(runs))
    for r in runs:
        print(f"{r['articles']:,} articles: {r['relevant_versions']:,} relevant versions, "
              f"{r['smtp_messages']} messages to the local SMTP server")
    problems = check(runs)
    for p in problems:
        print("  OVER TARGET:", p)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"runs": runs, "problems": problems}, ensure_ascii=False,
                              indent=1), encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
