"""``monitor check``: the config is valid (it was loaded to get here); with --network, also
try each source and the SMTP login, so an operator learns of a wrong URL or password before
the first scheduled run does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from monitor.config import Config
from monitor.errors import ConfigError, MonitorError, UsageError


def writable_dir(path: Path, key: str) -> None:
    """The folder exists and is writable, or could be created: else a ConfigError naming ``key``.

    Nothing is created: `check` only looks.
    """
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{key}: {probe} is not a folder", hint="point it at a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}: {probe} is not writable by this user",
                          hint="fix its permissions or point the key at another folder")


def check_command(config: Config, *, network: bool, out: TextIO,
                  test_alert: bool = False) -> int:
    writable_dir(config.state_dir, "[state] dir")
    if not config.mail.smtp.host:
        writable_dir(config.outbox_dir, "[mail] outbox_dir")
    smtp = config.mail.smtp.host
    via = f"SMTP {smtp}" if smtp else f"file outbox {config.outbox_dir}"
    out.write(
        f"config ok: {len(config.sources)} source(s), {len(config.topics)} topic(s), "
        f"{len(config.subscribers)} subscriber(s); mail via {via}\n"
    )
    if test_alert and not network:
        raise UsageError("--test-alert sends mail: use it with --network",
                         hint="monitor check --network --test-alert")
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
    if test_alert:
        from monitor.alerts import send_test

        if not config.alerts.recipients:
            failed = True
            out.write("test alert: FAILED: no [alerts] recipients in the config\n")
        else:
            sent = send_test(config)
            failed = failed or not sent.ok
            out.write(f"test alert: sent to {sent.where}\n" if sent.ok
                      else f"test alert: FAILED: {sent.error}\n")
    return 1 if failed else 0
