"""Config: the shipped file works, and every mistake names its key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor import config
from monitor.cli import main
from monitor.errors import ConfigError

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
