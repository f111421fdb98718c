"""``monitor check``: the config is valid (it was loaded to get here); with --network, also
try each source and the SMTP login, so an operator learns of a wrong URL or password before
the first scheduled run does."""

from __future__ import annotations

from typing import TextIO

from monitor.config import Config
from monitor.errors import MonitorError


def check_command(config: Config, *, network: bool, out: TextIO) -> int:
    smtp = config.mail.smtp.host
    via = f"SMTP {smtp}" if smtp else f"file outbox {config.outbox_dir}"
    out.write(
        f"config ok: {len(config.sources)} source(s), {len(config.topics)} topic(s), "
        f"{len(config.subscribers)} subscriber(s); mail via {via}\n"
    )
    if not network:
        return 0
    failed = False
    from monitor.fetch import fetch_page

    for source in config.sources:
        try:
            response = fetch_page(source.url, config)
            out.write(f"source {source.name}: ok ({len(response.content)} bytes)\n")
        except MonitorError as exc:
            failed = True
            out.write(f"source {source.name}: FAILED: {exc}\n")
    if config.mail.smtp.host:
        from monitor.mail import check_login

        try:
            check_login(config)
            out.write(f"smtp {config.mail.smtp.host}: login ok\n")
        except MonitorError as exc:
            failed = True
            out.write(f"smtp {config.mail.smtp.host}: FAILED: {exc}\n")
    return 1 if failed else 0
