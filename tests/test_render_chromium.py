"""The digest as a browser engine paints it: headless Chromium, 375 and 800 px, light and dark.

Chromium computes each key element's colours (the inlined styles, overridden by the dark-scheme
rules where the reader's client prefers dark); the test reads them back and checks what a reader
notices: text contrast (WCAG AA, 4.5:1), separators that are not bright rules on a dark page,
section underlines that stay visible, highlighted words inside a title that keep the link's
colour. Skipped where /usr/bin/chromium is absent. `benchmarks/screens.py` writes the same
renderings as PNG files for a person to look at.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import screens  # noqa: E402

pytestmark = pytest.mark.skipif(not screens.available(), reason="no /usr/bin/chromium")

# Selector -> what it is, for the messages.
TEXT = {
    ".site": "site name", ".headline": "headline", ".intro p": "greeting", ".day": "day header",
    ".section": "section header", ".title": "article title", ".hl-title": "phrase in a title",
    ".meta": "time", ".sapo": "sapo", ".sapo .hl": "phrase in a sapo", ".excerpt": "excerpt",
    ".change": "change label", ".diff": "changed text", ".del": "removed words",
    ".ins": "added words", ".phrases": "keywords line", ".more a": "listed item",
    ".footer p": "footer", ".footer a": "footer link",
}
RULES = {".item": "borderBottomColor", ".day": "borderBottomColor",
         ".section": "borderBottomColor", ".container": "borderTopColor",
         ".excerpt": "borderLeftColor"}

PROBE = """
function rgb(s) { return s.match(/[\\d.]+/g).map(Number); }
function solid(el) {
  for (; el; el = el.parentElement) {
    const c = rgb(win.getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
}
const out = {text: {}, rules: {}};
for (const sel of %(text)s) {
  const el = doc.querySelector(sel);
  if (el) out.text[sel] = {fg: rgb(win.getComputedStyle(el).color).slice(0, 3), bg: solid(el)};
}
for (const [sel, prop] of Object.entries(%(rules)s)) {
  const el = doc.querySelector(sel);
  if (!el) continue;
  const style = win.getComputedStyle(el);
  out.rules[sel] = {color: rgb(style[prop]).slice(0, 3), bg: solid(el.parentElement),
                    width: parseFloat(style[prop.replace("Color", "Width")])};
}
out.dark = win.matchMedia("(prefers-color-scheme: dark)").matches;
out.width = doc.documentElement.clientWidth;
out.scroll = doc.documentElement.scrollWidth;
return out;
"""


def luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(scope="module")
def page() -> str:
    return screens.sample_html()


def measure(page: str, width: int, scheme: str) -> dict[str, Any]:
    body = PROBE % {"text": json.dumps(list(TEXT)), "rules": json.dumps(RULES)}
    data: dict[str, Any] = screens.probe(page, body, width=width, scheme=scheme)
    assert data["dark"] is (scheme == "dark") and data["width"] == width
    return data


@pytest.mark.parametrize("width", screens.WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_element_is_readable(page: str, width: int, scheme: str) -> None:
    data = measure(page, width, scheme)
    assert set(data["text"]) == set(TEXT), "the sample lacks an element the test checks"
    weak = {TEXT[sel]: round(contrast(v["fg"], v["bg"]), 2) for sel, v in data["text"].items()
            if contrast(v["fg"], v["bg"]) < 4.5}
    assert not weak, f"{scheme} {width}px: contrast under 4.5:1: {weak}"
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert data["scroll"] <= data["width"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", screens.WIDTHS)
def test_rules_and_title_highlights_read_as_intended(page: str, scheme: str,
                                                     width: int) -> None:
    data = measure(page, width, scheme)
    rules, text = data["rules"], data["text"]
    # Separators are quiet: never a bright line on the page (dark) or a heavy one (light).
    for sel in (".item", ".container", ".excerpt"):
        if rules[sel]["width"]:  # the phone layout drops the container's border
            assert contrast(rules[sel]["color"], rules[sel]["bg"]) < 3, (scheme, sel, rules[sel])
    assert rules[".item"]["width"] and rules[".excerpt"]["width"]
    # Section and day underlines are meant to be seen.
    for sel in (".day", ".section"):
        assert contrast(rules[sel]["color"], rules[sel]["bg"]) >= 3, (scheme, sel, rules[sel])
    # A highlighted phrase inside a linked title keeps the link's colour.
    assert text[".hl-title"]["fg"] == text[".title"]["fg"]
    # Added and removed words are told apart by more than colour: background tints differ
    # from the text around them (and <del>/<ins> strike and underline).
    assert text[".del"]["bg"] != text[".diff"]["bg"] != text[".ins"]["bg"]
