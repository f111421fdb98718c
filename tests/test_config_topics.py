"""Config errors of the relevance keys: each names the key and the fix, in one line (exit 2)."""

from __future__ import annotations

import pytest

from monitor.config import loads
from monitor.errors import ConfigError

BASE = """
[classes]
merge = ["sáp nhập"]
unit = ["xã"]
[[topics]]
name = "t"
threshold = 4.0
[topics.phrases]
"tinh gọn bộ máy" = 3.0
"""
NEAR = '[[topics.near]]\nname = "r"\naction = "merge"\nunit = "unit"\nweight = 1.5\n'
CONTEXT = '[[topics.exclude_near]]\nwords = ["tái định cư"]\n'


def test_the_base_loads_with_a_near_rule_and_a_context_rule() -> None:
    topic = loads(BASE + NEAR + CONTEXT).topics[0]
    assert topic.near[0].within == 3 and topic.exclude_near[0].within == 6
    assert topic.review_at == 2.0 and dict(topic.classes)["merge"] == ("sáp nhập",)


@pytest.mark.parametrize(("extra", "message"), [
    (NEAR.replace('unit = "unit"', 'unit = "units"'),
     "[[topics]] t near #1 (r) unit: no class named 'units'; define it under [classes] "
     "(defined: merge, unit)"),
    (NEAR + "within = 25\n",
     "[[topics]] #1 near #1 within: expected a whole number from 0 to 20, got 25"),
    (NEAR + "wihtin = 2\n", "[[topics]] #1 near #1 wihtin: unknown key; accepted: name, action"),
    (NEAR.replace("weight = 1.5", "weight = 0"),
     "near #1 (r) weight: expected a non-zero number (negative: counter-evidence)"),
    (NEAR + 'order = "before"\n', "order: expected one of 'any', 'action_first'"),
    (NEAR + 'fields = ["titel"]\n', "fields[0]: expected one of 'title', 'sapo', 'body'"),
    (NEAR.replace('name = "r"', 'name = "tinh gọn bộ máy"'),
     "name: 'tinh gọn bộ máy' is already a phrase or rule name; pick another"),
    (CONTEXT + "within = 0\n",
     "[[topics]] #1 exclude_near #1 within: expected a whole number from 1 to 30, got 0"),
    (CONTEXT + 'cancels = ["no such"]\n',
     "exclude_near #1 cancels: no phrase or near rule named 'no such' in this topic"),
    ('[[topics.exclude_near]]\nwords = []\n', "exclude_near #1 words: expected at least one"),
])
def test_a_bad_rule_is_named_with_its_fix(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        loads(BASE + extra)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("line", "message"), [
    ("review_threshold = 5.0", "review_threshold: expected at most threshold (4); remove it"),
    ("review_threshold = 0", "review_threshold: expected a number above 0"),
])
def test_review_threshold_lies_between_zero_and_threshold(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match="review_threshold") as error:
        loads(BASE.replace("threshold = 4.0", f"threshold = 4.0\n{line}"))
    assert message in str(error.value)


def test_an_empty_class_and_a_topic_without_evidence_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"classes.merge: expected at least one word"):
        loads(BASE.replace('merge = ["sáp nhập"]', "merge = []") + NEAR)
    with pytest.raises(ConfigError, match=r"expected at least one phrase or \[\[topics.near\]\]"):
        loads('[[topics]]\nname = "t"\n')


def test_a_subscriber_possible_switch_must_be_true_or_false() -> None:
    with pytest.raises(ConfigError, match=r"possible: expected true or false"):
        loads(BASE + '[[subscribers]]\nemail = "a@example.org"\npossible = "no"\n'
              '[mail]\nsender = "m@example.org"\n')
