"""The digest as a MIME message, and the two ways to hand it over: SMTP, or a file outbox.

``build_message`` makes a multipart/alternative message (plain text first, then HTML with its
CSS inlined), UTF-8 throughout, headers encoded as RFC 2047 where needed, and every header value
stripped of CR, LF and other control characters first, so no content can inject a header.

Transports take the message as bytes, so a digest recorded in the ledger is resent byte for
byte (same Message-ID, same Date). Their errors say what the ledger should do:

- ``TemporaryMailError``: not accepted this time (connection refused, timeout, 4xx); the digest
  stays pending and is sent again by the next delivery;
- ``PermanentMailError``: the server refused this message or recipient for good (5xx);
- ``MailError``: the transport itself is unusable (login refused, bad certificate, no
  STARTTLS); nothing can be sent until the operator fixes the config.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Protocol, cast

import css_inline

from monitor.config import Config, MailConfig, SmtpConfig
from monitor.errors import MailError, PermanentMailError, TemporaryMailError
from monitor.extract.text import VN_TZ

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def header_value(value: str) -> str:
    """A header value that cannot break the header block: no CR, LF or control characters."""
    return " ".join(_UNSAFE.sub(" ", value).split())


def inline_css(html: str) -> str:
    """Style rules copied into style attributes; @media rules stay in the head."""
    return str(_INLINER.inline(html))


# The modern email API (policy.SMTP) drops the space between two encoded words when it folds a
# long non-ASCII header (CPython 3.11: "về sắp" came back as "vềsắp"); the classic Header encoder
# folds Vietnamese subjects correctly, so the message is built with the classic classes.
_POLICY = policy.compat32.clone(linesep="\r\n")
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP


def _address(value: str, *, what: str) -> tuple[str, str]:
    name, addr = parseaddr(header_value(value))
    user, at, domain = addr.rpartition("@")
    if not at or not user or not domain or any(c in addr for c in ' <>,;"'):
        raise MailError(f"{what}: not an email address: {value!r}",
                        hint="use the form 'Name <user@example.org>'")
    return name, addr


def _mailbox(value: str, *, what: str, name: str | None = None) -> str:
    parsed_name, addr = _address(value, what=what)
    return formataddr((header_value(parsed_name if name is None else name), addr),
                      charset="utf-8")


def message_id(key: str, sender: str, *, kind: str = "digest") -> str:
    """The Message-ID of a digest: from its key, so the same digest always has the same one."""
    domain = parseaddr(header_value(sender))[1].rpartition("@")[2]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "kinhtedothi-monitor.invalid"
    return f"<{kind}.{key[:40]}@{domain}>"


def list_unsubscribe(mailto: str, one_click: str | None) -> dict[str, str]:
    """The unsubscribe headers: RFC 8058 one-click when there is an https URL, else mailto.

    RFC 8058 wants exactly one https URI in List-Unsubscribe (other schemes may follow) and
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` beside it.
    """
    def usable(value: str, schemes: str) -> str | None:
        value = header_value(value)
        ok = re.match(rf"(?i)({schemes})[\x21-\x7e]+$", value) and \
            not any(c in value for c in "<>")
        return value if ok else None

    https = usable(one_click or "", "https://")
    other = usable(mailto, "mailto:|https?://")
    if https and other and not other.lower().startswith("mailto:"):
        other = None  # one http(s) URI only, the one-click one
    uris = [u for u in (https, other) if u]
    headers = {"List-Unsubscribe": ", ".join(f"<{u}>" for u in uris)} if uris else {}
    if https:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _part(body: str, subtype: str) -> MIMEText:
    """The shorter of quoted-printable and base64: QP for markup, base64 for Vietnamese text
    (each accented letter is 2-3 UTF-8 bytes, 6-9 characters in QP but 3-4 in base64)."""
    qp = MIMEText(body, subtype, cast(str, _QP_UTF8))
    b64 = MIMEText(body, subtype, "utf-8")
    return min((qp, b64), key=lambda part: len(part.as_bytes(policy=_POLICY)))


def _boundary(msg_id: str) -> str:
    # From the Message-ID, so the bytes are reproducible; "=_" never occurs in quoted-printable
    # or base64 text, so it cannot collide with the parts.
    return "=_" + hashlib.sha256(msg_id.encode()).hexdigest()[:32]


def build_message(*, subject: str, text: str, html: str, mail: MailConfig, site_name: str,
                  to_email: str, to_name: str, msg_id: str, date: datetime,
                  one_click: str | None = None) -> Message:
    msg = MIMEMultipart("alternative", boundary=_boundary(msg_id))
    msg["From"] = _mailbox(mail.sender, what="[mail] sender")
    msg["To"] = _mailbox(to_email, what="subscriber email", name=to_name)
    if mail.reply_to:
        msg["Reply-To"] = _mailbox(mail.reply_to, what="[mail] reply_to")
    # The classic API takes Header objects as values (typeshed only knows str).
    msg["Subject"] = cast(str, Header(header_value(subject), "utf-8", header_name="Subject"))
    msg["Date"] = format_datetime(date.astimezone(VN_TZ))  # the readers' time, +0700
    msg["Message-ID"] = re.sub(r"[^\x21-\x7e]", "", msg_id)
    list_id = re.sub(r"[^A-Za-z0-9.-]", "", mail.list_id)
    if list_id:
        label = Header(header_value(site_name), "utf-8").encode()
        msg["List-Id"] = f"{label} <{list_id}>"
    for name, value in list_unsubscribe(mail.unsubscribe, one_click).items():
        msg[name] = value
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.attach(_part(text, "plain"))
    msg.attach(_part(inline_css(html), "html"))
    return msg


def build_alert_message(*, subject: str, text: str, sender: str, to_email: str, msg_id: str,
                        date: datetime, attachments: Sequence[tuple[str, bytes]] = ()
                        ) -> Message:
    """An operator alert: plain text, short, with pages attached (``text/html``) when given."""
    body = MIMEText(text, "plain", cast(str, _QP_UTF8))
    msg: Message = body
    if attachments:
        msg = MIMEMultipart("mixed", boundary=_boundary(msg_id))
        msg.attach(body)
        for name, data in attachments:
            part = MIMEApplication(data, "octet-stream")
            part.set_type("text/html")
            part.add_header("Content-Disposition", "attachment",
                            filename=re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80] or "page.html")
            msg.attach(part)
    msg["From"] = _mailbox(sender, what="[alerts] sender")
    msg["To"] = _mailbox(to_email, what="[alerts] recipients")
    msg["Subject"] = cast(str, Header(header_value(subject), "utf-8", header_name="Subject"))
    msg["Date"] = format_datetime(date.astimezone(VN_TZ))
    msg["Message-ID"] = re.sub(r"[^\x21-\x7e]", "", msg_id)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    return msg


def as_bytes(msg: Message) -> bytes:
    return msg.as_bytes(policy=_POLICY)


def bare_address(value: str, *, what: str) -> str:
    """``user@example.org`` of ``Name <user@example.org>``; a MailError naming ``what``."""
    return _address(value, what=what)[1]


def envelope_sender(mail: MailConfig) -> str:
    return bare_address(mail.sender, what="[mail] sender")


# --- transports -------------------------------------------------------------------------------


class Transport(Protocol):
    """Hands one message to its destination; returns where it went (for logs and the ledger)."""

    name: str

    def open(self) -> None: ...

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message as an .eml file: the default when no SMTP host is configured.

    The file name comes from the message's Date and Message-ID, so sending the same digest again
    rewrites the same file instead of adding a second one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"outbox {directory}"

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailError(f"cannot create the outbox {self.directory}: {exc.strerror}",
                            hint="check [mail] outbox_dir and its permissions") from exc

    def path_for(self, raw: bytes, recipient: str) -> Path:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        stamp = "undated"
        with contextlib.suppress(TypeError, ValueError):
            stamp = parsedate_to_datetime(str(headers["Date"])).strftime("%Y%m%d-%H%M")
        digest = hashlib.sha256(str(headers["Message-ID"]).encode()).hexdigest()[:10]
        who = re.sub(r"[^a-z0-9]+", "-", recipient.lower()).strip("-")[:40] or "recipient"
        return self.directory / f"{stamp}-{who}-{digest}.eml"

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        path = self.path_for(raw, recipient)
        tmp = path.with_suffix(".eml.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise TemporaryMailError(f"cannot write {path}: {exc.strerror}",
                                     hint="check free disk space and the outbox permissions"
                                     ) from exc
        return str(path)

    def close(self) -> None:
        pass


def _code(exc: smtplib.SMTPResponseException) -> tuple[int, str]:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return exc.smtp_code, header_value(text)


class SmtpTransport:
    """SMTP with STARTTLS, implicit TLS or none; certificates verified; one connection per run."""

    def __init__(self, smtp: SmtpConfig, password: str | None, *,
                 context: ssl.SSLContext | None = None) -> None:
        self.smtp = smtp
        self.password = password
        self.context = context or ssl.create_default_context()
        self.name = f"smtp {smtp.host}:{smtp.port}"
        self._conn: smtplib.SMTP | None = None

    def open(self) -> None:
        if self._conn is not None:
            return
        s = self.smtp
        where = f"SMTP server {s.host}:{s.port}"
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds,
                                        context=self.context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=self.context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _quit(conn)
            raise MailError(f"{where} refused the login of {s.username!r}: {_code(exc)[1]}",
                            hint=f"check [mail.smtp] username and the password in "
                            f"${s.password_env}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            _quit(conn)
            hint = ("set [mail.smtp] security to 'ssl' (usually port 465) or 'none'"
                    if "STARTTLS" in str(exc) else
                    "check [mail.smtp] security and port, or leave username empty if the "
                    "server needs no login")
            raise MailError(f"{where}: {exc}", hint=hint) from exc
        except ssl.SSLCertVerificationError as exc:
            _quit(conn)
            raise MailError(f"{where}: its certificate failed verification: {exc.verify_message}",
                            hint="fix the server certificate or [mail.smtp] host; verification "
                            "is never turned off") from exc
        except smtplib.SMTPResponseException as exc:
            _quit(conn)
            code, text = _code(exc)
            cls = PermanentMailError if code >= 500 else TemporaryMailError
            raise cls(f"{where} answered {code} {text}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            _quit(conn)
            raise TemporaryMailError(f"cannot reach {where}: {exc}",
                                     hint="the digest stays pending; it is sent on the next "
                                     "delivery") from exc
        self._conn = conn

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        self.open()
        assert self._conn is not None
        try:
            refused = self._conn.sendmail(sender, [recipient], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            rcode, raw_text = exc.recipients.get(recipient, (550, b"refused"))
            message = raw_text.decode("utf-8", "replace") if isinstance(raw_text, bytes) \
                else str(raw_text)
            cls = PermanentMailError if rcode >= 500 else TemporaryMailError
            raise cls(f"recipient {recipient} refused: {rcode} {header_value(message)}") from exc
        except smtplib.SMTPSenderRefused as exc:
            code, text = _code(exc)
            if code == 530:  # "STARTTLS first" or "authentication required"
                raise MailError(f"the SMTP server requires encryption or a login: {text}",
                                hint="set [mail.smtp] security = 'starttls' or 'ssl', and "
                                "username with the password in $" + self.smtp.password_env
                                ) from exc
            if code >= 500:
                raise MailError(f"the SMTP server refused the sender {sender}: {code} {text}",
                                hint="set [mail] sender to an address the server accepts"
                                ) from exc
            raise TemporaryMailError(f"sender deferred: {code} {text}") from exc
        except smtplib.SMTPResponseException as exc:
            code, text = _code(exc)
            if code >= 500:
                raise PermanentMailError(f"message refused: {code} {text}") from exc
            self._drop()
            raise TemporaryMailError(f"message deferred: {code} {text}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TemporaryMailError(f"connection lost while sending: {exc}",
                                     hint="the digest stays pending") from exc
        if refused:  # one recipient per message: a partial refusal is the whole refusal
            rcode, raw_text = next(iter(refused.values()))
            raise PermanentMailError(f"recipient {recipient} refused: {rcode} "
                                     f"{raw_text.decode('utf-8', 'replace')}")
        return self.name

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        _quit(conn)

    def close(self) -> None:
        self._drop()


def _quit(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            conn.close()


def transport_for(config: Config, *, alerts: bool = False) -> Transport:
    """SMTP when [mail.smtp] host is set, else the file outbox (the digests' or the alerts')."""
    if config.mail.smtp.host:
        return SmtpTransport(config.mail.smtp, config.smtp_password())
    return OutboxTransport(config.alerts_outbox_dir if alerts else config.outbox_dir)


def check_login(config: Config) -> None:
    """Connect and log in (for ``monitor check --network``); raises a MailError on failure."""
    transport = SmtpTransport(config.mail.smtp, config.smtp_password())
    try:
        transport.open()
    finally:
        transport.close()


__all__ = ["OutboxTransport", "SmtpTransport", "Transport", "as_bytes", "bare_address",
           "build_alert_message", "build_message", "check_login", "envelope_sender",
           "header_value", "inline_css", "message_id", "transport_for"]
