"""One-click unsubscribe as a reader's mail client and an operator meet it: RFC 8058 headers,
the signed URL, and a real `monitor serve` on 127.0.0.1 that unsubscribes on POST only."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support import state_conn
from support.smtpsrv import delivery_toml, free_port

from monitor.cli import main
from monitor.commands.status import status_command
from monitor.config import Config, MailConfig, loads
from monitor.deliver import run_deliver
from monitor.errors import ConfigError
from monitor.extract.text import VN_TZ
from monitor.mail import as_bytes, build_message, list_unsubscribe
from monitor.models import Article
from monitor.store import unsubscribes
from monitor.store.articles import Fetched, record_article
from monitor.unsubscribe import signature, url_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-for-tests-only-0123456789"
T0 = datetime(2025, 12, 8, 7, 5, tzinfo=VN_TZ)
MAILTO = "mailto:monitor@example.org?subject=unsubscribe"


def serve_toml(port: int, base_url: str = "https://tin.example.org") -> str:
    subscribers = [{"email": "an@example.org", "name": "An", "schedule": "daily",
                    "since": "2020-01-01T00:00:00+07:00"}]
    return delivery_toml(subscribers=subscribers) + (
        f"\n[serve]\ncollect_every_minutes = 600\nhttp_port = {port}\n"
        f"base_url = \"{base_url}\"\n")


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MONITOR_UNSUBSCRIBE_SECRET", SECRET)
    return SECRET


def request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def unsubscribed(config: Config) -> set[str]:
    conn = state_conn(config)
    try:
        return set(unsubscribes.all_unsubscribed(conn))
    finally:
        conn.close()


def store_article(config: Config, n: int) -> None:
    conn = state_conn(config)
    try:
        url = f"https://kinhtedothi.vn/bai-{n}.{n}.html"
        article = Article(url=url, title=f"Sắp xếp bộ máy: bài {n}", sapo="Kinhtedothi - Tin.",
                          body=("Một đoạn.",), published_at=T0 - timedelta(hours=1))
        record_article(conn, ident=str(n), url=url, source="test", article=article,
                       fetched=Fetched(url, None, None, "text/html", b"x"), run_id=None,
                       now=T0 - timedelta(hours=1), baseline=False)
    finally:
        conn.close()


# --- the headers --------------------------------------------------------------------------------


def test_headers_follow_rfc_8058_with_one_https_uri_and_the_post_header() -> None:
    url = "https://tin.example.org/unsubscribe?u=YW5AZXhhbXBsZS5vcmc&s=abc"
    assert list_unsubscribe(MAILTO, url) == {
        "List-Unsubscribe": f"<{url}>, <{MAILTO}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    # An operator's own http(s) address would be a second http URI: the one-click one wins.
    assert list_unsubscribe("https://example.org/huy", url)["List-Unsubscribe"] == f"<{url}>"
    # Without a one-click URL: mailto as before, and no Post header (it would be a lie).
    assert list_unsubscribe(MAILTO, None) == {"List-Unsubscribe": f"<{MAILTO}>"}
    # Only https is one-click: an http URL (or a header-breaking one) is not offered.
    assert "List-Unsubscribe-Post" not in list_unsubscribe(MAILTO, "http://tin.example.org/u")
    assert list_unsubscribe("", "https://x.org/u\r\nBcc: a@b.c") == {}


def test_a_message_carries_the_subscribers_own_signed_url(tmp_path: Path, secret: str) -> None:
    config = loads(serve_toml(8125), root=tmp_path)
    url = url_for(config, "An@Example.org")
    assert url is not None and url.startswith("https://tin.example.org/unsubscribe?u=")
    assert url_for(config, "binh@example.org") != url
    raw = as_bytes(build_message(
        subject="s", text="t", html="<p>h</p>", mail=MailConfig(sender="m <m@example.org>",
                                                               unsubscribe=MAILTO),
        site_name="Kinh tế & Đô thị", to_email="an@example.org", to_name="An",
        msg_id="<x@example.org>", date=T0, one_click=url))
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["List-Unsubscribe"].strip() == f"<{url}>, <{MAILTO}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_a_public_url_or_a_port_the_message_keeps_mailto(tmp_path: Path,
                                                                 secret: str) -> None:
    without_url = serve_toml(8125).replace('base_url = "https://tin.example.org"', "")
    assert url_for(loads(without_url, root=tmp_path), "an@example.org") is None
    without_port = serve_toml(0)
    assert url_for(loads(without_port, root=tmp_path), "an@example.org") is None


def test_the_config_refuses_a_non_https_base_url_and_a_missing_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_UNSUBSCRIBE_SECRET", SECRET)
    with pytest.raises(ConfigError, match=r"\[serve\] base_url.*https"):
        loads(serve_toml(8125, "http://tin.example.org"), root=tmp_path)
    monkeypatch.delenv("MONITOR_UNSUBSCRIBE_SECRET")
    with pytest.raises(ConfigError, match="MONITOR_UNSUBSCRIBE_SECRET"):
        loads(serve_toml(8125), root=tmp_path)
    monkeypatch.setenv("MONITOR_UNSUBSCRIBE_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        loads(serve_toml(8125), root=tmp_path)


# --- against a real `monitor serve` ------------------------------------------------------------


@pytest.fixture
def serving(tmp_path: Path, secret: str) -> Iterator[tuple[Config, str]]:
    port = free_port()
    text = serve_toml(port)
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config = loads(text, root=tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line, proc.stderr.read() if proc.stderr else line
        yield config, f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def local(url: str, base: str) -> str:
    """The public URL of a message, as the service behind the proxy receives it."""
    parts = urlsplit(url)
    return f"{base}{parts.path}?{parts.query}"


def test_one_click_post_unsubscribes_and_a_get_does_not(serving: tuple[Config, str]) -> None:
    config, base = serving
    store_article(config, 1)
    report = run_deliver(config, now=T0)
    assert [o.status for o in report.outcomes] == ["sent"]
    (eml,) = (config.state_dir / "outbox").glob("*.eml")
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    url = url_for(config, "an@example.org")
    assert url is not None and msg["List-Unsubscribe"].strip() == f"<{url}>, <{MAILTO}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",))
    assert text is not None and url in text.get_content()  # the footer link too

    # A GET (a reader's click, a link scanner, a prefetcher) shows a button and changes nothing.
    for method in ("GET", "HEAD", "GET"):
        status, page = request(local(url, base), method)
        assert status == 200
    assert 'method="post"' in request(local(url, base))[1]
    assert unsubscribed(config) == set()

    # The mail client's one click (RFC 8058 body).
    status, page = request(local(url, base), "POST", b"List-Unsubscribe=One-Click")
    assert status == 200 and "Đã hủy đăng ký" in page
    assert unsubscribed(config) == {"an@example.org"}
    assert request(local(url, base), "POST", b"List-Unsubscribe=One-Click")[0] == 200

    # The ledger sends nothing more; status says so; the operator can undo it.
    store_article(config, 2)
    later = run_deliver(config, now=T0 + timedelta(days=1))
    assert [(o.status, "unsubscribed" in o.error) for o in later.outcomes] == [("skipped", True)]
    assert len(list((config.state_dir / "outbox").glob("*.eml"))) == 1
    out = io.StringIO()
    status_command(config, as_json=False, out=out)
    assert "an@example.org: UNSUBSCRIBED on" in out.getvalue()
    out = io.StringIO()
    assert main(["--config", str(config.root / "config.toml"), "resubscribe", "an@example.org"],
                out=out) == 0
    assert "re-subscribed" in out.getvalue() and unsubscribed(config) == set()
    again = run_deliver(config, now=T0 + timedelta(days=2))
    assert [o.status for o in again.outcomes] in (["empty"], ["sent"])


def test_a_forged_or_tampered_url_is_refused(serving: tuple[Config, str]) -> None:
    config, base = serving
    url = url_for(config, "an@example.org")
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    good_u, good_s = query["u"][0], query["s"][0]
    other = url_for(config, "binh@example.org")
    assert other is not None
    other_u = parse_qs(urlsplit(other).query)["u"][0]
    forged_s = signature(b"another secret, not the service's", "an@example.org")
    flipped = good_s[:-1] + ("A" if good_s[-1] != "A" else "B")
    for target in (f"/unsubscribe?u={other_u}&s={good_s}",   # another address, same signature
                   f"/unsubscribe?u={good_u}&s={flipped}",   # one character changed
                   f"/unsubscribe?u={good_u}&s={forged_s}",  # signed with another key
                   f"/unsubscribe?u={good_u}",               # no signature
                   f"/unsubscribe?u=%%%&s={good_s}",         # garbage
                   f"/unsubscribe?u={good_u}&s={good_s}&s={good_s}"):
        for method, body in (("GET", None), ("POST", b"List-Unsubscribe=One-Click")):
            status, page = request(base + target, method, body)
            assert status == 403 and "không hợp lệ" in page, (target, method)
    assert unsubscribed(config) == set()


def test_the_route_is_absent_without_one_click(tmp_path: Path) -> None:
    # Without base_url the service answers 404: no unsubscribe page that does nothing.
    from monitor.metrics import Metrics
    from monitor.unsubscribe import add_routes
    from monitor.web import Request, service_routes

    config = loads(serve_toml(8125).replace('base_url = "https://tin.example.org"', ""),
                   root=tmp_path)
    routes = service_routes(Metrics(collect_every_minutes=30))
    add_routes(routes, config)
    reply = routes.dispatch(Request("POST", "/unsubscribe", {}, {}, b""))
    assert reply.status == 404


def test_an_unsubscribed_address_is_neither_stuck_nor_rejected_for_the_operator(
        tmp_path: Path) -> None:
    from support.smtpsrv import SmtpServer

    from monitor.alerts import conditions

    with SmtpServer() as smtp:
        config = loads(delivery_toml(smtp_port=smtp.port) + "\n[alerts]\nstuck_after_hours = 6\n",
                       root=tmp_path)
        store_article(config, 1)
        smtp.handler.rcpt_replies["an@example.org"] = "451 4.2.0 mailbox busy, try later"
        assert run_deliver(config, now=T0).outcomes[0].status == "failed"

        def keys(at: datetime) -> list[str]:
            conn = state_conn(config)
            try:
                return [c.key for c in conditions(conn, config, now=at)]
            finally:
                conn.close()

        assert keys(T0 + timedelta(hours=7)) == ["stuck:an@example.org"]
        conn = state_conn(config)
        try:
            unsubscribes.record(conn, "an@example.org", now=T0 + timedelta(hours=7),
                                via="one-click")
        finally:
            conn.close()
        assert keys(T0 + timedelta(hours=8)) == []
        # The pending digest is withdrawn, not resent, and that is no server's rejection.
        report = run_deliver(config, now=T0 + timedelta(hours=9))
        assert [o.status for o in report.outcomes] == ["skipped", "skipped"]
        assert keys(T0 + timedelta(hours=9)) == []
        assert smtp.messages == []
