"""Real SMTP servers on 127.0.0.1 (aiosmtpd), for the delivery tests.

    with SmtpServer() as smtp:                        # plain, accepts everything
        ...smtp.port, smtp.messages
    with SmtpServer(tls=True, auth=("u", "p")) as smtp:   # STARTTLS and AUTH required
        ...smtp.client_context(), smtp.ca_file
    with SmtpServer() as smtp:
        smtp.handler.data_replies.append("451 4.3.0 try later")   # fails on purpose, once
        smtp.handler.rcpt_replies["x@example.org"] = "550 5.1.1 no such user"

``handler.after_accept`` runs when a message has been stored and before the 250 reply is sent
(the crash test kills the client there: the server has the message, the client never learns).
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd's own notices about its settings, not about the code under test.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    # Replies used instead of accepting: DATA replies are consumed one per message.
    data_replies: list[str] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    after_accept: Callable[[Received], None] | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos),
                            bytes(envelope.original_content or envelope.content))
        self.messages.append(received)
        if self.after_accept is not None:
            self.after_accept(received)
        return "250 2.0.0 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server in a thread; ``tls`` requires STARTTLS, ``auth`` requires a login."""

    def __init__(self, *, tls: bool = False, auth: tuple[str, str] | None = None,
                 implicit_tls: bool = False, port: int | None = None) -> None:
        self.handler = Handler()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.ca = trustme.CA()
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        if tls:
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        if implicit_tls:
            kwargs.update(ssl_context=server_ctx)
        if auth:
            user, password = auth

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                              data: Any) -> AuthResult:
                ok = (isinstance(data, LoginPassword) and data.login.decode() == user
                      and data.password.decode() == password)
                if ok:
                    self.logins.append(user)
                return AuthResult(success=ok, handled=False, auth_data=data)

            # aiosmtpd only counts STARTTLS as TLS; implicit TLS is encrypted from the start.
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=tls)
        self.controller = Controller(self.handler, hostname=self.host, port=self.port,
                                     server_hostname="127.0.0.1", **kwargs)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and nothing else)."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cadata=self.ca.cert_pem.bytes().decode())
        return ctx

    def ca_file(self, directory: Path) -> Path:
        """The CA as a PEM file, for SSL_CERT_FILE in a subprocess."""
        path = directory / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.controller.stop()


# --- configs and stored articles for the delivery tests ---------------------------------------

TOPIC = """
[[topics]]
name = "bo-may"
label = "sắp xếp bộ máy"
threshold = 3.0
# No "possible" band: the delivery tests count relevant items only (test_digest covers it).
review_threshold = 3.0
exclude = ["sáp nhập ngân hàng"]
[topics.phrases]
"sắp xếp bộ máy" = 3.0
"sáp nhập tỉnh" = 3.0
"tinh gọn" = 1.0
"""


def delivery_toml(*, smtp_port: int | None = None, security: str = "none", username: str = "",
                  subscribers: list[dict[str, Any]] | None = None, digest: str = "",
                  sender: str = "Bản tin <monitor@example.org>", base: str = "") -> str:
    """The delivery half of a config.toml; ``base`` is prepended (sources, state)."""
    subscribers = subscribers if subscribers is not None else [
        {"email": "an@example.org", "name": "Nguyễn Văn An", "schedule": "asap",
         "since": "2020-01-01T00:00:00+07:00"}]
    lines = [base or '[state]\ndir = "state"\nlock_timeout_seconds = 2.0', TOPIC]
    lines += ['[[schedules]]\nname = "asap"\ntimes = []',
              '[[schedules]]\nname = "daily"\ntimes = ["07:00", "17:00"]']
    lines += ["[mail]", f'sender = "{sender}"', 'list_id = "test.kinhtedothi-monitor"',
              'unsubscribe = "mailto:monitor@example.org?subject=unsubscribe"',
              'outbox_dir = "state/outbox"', "", "[mail.smtp]"]
    if smtp_port is not None:
        lines += ['host = "127.0.0.1"', f"port = {smtp_port}", f'security = "{security}"',
                  f'username = "{username}"', 'password_env = "TEST_SMTP_PASSWORD"',
                  "timeout_seconds = 5.0"]
    lines += ["", "[digest]", digest or "send_empty = false"]
    for sub in subscribers:
        lines += ["", "[[subscribers]]"]
        for key, value in sub.items():
            if isinstance(value, list):
                lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
            else:
                lines.append(f'{key} = "{value}"')
        if "topics" not in sub:
            lines.append('topics = ["bo-may"]')
    return "\n".join(lines) + "\n"
