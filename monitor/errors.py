"""The one exception tree of the monitor.

Every error the package raises on purpose is a ``MonitorError``; library errors are wrapped with
``raise ... from exc`` and a hint of the fix. The CLI catches them once and maps them to exit
codes (``exit_code``); the pipeline catches them per source or page so that one failure never
stops a run::

    MonitorError                      exit 1 unless stated
    ├── UsageError                    exit 2: bad command-line arguments
    ├── ConfigError                   exit 2: config.toml missing, malformed or invalid
    ├── ExtractError                  a page could not be turned into a value
    │   └── NotAnArticle              the page holds no article (a listing, an error page, ...)
    ├── FetchError                    HTTP failed after the retries allowed
    │   ├── RefusedError              we would not fetch it (policy), never retried
    │   │   ├── HostNotAllowed        host outside allowed_hosts, or a private address
    │   │   ├── RobotsDisallowed      robots.txt forbids the path
    │   │   ├── TooLarge              body over max_bytes
    │   │   └── BadContentType        not HTML / XML as expected
    │   └── BlockedError              the site answered with a block or challenge page
    ├── StoreError                    the SQLite state could not be read or written; ``reason``
    │   │                             says why: locked, read-only, disk-full, corrupted, missing,
    │   │                             newer, other (each with its own hint)
    │   └── LockTimeout               another run holds the state directory
    ├── TemplateError                 a template (an operator's, in templates/) failed to render
    └── MailError                     a digest could not be sent
        ├── TemporaryMailError        4xx, refused, timeout: retried on the next delivery
        └── PermanentMailError        5xx for a recipient: recorded for the operator
"""

from __future__ import annotations

from typing import Literal


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(MonitorError):
    exit_code = 2


class ConfigError(MonitorError):
    exit_code = 2


class ExtractError(MonitorError):
    pass


class NotAnArticle(ExtractError):
    pass


class FetchError(MonitorError):
    def __init__(self, message: str, *, url: str = "", hint: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status  # the final HTTP status, when the server gave one


class RefusedError(FetchError):
    pass


class HostNotAllowed(RefusedError):
    pass


class RobotsDisallowed(RefusedError):
    pass


class TooLarge(RefusedError):
    pass


class BadContentType(RefusedError):
    pass


class BlockedError(FetchError):
    pass


StoreProblem = Literal["locked", "read-only", "disk-full", "corrupted", "missing", "newer", "other"]


class StoreError(MonitorError):
    def __init__(self, message: str, *, hint: str | None = None,
                 reason: StoreProblem = "other") -> None:
        super().__init__(message, hint=hint)
        self.reason: StoreProblem = reason


class LockTimeout(StoreError):
    pass


class TemplateError(MonitorError):
    pass


class MailError(MonitorError):
    pass


class TemporaryMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass
