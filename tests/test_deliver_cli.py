"""The commands: `monitor run`, `deliver`, `preview`, a killed delivery, and bad configs."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from support.sitesrv import FixtureSite, SiteServer
from support.smtpsrv import Received, SmtpServer, delivery_toml

from monitor import cli
from monitor.config import loads
from monitor.models import Article
from monitor.store import db
from monitor.store.articles import Fetched, record_article

ROOT = Path(__file__).resolve().parent.parent


def monitor(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout, check=False)


def main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def store(root: Path, n: int, title: str) -> None:
    conn = db.connect(root / "state" / db.DB_NAME)
    try:
        now = datetime.now(UTC)
        article = Article(url=f"https://kinhtedothi.vn/bai-{n}.{n}.html", title=title,
                          sapo="Kinhtedothi - Tin.", body=("Một đoạn.",),
                          published_at=now - timedelta(minutes=5))
        record_article(conn, ident=str(n), url=article.url, source="test", article=article,
                       fetched=Fetched(article.url, None, None, "text/html", b"x"),
                       run_id=None, now=now, baseline=False)
    finally:
        conn.close()


# --- monitor run on a fresh checkout ----------------------------------------------------------


def fresh_checkout_config(base_url: str) -> str:
    """The repository's config.toml, pointed at the fixture site and without politeness delays
    (the only changes: everything else, the outbox default included, is as shipped)."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    swaps = [
        (r'url = "https://kinhtedothi\.vn/xay-dung-dang"', f'url = "{base_url}/xay-dung-dang"'),
        (r'allowed_hosts = \[[^\]]*\]', 'allowed_hosts = ["127.0.0.1"]'),
        (r"min_delay_seconds = [0-9.]+", "min_delay_seconds = 0.0"),
        (r"jitter_seconds = [0-9.]+", "jitter_seconds = 0.0"),
        (r"backoff_seconds = [0-9.]+", "backoff_seconds = 0.01"),
    ]
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text, count=1)
        assert count == 1, f"config.toml no longer has {pattern!r}"
    return text


def test_monitor_run_on_a_fresh_checkout_writes_the_digest_to_the_outbox(tmp_path: Path) -> None:
    site = FixtureSite(articles_count=6, per_page=10)
    with SiteServer(site) as server:
        (tmp_path / "config.toml").write_text(fresh_checkout_config(server.base),
                                              encoding="utf-8")
        result = monitor("run", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    emls = sorted((tmp_path / "state" / "outbox").glob("*.eml"))
    assert len(emls) == 1
    assert f"-> {emls[0]}" in result.stdout
    msg = BytesParser(policy=policy.default).parsebytes(emls[0].read_bytes())
    assert msg["To"].addresses[0].addr_spec == "reader@example.org"
    text = msg.get_body(("plain",))
    assert text is not None
    for article in site.articles:
        assert f"Bài {article.id}:" in text.get_content()
    assert str(msg["Subject"]).startswith("[Kinh tế & Đô thị] 6 bài mới về sắp xếp bộ máy – ")
    # A second run finds nothing new and sends nothing more.
    with SiteServer(site) as server:
        (tmp_path / "config.toml").write_text(fresh_checkout_config(server.base),
                                              encoding="utf-8")
        monitor("run", cwd=tmp_path)
    assert len(list((tmp_path / "state" / "outbox").glob("*.eml"))) == 1


# --- a delivery killed between the server's acceptance and our commit --------------------------


def test_sigkill_after_acceptance_repeats_that_digest_only(tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        subscribers = [{"email": "an@example.org", "schedule": "asap", "since": "2020-01-01"},
                       {"email": "binh@example.org", "schedule": "asap", "since": "2020-01-01"}]
        (tmp_path / "config.toml").write_text(
            delivery_toml(smtp_port=smtp.port, subscribers=subscribers), encoding="utf-8")
        store(tmp_path, 1, "Sắp xếp bộ máy: bài một")
        store(tmp_path, 2, "Sáp nhập tỉnh: bài hai")

        proc = subprocess.Popen([sys.executable, "-m", "monitor", "deliver"], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def kill_client(received: Received) -> None:
            # The server has the message; the client dies before it reads the 250.
            os.kill(proc.pid, signal.SIGKILL)

        smtp.handler.after_accept = kill_client
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        smtp.handler.after_accept = None
        (killed,) = smtp.messages

        store(tmp_path, 3, "Sắp xếp bộ máy: bài ba")
        again = monitor("deliver", cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "SENT AGAIN" in again.stdout
        after = monitor("deliver", cwd=tmp_path)
        assert after.returncode == 0

    repeat, *rest = smtp.messages[1:]
    assert repeat.message_id == killed.message_id and repeat.data == killed.data
    received: dict[str, list[str]] = {}
    for m in [killed, *rest]:
        body = m.message.get_body(("plain",))
        assert body is not None
        received.setdefault(m.recipients[0], []).extend(
            line for line in body.get_content().splitlines() if line.startswith("* "))
    expected = {"* Sắp xếp bộ máy: bài một", "* Sáp nhập tỉnh: bài hai", "* Sắp xếp bộ máy: bài ba"}
    for who in ("an@example.org", "binh@example.org"):
        items = [line.replace("*", "").strip() for line in received[who]]
        assert sorted(items) == sorted(e.strip("* ") for e in expected), who


# --- deliver and preview ------------------------------------------------------------------------


@pytest.fixture
def outbox_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(delivery_toml(), encoding="utf-8")
    store(tmp_path, 1, "Sắp xếp bộ máy: bài một")
    return path


def test_deliver_dry_run_says_what_it_would_send_and_writes_nothing(outbox_config: Path) -> None:
    code, out, _ = main("--config", str(outbox_config), "deliver", "--dry-run")
    assert code == 0 and "dry run" in out and "would send: 1 new" in out
    assert not (outbox_config.parent / "state" / "outbox").exists()
    code, out, _ = main("--config", str(outbox_config), "deliver")
    assert code == 0 and "sent: 1 new" in out and ".eml" in out


def test_preview_writes_the_html_without_recording_anything(outbox_config: Path) -> None:
    target = outbox_config.parent / "preview.html"
    code, out, _ = main("--config", str(outbox_config), "preview", "--output", str(target))
    assert code == 0 and "1 new" in out and str(target) in out
    html = target.read_text(encoding="utf-8")
    assert "bài một" in html and 'style="' in html  # the CSS is inlined as when sent
    code, out, _ = main("--config", str(outbox_config), "preview", "--text",
                        "--subscriber", "AN@example.org")
    assert code == 0 and "* *Sắp xếp bộ máy*: bài một" in out
    # Nothing was recorded: a real delivery still sends the item.
    code, out, _ = main("--config", str(outbox_config), "deliver")
    assert "sent: 1 new" in out


def test_preview_of_an_unknown_subscriber_is_a_usage_error(outbox_config: Path) -> None:
    code, _, err = main("--config", str(outbox_config), "preview", "--subscriber", "x@y.z")
    assert code == 2 and "no subscriber 'x@y.z'" in err and "an@example.org" in err


# --- bad config: exit 2 and one message naming the fix -------------------------------------------


@pytest.mark.parametrize(("toml", "expected"), [
    (delivery_toml(sender=""), "[mail] sender: missing; set the From address"),
    (delivery_toml(subscribers=[{"name": "An", "schedule": "asap"}]), "email: missing"),
    (delivery_toml(subscribers=[{"email": "", "schedule": "asap"}]),
     "email: expected an email address"),
    (delivery_toml(subscribers=[{"email": "an@example.org", "topics": ["khong-co"]}]),
     "no topic named 'khong-co'; defined: bo-may"),
    (delivery_toml(smtp_port=2525, security="starttls", username="monitor"),
     "environment variable TEST_SMTP_PASSWORD is not set; export it"),
], ids=["no-sender", "subscriber-without-email", "empty-email", "unknown-topic",
        "unset-password"])
@pytest.mark.parametrize("command", ["deliver", "run", "preview"])
def test_bad_config_exits_2_with_one_message(tmp_path: Path, toml: str, expected: str,
                                             command: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    code, out, err = main("--config", str(path), command)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("monitor: error: ") and expected in err


def test_the_password_comes_from_the_environment_only(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    config = loads(delivery_toml(smtp_port=2525, security="starttls", username="monitor"))
    assert config.smtp_password() == "s3cret"
