"""The message (MIME, headers) and its transports, against real SMTP servers on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from support.smtpsrv import SmtpServer, free_port

from monitor.config import MailConfig, SmtpConfig
from monitor.errors import MailError, PermanentMailError, TemporaryMailError
from monitor.extract.text import VN_TZ
from monitor.mail import (
    OutboxTransport,
    SmtpTransport,
    as_bytes,
    build_message,
    header_value,
    message_id,
)

NOW = datetime(2025, 12, 8, 17, 0, tzinfo=VN_TZ)
MAIL = MailConfig(sender="Bản tin Kinh tế & Đô thị <monitor@example.org>",
                  list_id="xay-dung-dang.kinhtedothi-monitor",
                  unsubscribe="mailto:monitor@example.org?subject=unsubscribe")
HTML = ("<html><head><style>.t{color:#0b4f9c} @media (prefers-color-scheme: dark)"
        "{.t{color:#8cc4ff !important}}</style></head><body><a class='t' "
        "href='https://kinhtedothi.vn/a.1.html'>Sắp xếp bộ máy</a></body></html>")


def make(subject: str = "[Kinh tế & Đô thị] 1 bài mới về sắp xếp bộ máy – 08/12/2025",
         to_name: str = "Nguyễn Văn An", mail: MailConfig = MAIL) -> bytes:
    msg = build_message(subject=subject, text="* Sắp xếp bộ máy\n  https://kinhtedothi.vn/a.1.html\n",
                        html=HTML, mail=mail, site_name="Kinh tế & Đô thị",
                        to_email="an@example.org", to_name=to_name,
                        msg_id=message_id("ab" * 32, mail.sender), date=NOW)
    return as_bytes(msg)


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def smtp_config(server: SmtpServer, security: str = "none", username: str = "") -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=server.port, security=security,  # type: ignore[arg-type]
                      username=username, timeout_seconds=5.0)


# --- the message ------------------------------------------------------------------------------


def test_the_message_is_multipart_alternative_utf8_with_text_first() -> None:
    msg = parse(make())
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert "Sắp xếp bộ máy" in plain.get_content() and "Sắp xếp bộ máy" in html.get_content()


def test_headers_are_encoded_and_complete() -> None:
    raw = make()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "non-ASCII header text must be RFC 2047 encoded"
    msg = parse(raw)
    assert msg["Subject"] == "[Kinh tế & Đô thị] 1 bài mới về sắp xếp bộ máy – 08/12/2025"
    assert msg["From"].addresses[0].display_name == "Bản tin Kinh tế & Đô thị"
    assert msg["To"].addresses[0].addr_spec == "an@example.org"
    assert msg["To"].addresses[0].display_name == "Nguyễn Văn An"
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == "<digest." + "ab" * 20 + "@example.org>"
    assert msg["List-Id"] == "Kinh tế & Đô thị <xay-dung-dang.kinhtedothi-monitor>"
    assert msg["List-Unsubscribe"] == "<mailto:monitor@example.org?subject=unsubscribe>"
    assert msg["Auto-Submitted"] == "auto-generated"


def test_the_message_id_is_deterministic_per_digest() -> None:
    assert message_id("k" * 64, MAIL.sender) == message_id("k" * 64, MAIL.sender)
    assert message_id("k" * 64, MAIL.sender) != message_id("j" * 64, MAIL.sender)
    assert parse(make())["Message-ID"] == parse(make())["Message-ID"]


def test_css_is_inlined_and_dark_mode_rules_kept() -> None:
    html = parse(make()).get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert 'style="color: #0b4f9c;"' in content and "prefers-color-scheme: dark" in content


def test_cr_and_lf_never_reach_a_header() -> None:
    mail = MailConfig(sender="Monitor <monitor@example.org>", list_id="x\r\nBcc: a@evil.org",
                      unsubscribe="mailto:u@example.org\r\nBcc: b@evil.org")
    raw = make(subject="Tin\r\nBcc: victim@evil.org\r\n\r\n<script>", to_name="An\nCc: c@evil",
               mail=mail)
    msg = parse(raw)
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert msg["Subject"] == "Tin Bcc: victim@evil.org <script>"
    assert "evil" not in (msg["List-Unsubscribe"] or "")
    assert header_value("a\r\nb\x00c\u2028d") == "a b c d"


def test_an_invalid_sender_is_a_mail_error_naming_the_fix() -> None:
    with pytest.raises(MailError, match="sender"):
        make(mail=MailConfig(sender="nobody"))


# --- the outbox -------------------------------------------------------------------------------


def test_the_outbox_writes_one_eml_per_digest_even_when_sent_twice(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    outbox.open()
    raw = make()
    first = outbox.send(raw, sender="monitor@example.org", recipient="an@example.org")
    again = outbox.send(raw, sender="monitor@example.org", recipient="an@example.org")
    assert first == again and Path(first).read_bytes() == raw
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [Path(first).name]
    assert Path(first).name.startswith("20251208-1700-an-example-org-")


# --- SMTP -------------------------------------------------------------------------------------


def test_plain_smtp_delivers_the_message_as_built() -> None:
    with SmtpServer() as server:
        transport = SmtpTransport(smtp_config(server), None)
        where = transport.send(make(), sender="monitor@example.org", recipient="an@example.org")
        transport.close()
    (got,) = server.messages
    assert where == f"smtp 127.0.0.1:{server.port}"
    assert got.recipients == ["an@example.org"] and got.sender == "monitor@example.org"
    assert got.message.get_content_type() == "multipart/alternative"


def test_starttls_with_auth_works_against_a_server_that_requires_both() -> None:
    with SmtpServer(tls=True, auth=("monitor", "s3cret")) as server:
        transport = SmtpTransport(smtp_config(server, "starttls", "monitor"), "s3cret",
                                  context=server.client_context())
        transport.send(make(), sender="monitor@example.org", recipient="an@example.org")
        transport.close()
    assert server.logins == ["monitor"] and len(server.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth_works() -> None:
    with SmtpServer(implicit_tls=True, auth=("monitor", "s3cret")) as server:
        transport = SmtpTransport(smtp_config(server, "ssl", "monitor"), "s3cret",
                                  context=server.client_context())
        transport.send(make(), sender="monitor@example.org", recipient="an@example.org")
        transport.close()
    assert len(server.messages) == 1


def test_a_wrong_password_is_a_config_problem_not_a_retry() -> None:
    with SmtpServer(tls=True, auth=("monitor", "s3cret")) as server:
        transport = SmtpTransport(smtp_config(server, "starttls", "monitor"), "wrong",
                                  context=server.client_context())
        with pytest.raises(MailError, match="refused the login") as info:
            transport.open()
    assert not isinstance(info.value, TemporaryMailError | PermanentMailError)
    assert "MONITOR_SMTP_PASSWORD" in str(info.value)


def test_an_untrusted_certificate_is_refused() -> None:
    with SmtpServer(tls=True, auth=("monitor", "s3cret")) as server:
        transport = SmtpTransport(smtp_config(server, "starttls", "monitor"), "s3cret")
        with pytest.raises(MailError, match="certificate"):
            transport.open()
    assert not server.messages


def test_a_server_requiring_tls_refuses_a_plain_session_with_a_hint() -> None:
    with SmtpServer(tls=True, auth=("monitor", "s3cret")) as server:
        transport = SmtpTransport(smtp_config(server, "none"), None)
        with pytest.raises(MailError, match="requires encryption or a login") as info:
            transport.send(make(), sender="monitor@example.org", recipient="an@example.org")
        transport.close()
    assert "security" in str(info.value)


def test_a_closed_port_is_a_temporary_failure() -> None:
    transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=free_port(), security="none",
                                         timeout_seconds=2.0), None)
    with pytest.raises(TemporaryMailError, match="cannot reach"):
        transport.open()


@pytest.mark.parametrize(("where", "reply", "error"), [
    ("data", "451 4.3.0 try again later", TemporaryMailError),
    ("data", "554 5.6.0 message refused", PermanentMailError),
    ("rcpt", "450 4.2.1 mailbox busy", TemporaryMailError),
    ("rcpt", "550 5.1.1 no such user", PermanentMailError),
])
def test_server_replies_map_to_temporary_or_permanent(where: str, reply: str,
                                                      error: type[Exception]) -> None:
    with SmtpServer() as server:
        if where == "data":
            server.handler.data_replies.append(reply)
        else:
            server.handler.rcpt_replies["an@example.org"] = reply
        transport = SmtpTransport(smtp_config(server), None)
        with pytest.raises(error) as info:
            transport.send(make(), sender="monitor@example.org", recipient="an@example.org")
        # The connection is still usable for the next subscriber.
        transport.send(make(), sender="monitor@example.org", recipient="binh@example.org")
        transport.close()
    assert reply.split()[0] in str(info.value)
    assert [m.recipients for m in server.messages] == [["binh@example.org"]]
