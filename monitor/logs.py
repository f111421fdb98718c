"""Log lines for people and for log collectors; the handlers themselves are set up by the CLI.

Two kinds of record:

- events (``EVENTS``, the ``monitor.events`` logger): one per run, per digest sent, per alert,
  each carrying its values under ``extra={"event": {...}}``; shown by ``monitor serve`` at the
  default verbosity, by the one-shot commands (which print their own report) from ``-v`` on;
- everything else (``logging.getLogger(__name__)`` in each module): warnings by default, the
  per-page and per-request lines with ``-v``, debug with ``-vv``.

``text`` lines read ``2025-12-08T10:05:00.123+07:00 INFO monitor.events: collect ok ...``;
``json`` lines are one object each (``ts``, ``level``, ``logger``, ``msg``, and the event's
values under their own keys), ready for journald, Loki or ELK. Timestamps carry their zone.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal, TextIO

from monitor.extract.text import VN_TZ

LogFormat = Literal["text", "json"]

EVENTS = logging.getLogger("monitor.events")

# Set by a handler, so setting up twice (the serve command reads its format from the config)
# replaces ours and leaves anybody else's alone.
_MARK = "_monitor_handler"


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, VN_TZ).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """One line per record; a traceback only when asked for (``-vv``): operators read the
    exception's type and message, developers the rest."""

    def __init__(self, *, tracebacks: bool = True) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            if self.tracebacks:
                line += "\n" + self.formatException(record.exc_info)
            else:
                exc = record.exc_info[1]
                line += f" ({type(exc).__name__}: {' '.join(str(exc).split())})"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname,
                                "logger": record.name, "msg": record.getMessage()}
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            data.update({k: v for k, v in event.items() if k not in data})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(verbosity: int, fmt: LogFormat = "text", *, stream: TextIO, events: bool = False
          ) -> None:
    """Root handler on ``stream``; ``events``: show run/digest/alert lines without ``-v``."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if fmt == "json"
                         else TextFormatter(tracebacks=verbosity >= 2))
    root.addHandler(handler)
    root.setLevel(logging.WARNING if verbosity == 0 else
                  logging.INFO if verbosity == 1 else logging.DEBUG)
    # httpx logs one INFO line per request: those are the -v lines, not the default ones.
    logging.getLogger("httpx").setLevel(logging.INFO if verbosity else logging.WARNING)
    EVENTS.setLevel(logging.INFO if events or verbosity else logging.NOTSET)


def event(message: str, *args: object, level: int = logging.INFO, **values: Any) -> None:
    """One event line: ``message`` for people, ``values`` as JSON fields."""
    EVENTS.log(level, message, *args, extra={"event": values})


__all__ = ["EVENTS", "JsonFormatter", "LogFormat", "TextFormatter", "event", "setup"]
