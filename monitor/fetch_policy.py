"""What the fetcher may fetch, decided without sending a request: hosts, addresses, robots.txt.

Kept apart from ``fetch.py`` (which does the HTTP) so each rule can be read and tested alone:

- a URL's host must be one of ``[site] allowed_hosts``, redirects included;
- a host name that resolves to a private, loopback, link-local or reserved address is refused,
  unless that address (or the literal host, e.g. ``127.0.0.1`` for tests) is listed itself: a
  public name pointing into the local network is how a crawler gets turned against it;
- robots.txt is parsed with protego (the standard library's parser misreads wildcards), kept for
  ``ROBOTS_TTL`` in the caller's memory (the state database) so a steady-state run sends no
  request for it, and obeyed, ``Crawl-delay`` included.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from protego import Protego

from monitor.errors import FetchError, HostNotAllowed

log = logging.getLogger(__name__)

# How long a robots.txt is trusted before it is read again (Google uses up to 24 hours).
ROBOTS_TTL = timedelta(hours=24)
# RFC 9309: a crawler must parse at least 500 KiB; anything after that is ignored.
ROBOTS_MAX_BYTES = 500 * 1024
# RFC 9309 2.3.1.4: a robots.txt that cannot be reached (5xx, network) means "disallow all".
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
ALLOW_ALL = ""

Resolver = Callable[[str, int], Awaitable[list[str]]]


class RobotsMemory(Protocol):
    """Where robots.txt texts outlive a run (the state database's fetch cache)."""

    def load_robots(self, origin: str) -> str | None:
        """The text saved for ``origin`` less than ``ROBOTS_TTL`` ago, else None."""
        ...

    def save_robots(self, origin: str, text: str) -> None: ...


class MemoryRobots:
    """A RobotsMemory that forgets everything at the end of the process (tests, dry runs)."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def load_robots(self, origin: str) -> str | None:
        return self.texts.get(origin)

    def save_robots(self, origin: str, text: str) -> None:
        self.texts[origin] = text


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched against: "kinhtedothi-monitor/0.1 (...)" ->
    "kinhtedothi-monitor"."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0] or "*"


class Robots:
    """One parsed robots.txt."""

    def __init__(self, text: str, user_agent: str) -> None:
        self.text = text
        self._agent = product_token(user_agent)
        self._parser = Protego.parse(text)

    def allowed(self, url: str) -> bool:
        return bool(self._parser.can_fetch(url, self._agent))

    def crawl_delay(self) -> float | None:
        delay = self._parser.crawl_delay(self._agent)
        return float(delay) if delay is not None else None


def _normal(host: str) -> str:
    return host.lower().rstrip(".")


class HostGuard:
    """Refuses hosts outside ``allowed_hosts`` and names that resolve into private networks."""

    def __init__(self, allowed_hosts: tuple[str, ...], resolver: Resolver | None) -> None:
        self._allowed = frozenset(_normal(h) for h in allowed_hosts)
        self._resolver = resolver
        self._checked: dict[str, str | None] = {}

    def check_host(self, url: str) -> str:
        """The URL's host, if it may be fetched at all; HostNotAllowed otherwise."""
        parts = urlsplit(url)
        host = _normal(parts.hostname or "")
        if parts.scheme not in ("http", "https") or not host:
            raise HostNotAllowed(f"not an http(s) URL: {url}", url=url)
        if host not in self._allowed:
            raise HostNotAllowed(
                f"host {host!r} is not in allowed_hosts", url=url,
                hint="add it to [site] allowed_hosts if the site really moved there",
            )
        return host

    async def check_address(self, url: str) -> None:
        """Refuse a listed name that resolves to a non-public address (not listed itself)."""
        parts = urlsplit(url)
        host = _normal(parts.hostname or "")
        if self._resolver is None or host == "localhost" or _is_ip(host):
            # An IP literal or "localhost" got past check_host only by being listed explicitly.
            return
        if host not in self._checked:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                addresses = await self._resolver(host, port)
            except OSError as exc:
                raise FetchError(f"cannot resolve {host!r}: {exc}", url=url,
                                 hint="check the network and DNS; tried again next run") from exc
            self._checked[host] = self._private(addresses)
        bad = self._checked[host]
        if bad is not None:
            raise HostNotAllowed(
                f"host {host!r} resolves to the non-public address {bad}", url=url,
                hint=f"list {bad} in [site] allowed_hosts only if that is really intended",
            )

    def _private(self, addresses: list[str]) -> str | None:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global and address not in self._allowed:
                return address
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
