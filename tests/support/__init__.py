"""Helpers shared by the tests: a config pointing at the fixture server, with fast politeness."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from monitor.config import Config, loads
from monitor.store import db

FAST_FETCH = {
    "min_delay_seconds": 0.0,
    "jitter_seconds": 0.0,
    "concurrency": 4,
    "timeout_seconds": 1.0,
    "retries": 2,
    "backoff_seconds": 0.01,
    "max_retry_seconds": 5.0,
    "max_bytes": 1_000_000,
}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def config_toml(base_url: str, *, sources: list[dict[str, Any]] | None = None,
                fetch: dict[str, Any] | None = None, state: dict[str, Any] | None = None,
                allowed_hosts: tuple[str, ...] = ("127.0.0.1",)) -> str:
    """The text of a config.toml for the fixture site at ``base_url``."""
    sources = sources if sources is not None else [
        {"name": "xay-dung-dang", "kind": "listing", "url": base_url + "/xay-dung-dang",
         "max_pages": 5}]
    lines = ["[site]", f"base_url = {_value(base_url)}",
             f"allowed_hosts = {_value(list(allowed_hosts))}", "", "[fetch]"]
    lines += [f"{k} = {_value(v)}" for k, v in {**FAST_FETCH, **(fetch or {})}.items()]
    lines += ["", "[state]"]
    lines += [f"{k} = {_value(v)}" for k, v in
              {"dir": "state", "lock_timeout_seconds": 2.0, **(state or {})}.items()]
    for source in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {_value(v)}" for k, v in source.items()]
    return "\n".join(lines) + "\n"


def make_config(root: Path, base_url: str, **kwargs: Any) -> Config:
    """A Config rooted in ``root`` (the state goes to root/state); also written to
    root/config.toml for tests that run the CLI in a subprocess."""
    text = config_toml(base_url, **kwargs)
    (root / "config.toml").write_text(text, encoding="utf-8")
    return loads(text, root=root, name=str(root / "config.toml"))


def state_conn(config: Config) -> sqlite3.Connection:
    """The state database of ``config``, opened directly (no lock, no checks) to look inside."""
    return db.connect(db.db_path(config.state_dir))
