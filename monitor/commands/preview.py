"""``monitor preview [--subscriber EMAIL] [--output FILE] [--text]``: the next digest of one
subscriber, rendered as it would be sent, without sending or recording anything."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from monitor.config import Config, SubscriberConfig
from monitor.deliver import preview
from monitor.errors import ConfigError, UsageError
from monitor.mail import inline_css


def _subscriber(config: Config, email: str | None) -> SubscriberConfig:
    if not config.subscribers:
        raise ConfigError("no [[subscribers]] in the config: nothing to preview",
                          hint="add a [[subscribers]] table with email, topics and schedule")
    if email is None:
        return config.subscribers[0]
    for sub in config.subscribers:
        if sub.email.lower() == email.strip().lower():
            return sub
    known = ", ".join(s.email for s in config.subscribers)
    raise UsageError(f"no subscriber {email!r}", hint=f"subscribers: {known}")


def preview_command(config: Config, *, subscriber: str | None, output: str | None, text: bool,
                    out: TextIO, now: datetime | None = None) -> int:
    """The next digest of one subscriber, everything not yet received, as sent (not recorded)."""
    sub = _subscriber(config, subscriber)
    digest, rendered = preview(config, sub, now=now or datetime.now(UTC))
    body = rendered.text if text else inline_css(rendered.html)
    if output:
        try:
            Path(output).write_text(body, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}",
                             hint="choose a writable --output path") from exc
        out.write(f"preview for {sub.email}: {digest.count('new')} new, {digest.count('update')} "
                  f"updated; subject: {rendered.subject}\nwritten to {output}\n")
    else:
        out.write(body)
    return 0
