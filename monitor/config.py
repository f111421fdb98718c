"""Load and validate config.toml once, into frozen dataclasses.

Validation is driven by the dataclasses themselves: each TOML table maps onto one, unknown keys
and wrong types are refused with a message naming the key (``[fetch] min_delay_seconds: expected a
number, got 'fast'``), then the cross-field rules run (sources inside ``allowed_hosts``, subscribers
naming existing topics and schedules). Secrets never come from the file: the SMTP password is read
from the environment variable the file names.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.extract.text import parse_iso

DEFAULT_PATH = Path("config.toml")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str = "Kinh tế & Đô thị"
    base_url: str = "https://kinhtedothi.vn"
    allowed_hosts: tuple[str, ...] = ("kinhtedothi.vn", "www.kinhtedothi.vn")
    # Overrides of the site profile's selector chains: field name -> CSS selectors, tried in order.
    selectors: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FetchConfig:
    user_agent: str = "kinhtedothi-monitor/0.1 (news digest; contact: ops@example.org)"
    min_delay_seconds: float = 2.0
    jitter_seconds: float = 1.0
    concurrency: int = 2
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    retries: int = 3
    backoff_seconds: float = 1.0
    max_retry_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class StateConfig:
    dir: str = "state"
    snapshot_days: int = 7
    recheck_hours: int = 48
    lock_timeout_seconds: float = 60.0


SourceKind = Literal["listing", "sitemap", "feed"]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: SourceKind
    url: str
    max_pages: int = 5


@dataclass(frozen=True, slots=True)
class TopicConfig:
    name: str
    # phrase -> weight; matched on the folding key, on word boundaries.
    phrases: dict[str, float]
    label: str = ""
    exclude: tuple[str, ...] = ()
    threshold: float = 3.0
    title_weight: float = 3.0
    sapo_weight: float = 2.0
    body_weight: float = 1.0
    accent_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    name: str
    # "HH:MM" Vietnam times; empty means "as soon as there is something" (after each collect).
    times: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriberConfig:
    email: str
    name: str = ""
    topics: tuple[str, ...] = ()
    schedule: str = "daily"
    # Articles published or first seen before this are never sent (no backlog for a new
    # subscriber); empty: from the first delivery that sees the subscriber.
    since: str = ""

    @property
    def since_at(self) -> datetime | None:
        return parse_iso(self.since) if self.since else None


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = ""
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "MONITOR_SMTP_PASSWORD"
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class MailConfig:
    sender: str = ""
    reply_to: str = ""
    list_id: str = "xay-dung-dang.kinhtedothi-monitor"
    unsubscribe: str = ""
    outbox_dir: str = "state/outbox"
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


@dataclass(frozen=True, slots=True)
class DigestConfig:
    send_empty: bool = False
    show_updates: bool = True
    max_items: int = 50
    subject_prefix: str = "[Kinh tế & Đô thị]"


@dataclass(frozen=True, slots=True)
class ServeConfig:
    collect_every_minutes: int = 30
    # After this many consecutive failures of a source, `monitor status` marks it ALERT.
    alert_after_failures: int = 3
    # The HTTP endpoint (/healthz, /metrics): off while the port is 0.
    http_host: str = "127.0.0.1"
    http_port: int = 0
    # "text" (one line per event) or "json" (one JSON object per line, for journald, Loki, ELK).
    log_format: Literal["text", "json"] = "text"


@dataclass(frozen=True, slots=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    state: StateConfig = field(default_factory=StateConfig)
    sources: tuple[SourceConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = (ScheduleConfig("daily", ("07:00", "17:00")),)
    subscribers: tuple[SubscriberConfig, ...] = ()
    mail: MailConfig = field(default_factory=MailConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    # Where the file was read from: relative paths in it are relative to its folder.
    root: Path = Path(".")

    @property
    def state_dir(self) -> Path:
        return self.root / self.state.dir

    @property
    def outbox_dir(self) -> Path:
        return self.root / self.mail.outbox_dir

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def smtp_password(self) -> str | None:
        return os.environ.get(self.mail.smtp.password_env) if self.mail.smtp.host else None


# --- loading ---------------------------------------------------------------------------------


def resolve_path(explicit: str | None) -> Path:
    """--config, else $MONITOR_CONFIG, else ./config.toml."""
    return Path(explicit or os.environ.get("MONITOR_CONFIG") or DEFAULT_PATH)


def load(path: Path | str | None = None) -> Config:
    path = resolve_path(str(path) if path else None)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {path}",
            hint="pass --config PATH, set MONITOR_CONFIG, or copy the repository's config.toml",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    return loads(raw.decode("utf-8", errors="replace"), root=path.resolve().parent, name=str(path))


def loads(text: str, *, root: Path = Path("."), name: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
    config: Config = _build(Config, data, "", name)
    config = replace(config, root=root)
    _check(config, name)
    return config


def _where(path: str, key: str) -> str:
    if not path:
        return f"[{key}]" if key else ""
    return f"{path} {key}"


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list of " + _describe(typing.get_args(tp)[0]).removeprefix("a ") + "s"
    if origin is dict:
        return "a table of " + _describe(typing.get_args(tp)[1]).removeprefix("a ") + "s"
    if is_dataclass(tp):
        return "a table"
    return str(tp)


def _convert(tp: Any, value: Any, where: str, name: str) -> Any:
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{name}: {where}: expected {_describe(tp)}, got {value!r}")
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise bad
        item = typing.get_args(tp)[0]
        if is_dataclass(item):  # an array of tables: "[[subscribers]] #2", as people count
            table = where.strip("[]")
            return tuple(_convert(item, v, f"[[{table}]] #{i + 1}", name)
                         for i, v in enumerate(value))
        return tuple(_convert(item, v, f"{where}[{i}]", name) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        item = typing.get_args(tp)[1]
        return {str(k): _convert(item, v, f"{where}.{k}", name) for k, v in value.items()}
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return _build(tp, value, where, name)
    if origin in (types.UnionType, typing.Union):  # pragma: no cover - no optional keys yet
        raise bad
    raise bad


def _build(cls: Any, table: dict[str, Any], where: str, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "root"}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"{name}: {_where(where, unknown[0])}: unknown key; accepted: {', '.join(known)}"
        )
    kwargs: dict[str, Any] = {}
    for key, f in known.items():
        if key in table:
            kwargs[key] = _convert(hints[key], table[key], _where(where, key), name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{name}: {_where(where, key)}: missing; it is required "
                              f"(add `{key} = ...` to that table)")
    return cls(**kwargs)


# --- rules across keys -------------------------------------------------------------------------


def _host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h.lower() for h in allowed)


def _check(config: Config, name: str) -> None:
    def fail(where: str, message: str) -> None:
        raise ConfigError(f"{name}: {where}: {message}")

    for i, source in enumerate(config.sources):
        where = f"[[sources]] #{i + 1} ({source.name})"
        parts = urlsplit(source.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(f"{where} url", f"expected an http(s) URL, got {source.url!r}")
        if not _host_allowed(source.url, config.site.allowed_hosts):
            fail(
                f"{where} url",
                f"host {parts.hostname!r} is not in [site] allowed_hosts "
                f"({', '.join(config.site.allowed_hosts)}); add it there or fix the URL",
            )
        if source.max_pages < 1:
            fail(f"{where} max_pages", "expected a whole number of at least 1")
    _unique(config.sources, "name", "[[sources]]", fail)
    _unique(config.topics, "name", "[[topics]]", fail)
    _unique(config.schedules, "name", "[[schedules]]", fail)
    _unique(config.subscribers, "email", "[[subscribers]]", fail)
    for topic in config.topics:
        if not topic.phrases:
            fail(f"[[topics]] {topic.name} phrases", "expected at least one phrase")
    for schedule in config.schedules:
        for t in schedule.times:
            hh, _, mm = t.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                fail(f"[[schedules]] {schedule.name} times", f"expected 'HH:MM', got {t!r}")
    topic_names = {t.name for t in config.topics}
    schedule_names = {s.name for s in config.schedules}
    for sub in config.subscribers:
        where = f"[[subscribers]] {sub.email or '(no email)'}"
        if "@" not in sub.email or any(c in sub.email for c in " \r\n<>,"):
            fail(f"{where} email", f"expected an email address, got {sub.email!r}")
        for topic_name in sub.topics:
            if topic_name not in topic_names:
                fail(
                    f"{where} topics",
                    f"no topic named {topic_name!r}; defined: {', '.join(sorted(topic_names))}",
                )
        if sub.schedule not in schedule_names:
            fail(
                f"{where} schedule",
                f"no schedule named {sub.schedule!r}; defined: {', '.join(sorted(schedule_names))}",
            )
        if sub.since and sub.since_at is None:
            fail(f"{where} since", f"expected an ISO 8601 time, got {sub.since!r}")
    if config.subscribers and not config.mail.sender:
        fail("[mail] sender", "missing; set the From address, e.g. 'Monitor <monitor@example.org>'")
    for key in ("sender", "reply_to", "list_id", "unsubscribe"):
        if any(c in getattr(config.mail, key) for c in "\r\n"):
            fail(f"[mail] {key}", "must not contain a line break")
    smtp = config.mail.smtp
    if smtp.host and smtp.username and not os.environ.get(smtp.password_env):
        fail(
            "[mail.smtp] password_env",
            f"the environment variable {smtp.password_env} is not set; export it with the "
            "SMTP password (passwords are never read from the file)",
        )
    for key in ("min_delay_seconds", "jitter_seconds", "timeout_seconds", "backoff_seconds"):
        if getattr(config.fetch, key) < 0:
            fail(f"[fetch] {key}", "expected a number of at least 0")
    if not 0 <= config.serve.http_port <= 65535:
        fail("[serve] http_port", "expected a port number from 1 to 65535, or 0 for no endpoint")
    if config.fetch.concurrency < 1:
        fail("[fetch] concurrency", "expected a whole number of at least 1")


def _unique(items: tuple[Any, ...], key: str, where: str, fail: Any) -> None:
    seen: set[str] = set()
    for item in items:
        value = getattr(item, key)
        if value in seen:
            fail(f"{where} {key}", f"{value!r} appears twice; each must be unique")
        seen.add(value)
