"""Config: the shipped file works, and every mistake names its key and the fix."""

from __future__ import annotations

import re
import typing
from dataclasses import fields
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from monitor import config
from monitor.cli import main
from monitor.errors import ConfigError
from monitor.extract.text import VN_TZ

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_config_loads() -> None:
    loaded = config.load(ROOT / "config.toml")
    assert loaded.sources and loaded.topics and loaded.subscribers
    assert loaded.state_dir == ROOT / "state"


def test_readme_config_examples_load() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert examples, "the README shows config examples"
    for example in examples:
        config.loads(example)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\nmin_delay_seconds = 'fast'", "[fetch] min_delay_seconds: expected a number"),
        ("[fetch]\nspeed = 1", "[fetch] speed: unknown key; accepted: user_agent"),
        ("[[sources]]\nname = 'a'\nkind = 'listing'", "url: missing"),
        ("[[sources]]\nname='a'\nkind='rss'\nurl='https://kinhtedothi.vn/'",
         "kind: expected one of 'listing', 'sitemap', 'feed'"),
        ("[[sources]]\nname='a'\nkind='feed'\nurl='https://example.com/rss'",
         "not in [site] allowed_hosts"),
        ("[state]\nsnapshot_days = 1.5", "[state] snapshot_days: expected a whole number"),
        ("[[subscribers]]\nemail = 'a@b.c'", "[mail] sender: missing"),
        ("[mail]\nsender='m@x.org'\n[[subscribers]]\nemail='x'", "expected an email address"),
        ("[mail]\nsender='m@x.org'\n[[subscribers]]\nemail='a@b.c'\ntopics=['nope']",
         "no topic named 'nope'"),
        ('[mail]\nsender = "a@b.c\\r\\nBcc: x@y.z"', "must not contain a line break"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key_and_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(text)
    assert message in str(caught.value)


def test_smtp_login_without_its_password_variable_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KTDT_TEST_PW", raising=False)
    text = "[mail.smtp]\nhost='smtp.example.org'\nusername='u'\npassword_env='KTDT_TEST_PW'"
    with pytest.raises(ConfigError, match="KTDT_TEST_PW is not set"):
        config.loads(text)
    monkeypatch.setenv("KTDT_TEST_PW", "secret")
    assert config.loads(text).smtp_password() == "secret"


def test_bad_config_exits_2_with_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[fetch]\nconcurrency = 'many'\n", encoding="utf-8")
    assert main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[fetch] concurrency" in err and "Traceback" not in err


def test_missing_config_file_says_how_to_fix(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "check"]) == 2
    assert "MONITOR_CONFIG" in capsys.readouterr().err


# --- every number has bounds, every value is parsed once -----------------------------------------

ROUTE = "[[sources]]\nname = 's'\nkind = 'listing'\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[serve]\ncollect_every_minutes = -5", "[serve] collect_every_minutes: expected a whole "
         "number from 5 to 1440, got -5"),
        ("[serve]\ncollect_every_minutes = 0", "[serve] collect_every_minutes"),
        ("[mail.smtp]\nport = 70000", "[mail.smtp] port: expected a whole number from 1 to 65535"),
        ("[mail.smtp]\nport = -1", "[mail.smtp] port"),
        ("[fetch]\nretries = -5", "[fetch] retries: expected a whole number from 0 to 10"),
        ("[fetch]\ntimeout_seconds = 0", "[fetch] timeout_seconds: expected a number from 1"),
        ("[fetch]\ntimeout_seconds = nan", "[fetch] timeout_seconds: expected a finite number"),
        ("[fetch]\nmin_delay_seconds = inf", "[fetch] min_delay_seconds: expected a finite number"),
        ("[fetch]\nmax_bytes = 0", "[fetch] max_bytes: expected a whole number from 10000"),
        ("[state]\nsnapshot_days = 1000000000000000", "[state] snapshot_days: expected a whole "
         "number from 0 to 3650"),
        ('[state]\ndir = "st\\u0000ate"', "[state] dir: must not contain a NUL character"),
        ("[[topics]]\nname = 't'\n[topics.phrases]\n'x' = nan", "[topics]] #1 phrases.x: "
         "expected a finite number"),
        ("[[topics]]\nname = 't'\nthreshold = -1\n[topics.phrases]\n'x' = 1",
         "threshold: expected a number above 0 and at most 1000"),
        ("[digest]\nmax_items = -3", "[digest] max_items: expected a whole number from 1 to 1000"),
        ("[site.selectors]\nbody = ['div[']", "[site] selectors: body: 'div[' is not a valid CSS "
         "selector"),
        ("[site.selectors]\nbodyy = ['div']", "[site] selectors: bodyy: unknown field; accepted:"),
        ("[[schedules]]\nname = 'd'\ntimes = ['²:00']", "times[0]: expected a time 'HH:MM', "
         "got '²:00'"),
        ("[[schedules]]\nname = 'd'\ntimes = ['24:00']", "times[0]: expected a time 'HH:MM'"),
        (ROUTE + "url = 'http://[::1/x'", "url: expected an http(s) URL, got 'http://[::1/x'"),
        (ROUTE + "url = 'https://kinhtedothi.vn:99999/'", "url: expected an http(s) URL"),
        ("[mail]\nunsubscribe = 'https://[x'", "[mail] unsubscribe: expected an http(s) URL"),
        ("a = " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ],
    ids=[
        "negative-collect-interval", "zero-collect-interval", "port-70000", "port-minus-1",
        "negative-retries", "zero-timeout", "nan-timeout", "infinite-delay", "zero-max-bytes",
        "overflowing-snapshot-days", "nul-in-state-dir", "nan-phrase-weight", "negative-threshold",
        "negative-max-items", "invalid-css-selector", "typo-in-selector-field",
        "superscript-digit-time", "hour-24", "unclosed-ipv6-url", "port-out-of-range-in-url",
        "bad-unsubscribe-url", "deep-nesting",
    ],
)
def test_out_of_range_or_malformed_value_is_refused_at_load(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", [
    "[[schedules]]\nname = 'd'\ntimes = ['²:00']",
    "[[sources]]\nname = 's'\nkind = 'listing'\nurl = 'http://[::1/x'",
    "a = " + "[" * 3000 + "]" * 3000,
    "[state]\nsnapshot_days = 1000000000000000",
])
def test_check_of_a_malformed_config_exits_2_with_one_line(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text(text, encoding="utf-8")
    assert main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("monitor: error: ") and "Traceback" not in err


def test_config_that_is_not_utf8_exits_2(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "config.toml"
    bad.write_bytes(b"[site]\nname = 'Kinh t\xea\xd2'\n")  # windows-1258, not UTF-8
    assert main(["--config", str(bad), "check"]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_times_and_dates_are_parsed_once_at_load() -> None:
    loaded = config.load(ROOT / "config.toml")
    daily = next(s for s in loaded.schedules if s.name == "daily")
    assert daily.times == (time(7, 0), time(17, 0))
    since = loaded.subscribers[0].since
    assert isinstance(since, datetime) and since.utcoffset() == timedelta(hours=7)
    native = config.loads("[mail]\nsender = 'm@x.org'\n[[schedules]]\nname = 'd'\n"
                          "times = [07:30:00]\n[[subscribers]]\nemail = 'a@b.c'\nschedule = 'd'\n"
                          "since = 2025-12-01")
    assert native.schedules[0].times == (time(7, 30),)
    assert native.subscribers[0].since == datetime(2025, 12, 1, tzinfo=VN_TZ)


def test_config_records_are_immutable_and_hashable() -> None:
    loaded = config.load(ROOT / "config.toml")
    again = config.load(ROOT / "config.toml")
    assert hash(loaded) == hash(again) and loaded == again
    with pytest.raises(TypeError):
        loaded.topics[0].phrases["tinh gọn"] = 9.0  # type: ignore[index]


TABLES = {"SiteConfig": "[site]", "FetchConfig": "[fetch]", "StateConfig": "[state]",
          "SourceConfig": "[[sources]]", "TopicConfig": "[[topics]]", "MailConfig": "[mail]",
          "SmtpConfig": "[mail.smtp]", "DigestConfig": "[digest]", "ServeConfig": "[serve]",
          "AlertsConfig": "[alerts]", "NearRule": "[[topics.near]]",
          "ContextRule": "[[topics.exclude_near]]"}


def _numeric_keys() -> list[tuple[str, str]]:
    found = []
    for name in TABLES:
        record = getattr(config, name)
        hints = typing.get_type_hints(record)
        for f in fields(record):
            tp = hints[f.name]
            if tp in (int, float) or (typing.get_origin(tp) is config.FrozenMap
                                      and typing.get_args(tp)[1] in (int, float)):
                found.append((name, f.name))
    return found


@pytest.mark.parametrize(("record", "key"), _numeric_keys())
def test_every_number_has_bounds_documented_in_the_readme(record: str, key: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    f = next(f for f in fields(getattr(config, record)) if f.name == key)
    assert "bounds" in f.metadata, f"{record}.{key}: declare its range with bounded(...)"
    name = f"{TABLES[record]} {key}"
    row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), "")
    assert f.metadata["bounds"].describe() in row, f"README config reference: row for `{name}`"


def test_check_refuses_a_state_dir_that_is_not_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text("[state]\ndir = 'state'\n", encoding="utf-8")
    assert main(["--config", str(cfg), "check"]) == 2
    assert "[state] dir" in capsys.readouterr().err
