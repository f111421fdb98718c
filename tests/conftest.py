"""Fixtures shared by the tests that talk to the fixture site over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.sitesrv import FixtureSite, SiteServer


@pytest.fixture
def site() -> FixtureSite:
    # Published 3 h apart, the newest 30 min ago: 16 of 40 inside the 48 h re-check window.
    # A module that needs another site overrides this fixture; ``server`` then serves that one.
    return FixtureSite(articles_count=40, per_page=14)


@pytest.fixture
def server(site: FixtureSite) -> Iterator[SiteServer]:
    with SiteServer(site) as srv:
        yield srv
