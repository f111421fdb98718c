"""`monitor label URL relevant|not`: record an operator's verdict on a stored article."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from monitor.config import Config
from monitor.errors import UsageError
from monitor.extract.urls import article_id
from monitor.store import db, labels
from monitor.store.articles import get_article
from monitor.store.labels import Label


def label_command(config: Config, url: str, label: Label, *, note: str, out: TextIO,
                  now: datetime | None = None) -> int:
    ident = article_id(url.strip())
    if ident is None:
        raise UsageError(f"{url}: not an article URL of the site",
                         hint="pass the article's address as `monitor status` or the digest "
                              "shows it")
    path = db.db_path(config.state_dir)
    if not path.exists():
        raise UsageError(f"no state database at {path}",
                         hint="run `monitor collect` first: only stored articles can be labelled")
    with db.open_state(config, write=True) as conn:
        article = get_article(conn, ident)
        if article is None:
            raise UsageError(f"{url}: not a stored article (id {ident})",
                             hint="only collected articles can be labelled; "
                                  "`monitor collect` stores new ones")
        replaced = labels.put(conn, ident, article.url, label, note=note,
                              now=now or datetime.now(UTC))
    verb = "relabelled" if replaced else "labelled"
    out.write(f"{verb} {label}: {article.title}\n  {article.url}\n"
              "  `monitor topics test` scores the topics on every label\n")
    return 0
