"""The README's rule-language examples work as written: each quoted title gets its verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.classify import classify_fields
from monitor.config import loads

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### Relevance: the rule language", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"```toml\n(.*?)```", SECTION, flags=re.S)
CASES = [(n, title, verdict) for n, example in enumerate(EXAMPLES)
         for title, verdict in re.findall(r'^# "(.+)" -> (relevant|possible|not)$', example,
                                          flags=re.M)]


def test_the_section_has_examples_with_expectations() -> None:
    assert len(EXAMPLES) >= 2 and len(CASES) >= 8
    assert {v for _, _, v in CASES} == {"relevant", "possible", "not"}


@pytest.mark.parametrize(("n", "title", "verdict"), CASES)
def test_each_readme_example_title_gets_its_verdict(n: int, title: str, verdict: str) -> None:
    topics = loads(EXAMPLES[n]).topics
    assert classify_fields(title, "", [], topics).verdict == verdict
