"""Load and validate config.toml once, into frozen dataclasses.

Validation is driven by the dataclasses themselves: each TOML table maps onto one, unknown keys
and wrong types are refused with a message naming the key (``[fetch] min_delay_seconds: expected a
number, got 'fast'``), then the cross-field rules run (sources inside ``allowed_hosts``, subscribers
naming existing topics and schedules). Secrets never come from the file: the SMTP password is read
from the environment variable the file names.

Adding a key: give it a type and a default on its record; a number declares its range there,
``port: int = bounded(587, min=1, max=65535)`` (floats are always finite), and any other rule is a
``checked(default, check=fn)`` whose ``fn(value)`` returns what is wrong or None. Times are
``time`` and dates ``datetime`` (parsed at load, never later); tables are ``FrozenMap``. Then
add its row to the README's config reference (a test checks every number's range is documented
there). The mechanism (types, ranges, messages) is ``monitor.tomlbind``; this module holds the
records and the rules across keys.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.tomlbind import Bounds as Bounds
from monitor.tomlbind import FrozenMap as FrozenMap
from monitor.tomlbind import bounded as bounded
from monitor.tomlbind import bounds_of as bounds_of
from monitor.tomlbind import build, checked

DEFAULT_PATH = Path("config.toml")


def _public_https(value: str) -> str | None:
    parts = urlsplit(value)
    if value and (parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment):
        return ("expected the public https address of the service, e.g. "
                f"'https://tin.example.org', got {value!r}")
    return None


def _http_url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        return f"expected an http(s) URL, got {value!r} ({exc})"
    if parts.scheme not in ("http", "https") or not host:
        return f"expected an http(s) URL, got {value!r}"
    return None


def _unsubscribe_target(value: str) -> str | None:
    if not value or value.startswith("mailto:"):
        return None
    return _http_url(value)


def _selectors(value: Mapping[str, tuple[str, ...]]) -> str | None:
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    from monitor.extract.profile import DEFAULT_SELECTORS

    probe = LexborHTMLParser("<p></p>")
    for name, chain in value.items():
        if name not in DEFAULT_SELECTORS:
            return f"{name}: unknown field; accepted: {', '.join(DEFAULT_SELECTORS)}"
        for selector in chain:
            try:
                probe.css(selector)
            except SelectolaxError:
                return f"{name}: {selector!r} is not a valid CSS selector"
    return None


def _ascending_hours(value: tuple[float, ...]) -> str | None:
    if any(not math.isfinite(h) or h <= 0 or h > 24 * 365 for h in value):
        return f"expected hours above 0 and at most 8760, got {list(value)}"
    if list(value) != sorted(set(value)):
        return f"expected hours in increasing order, each once, got {list(value)}"
    return None


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


# --- the records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str = "Kinh tế & Đô thị"
    base_url: str = checked("https://kinhtedothi.vn", check=_http_url)
    allowed_hosts: tuple[str, ...] = ("kinhtedothi.vn", "www.kinhtedothi.vn")
    # Overrides of the site profile's selector chains: field name -> CSS selectors, tried in order.
    selectors: FrozenMap[str, tuple[str, ...]] = field(default_factory=FrozenMap,
                                                       metadata={"check": _selectors})

    def __post_init__(self) -> None:
        if not isinstance(self.selectors, FrozenMap):
            object.__setattr__(self, "selectors", FrozenMap(
                (k, tuple(v)) for k, v in self.selectors.items()))


@dataclass(frozen=True, slots=True)
class FetchConfig:
    user_agent: str = checked("kinhtedothi-monitor/0.1 (news digest; contact: ops@example.org)",
                              check=_non_empty)
    min_delay_seconds: float = bounded(2.0, min=0, max=600)
    jitter_seconds: float = bounded(1.0, min=0, max=600)
    concurrency: int = bounded(2, min=1, max=16)
    timeout_seconds: float = bounded(20.0, min=1, max=600)
    max_bytes: int = bounded(5_000_000, min=10_000, max=200_000_000)
    retries: int = bounded(3, min=0, max=10)
    backoff_seconds: float = bounded(1.0, min=0, max=600)
    max_retry_seconds: float = bounded(120.0, min=0, max=3600)


@dataclass(frozen=True, slots=True)
class StateConfig:
    dir: str = checked("state", check=_non_empty)
    snapshot_days: int = bounded(7, min=0, max=3650)
    recheck_hours: int = bounded(48, min=0, max=24 * 365)
    # Article text and versions older than this many days are purged (ids kept, so an old
    # article is never announced again as new); 0 keeps everything.
    keep_days: int = bounded(0, min=0, max=36500)
    # The ages (hours after publication) at which an article is fetched again (conditionally):
    # a handful of requests per article, not one per collect. Ages past recheck_hours are unused.
    recheck_at_hours: tuple[float, ...] = checked((1.0, 3.0, 12.0, 24.0, 48.0),
                                                  check=_ascending_hours)
    # At most this many re-checks per collect; the rest wait for the next one (spread, not
    # bunched after a burst of publishing or a restart).
    recheck_per_collect: int = bounded(4, min=1, max=1000)
    lock_timeout_seconds: float = bounded(60.0, min=0, max=3600)


SourceKind = Literal["listing", "sitemap", "feed"]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: SourceKind
    url: str = checked(check=_http_url)
    max_pages: int = bounded(5, min=1, max=100)
    # A listing is read until the first page holding a known article; this often (hours) it is
    # read one page deeper anyway, for an article slipped onto page 2 (0: never).
    deep_read_hours: float = bounded(6.0, min=0, max=24 * 30)


TextField = Literal["title", "sapo", "body"]


@dataclass(frozen=True, slots=True)
class NearRule:
    """``[[topics.near]]``: a word of class ``action`` within ``within`` words of one of ``unit``.

    Numbers, punctuation (but not a sentence end) and short function words ("các", "và",
    "nhiều") between the two are not counted, so "sáp nhập 3 huyện và 12 xã" is at distance 0.
    """

    name: str
    action: str  # a class name ([classes] or [topics.classes])
    unit: str
    weight: float = field(metadata={"bounds": Bounds(min=-100, max=100)})
    within: int = bounded(3, min=0, max=20)
    order: Literal["any", "action_first", "unit_first"] = "any"
    fields: tuple[TextField, ...] = ("title", "sapo", "body")
    # A number must stand between the two: a count of units ("còn 40 xã", not "còn xã nghèo").
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class ContextRule:
    """``[[topics.exclude_near]]``: one of ``words`` within ``within`` words of a hit cancels it.

    ``cancels`` names the phrases and near rules it applies to; empty: every positive hit.
    """

    words: tuple[str, ...]
    within: int = bounded(6, min=1, max=30)
    cancels: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class TopicConfig:
    name: str
    # phrase -> weight; matched on the folding key, on word boundaries; negative: counter-evidence.
    phrases: FrozenMap[str, float] = field(
        default_factory=FrozenMap, metadata={"bounds": Bounds(min=-100, max=100)})
    label: str = ""
    exclude: tuple[str, ...] = ()
    threshold: float = bounded(3.0, above=0, max=1000)
    # Scores from here up to `threshold` are "possible" (the digest's "Có thể liên quan");
    # None: half of `threshold`.
    review_threshold: float | None = bounded(None, above=0, max=1000)
    title_weight: float = bounded(3.0, min=0, max=100)
    sapo_weight: float = bounded(2.0, min=0, max=100)
    body_weight: float = bounded(1.0, min=0, max=100)
    accent_insensitive: bool = False
    # Points of the bundled relevance model (monitor/relevance_model.py, trained for the
    # reorganisation beat): model_weight x (2p - 1) for its probability p, from title and sapo.
    model_weight: float = bounded(0.0, min=0, max=100)
    # Named word lists for `near` rules; at load the file's [classes] are merged in (the
    # topic's own win), so a rule sees every class by name.
    classes: FrozenMap[str, tuple[str, ...]] = field(default_factory=FrozenMap)
    near: tuple[NearRule, ...] = ()
    exclude_near: tuple[ContextRule, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.phrases, FrozenMap):
            object.__setattr__(self, "phrases", FrozenMap(self.phrases))
        if not isinstance(self.classes, FrozenMap):
            object.__setattr__(self, "classes", FrozenMap(
                (k, tuple(v)) for k, v in self.classes.items()))

    @property
    def review_at(self) -> float:
        """The score from which an article is at least "possible"."""
        if self.review_threshold is None:
            return self.threshold / 2
        return self.review_threshold


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    name: str
    # Vietnam times ("HH:MM" in the file); empty means "as soon as there is something" (after
    # each collect).
    times: tuple[time, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriberConfig:
    email: str
    name: str = ""
    topics: tuple[str, ...] = ()
    schedule: str = "daily"
    # The digest's "Có thể liên quan" section: articles scoring between a topic's
    # review_threshold and its threshold.
    possible: bool = True
    # Articles published or first seen before this are never sent (no backlog for a new
    # subscriber); None: from the first delivery that sees the subscriber.
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = ""
    port: int = bounded(587, min=1, max=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "MONITOR_SMTP_PASSWORD"
    timeout_seconds: float = bounded(30.0, min=1, max=600)


@dataclass(frozen=True, slots=True)
class MailConfig:
    sender: str = ""
    reply_to: str = ""
    list_id: str = "xay-dung-dang.kinhtedothi-monitor"
    unsubscribe: str = checked("", check=_unsubscribe_target)
    outbox_dir: str = checked("state/outbox", check=_non_empty)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


@dataclass(frozen=True, slots=True)
class DigestConfig:
    send_empty: bool = False
    show_updates: bool = True
    max_items: int = bounded(50, min=1, max=1000)
    subject_prefix: str = "[Kinh tế & Đô thị]"
    # Searched before the built-in templates, for the digest and the alert mails; relative to
    # the config file's folder. `monitor templates export` copies the built-in ones there.
    templates_dir: str = "templates"
    # The whole message as sent (both parts, encoded) stays under this: Gmail clips past about
    # 102 KB and hides the rest, unsubscribe link included. Items past it are listed by title.
    max_message_kb: int = bounded(90, min=20, max=10_000)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    # At least 5: a quiet collect is one conditional request (12 an hour at 5 min); shorter
    # would buy little, new articles come every hour or two.
    collect_every_minutes: int = bounded(30, min=5, max=1440)
    # After this many consecutive failures of a source, `monitor status` marks it ALERT.
    alert_after_failures: int = bounded(3, min=1, max=1000)
    # The HTTP endpoint (/healthz, /metrics): off while the port is 0.
    http_host: str = "127.0.0.1"
    http_port: int = bounded(0, min=0, max=65535)
    # "text" (one line per event) or "json" (one JSON object per line, for journald, Loki, ELK).
    log_format: Literal["text", "json"] = "text"
    # The public https address the endpoint is reached at from outside; with it and http_port,
    # each digest carries a one-click unsubscribe link (RFC 8058), signed with the secret in the
    # environment variable unsubscribe_secret_env.
    base_url: str = checked("", check=_public_https)
    unsubscribe_secret_env: str = checked("MONITOR_UNSUBSCRIBE_SECRET", check=_non_empty)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """The operators' channel: never mixed with the digests, never sent to a subscriber."""

    recipients: tuple[str, ...] = ()
    sender: str = ""  # empty: [mail] sender
    # Used when [mail.smtp] host is empty: alert mails are written here as .eml files.
    outbox_dir: str = checked("state/alerts", check=_non_empty)
    reminder_hours: float = bounded(24.0, min=1, max=24 * 30)
    # The site changed its markup when the profile misses on this share of a run's articles.
    markup_share: float = bounded(0.5, above=0, max=1)
    # A digest (or an item due to a subscriber) waiting longer than this is stuck.
    stuck_after_hours: float = bounded(24.0, min=1, max=24 * 30)
    # The page attached to a markup alert is cut to this many bytes (0: nothing attached).
    attach_max_bytes: int = bounded(200_000, min=0, max=10_000_000)


@dataclass(frozen=True, slots=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    state: StateConfig = field(default_factory=StateConfig)
    sources: tuple[SourceConfig, ...] = ()
    # Named word lists shared by the topics' `near` rules: name -> words or phrases.
    classes: FrozenMap[str, tuple[str, ...]] = field(default_factory=FrozenMap)
    topics: tuple[TopicConfig, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = (ScheduleConfig("daily", (time(7), time(17))),)
    subscribers: tuple[SubscriberConfig, ...] = ()
    mail: MailConfig = field(default_factory=MailConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # Where the file was read from: relative paths in it are relative to its folder.
    root: Path = Path(".")

    @property
    def state_dir(self) -> Path:
        return self.root / self.state.dir

    @property
    def outbox_dir(self) -> Path:
        return self.root / self.mail.outbox_dir

    @property
    def templates_dir(self) -> Path:
        return self.root / self.digest.templates_dir

    @property
    def alerts_outbox_dir(self) -> Path:
        return self.root / self.alerts.outbox_dir

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    @property
    def one_click(self) -> bool:
        """Whether digests carry a signed one-click unsubscribe URL ([serve] port and URL)."""
        return bool(self.serve.http_port and self.serve.base_url)

    def unsubscribe_secret(self) -> bytes | None:
        value = os.environ.get(self.serve.unsubscribe_secret_env, "")
        return value.encode("utf-8") if self.one_click and value else None

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
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})",
                          hint="save the file as UTF-8") from None
    return loads(text, root=path.resolve().parent, name=str(path))


def loads(text: str, *, root: Path = Path("."), name: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{name}: not valid TOML: arrays or tables nested too deeply") from None
    config: Config = build(Config, data, "", name)
    topics = tuple(replace(t, classes=FrozenMap({**config.classes, **t.classes}))
                   for t in config.topics)
    config = replace(config, root=root, topics=topics)
    _check(config, name)
    return config


# --- rules across keys -------------------------------------------------------------------------


def _host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h.lower() for h in allowed)


def _check(config: Config, name: str) -> None:
    def fail(where: str, message: str) -> None:
        raise ConfigError(f"{name}: {where}: {message}")

    for i, source in enumerate(config.sources):
        where = f"[[sources]] #{i + 1} ({source.name})"
        if not _host_allowed(source.url, config.site.allowed_hosts):
            fail(
                f"{where} url",
                f"host {urlsplit(source.url).hostname!r} is not in [site] allowed_hosts "
                f"({', '.join(config.site.allowed_hosts)}); add it there or fix the URL",
            )
    _unique(config.sources, "name", "[[sources]]", fail)
    _unique(config.topics, "name", "[[topics]]", fail)
    _unique(config.schedules, "name", "[[schedules]]", fail)
    _unique(config.subscribers, "email", "[[subscribers]]", fail)
    for topic in config.topics:
        _check_topic(topic, fail)
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
    if config.subscribers and not config.mail.sender:
        fail("[mail] sender", "missing; set the From address, e.g. 'Monitor <monitor@example.org>'")
    for i, email in enumerate(config.alerts.recipients):
        if "@" not in email or any(c in email for c in " \r\n<>,"):
            fail(f"[alerts] recipients[{i}]", f"expected an email address, got {email!r}")
    if config.alerts.recipients and not (config.alerts.sender or config.mail.sender):
        fail("[alerts] sender", "missing; set it or [mail] sender (the From of alert mails)")
    if any(c in config.alerts.sender for c in "\r\n"):
        fail("[alerts] sender", "must not contain a line break")
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
    _check_serve(config, fail)


MIN_SECRET_CHARS = 16


def _check_serve(config: Config, fail: Any) -> None:
    serve = config.serve
    if config.one_click:
        secret = os.environ.get(serve.unsubscribe_secret_env, "")
        if len(secret) < MIN_SECRET_CHARS:
            fail("[serve] unsubscribe_secret_env",
                 f"the environment variable {serve.unsubscribe_secret_env} must hold a secret "
                 f"of at least {MIN_SECRET_CHARS} characters (it signs the unsubscribe links; "
                 "e.g. `export " + serve.unsubscribe_secret_env + "=$(openssl rand -hex 32)`)")


def _check_topic(topic: TopicConfig, fail: Any) -> None:
    where = f"[[topics]] {topic.name}"
    if not topic.phrases and not topic.near:
        fail(f"{where} phrases", "expected at least one phrase or [[topics.near]] rule")
    if topic.review_threshold is not None and topic.review_threshold > topic.threshold:
        fail(f"{where} review_threshold",
             f"expected at most threshold ({topic.threshold:g}); remove it for the default, "
             "half of threshold")
    for cls, words in topic.classes.items():
        if not any(w.strip() for w in words):
            fail(f"{where} classes.{cls}", "expected at least one word")
    names = set(topic.phrases)
    for i, rule in enumerate(topic.near):
        at = f"{where} near #{i + 1} ({rule.name})"
        for key in ("action", "unit"):
            cls = getattr(rule, key)
            if cls not in topic.classes:
                defined = ", ".join(sorted(topic.classes)) or "none"
                fail(f"{at} {key}", f"no class named {cls!r}; define it under [classes] "
                                    f"(defined: {defined})")
        if rule.weight == 0:
            fail(f"{at} weight", "expected a non-zero number (negative: counter-evidence)")
        if not rule.fields:
            fail(f"{at} fields", "expected at least one of 'title', 'sapo', 'body'")
        if rule.name in names:
            fail(f"{at} name", f"{rule.name!r} is already a phrase or rule name; pick another")
        names.add(rule.name)
    for i, ctx in enumerate(topic.exclude_near):
        at = f"{where} exclude_near #{i + 1}"
        if not any(w.strip() for w in ctx.words):
            fail(f"{at} words", "expected at least one word or phrase")
        for target in ctx.cancels:
            if target not in names:
                fail(f"{at} cancels", f"no phrase or near rule named {target!r} in this topic")


def _unique(items: tuple[Any, ...], key: str, where: str, fail: Any) -> None:
    seen: set[str] = set()
    for item in items:
        value = getattr(item, key)
        if value in seen:
            fail(f"{where} {key}", f"{value!r} appears twice; each must be unique")
        seen.add(value)
