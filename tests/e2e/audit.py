"""The page audit every browser test can run: axe-core (WCAG 2.1 A and AA, serious and
critical), one h1, the skip link, heading order, 44 px targets, visible focus, reflow at 320 CSS
pixels, the layout at phone and desktop widths (no word split across lines in a table cell or a
button, nothing wider than its box), and screenshots at both widths into docs/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, expected_lang

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")
NARROW = {"width": 320, "height": 800}  # 1280 px at 400% zoom, 640 px at 200%
# Controls that must offer a 44 x 44 px target (inline links in running text are exempt; a
# checkbox or radio button counts with its label, which is part of its target).
TARGETS = (
    "header a, header button, main button, main select, main textarea, .days a, .actions a, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    ".checkbox label, .radio label"
)
SMALL_TARGETS = """sel => [...document.querySelectorAll(sel)]
  .filter(el => el.offsetParent !== null)
  .filter(el => { const r = el.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
  .map(el => el.outerHTML.slice(0, 80))"""
HEADING_JUMPS = """() => {
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  const bad = [];
  if (levels[0] !== 1) bad.push('first heading is h' + levels[0]);
  for (let i = 1; i < levels.length; i++)
    if (levels[i] > levels[i - 1] + 1) bad.push('h' + levels[i - 1] + ' then h' + levels[i]);
  return bad;
}"""
# Words split across two lines inside a table cell or a button ("Clos / e", "9:00 A / M"), and
# boxes whose content sticks out sideways (a scroll region that says so is exempt). A hyphen
# is a fair place to break; Chinese has no spaces between words, so its runs are not checked.
LAYOUT_PROBLEMS = r"""() => {
  const problems = [];
  const visible = el => el.offsetParent !== null || getComputedStyle(el).position === 'fixed';
  const cjk = /[\u3000-\u9fff\uac00-\ud7af]/;
  const inClip = el => {  // inside a scroll region or a clipped box: sticking out is by design
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  const broken = el => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('.visually-hidden')) continue;
      const re = /[^\s\-\u2010\u2011]+/g;
      for (let m = re.exec(node.textContent); m; m = re.exec(node.textContent)) {
        // An address or id longer than a phone column can only wrap; it is not a split word.
        if (m[0].length < 2 || m[0].length > 20 || cjk.test(m[0])) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
          .map(r => Math.round(r.top)));
        if (tops.size > 1) return m[0];
      }
    }
    return null;
  };
  for (const el of document.querySelectorAll('td, th, button, .button, .slot-button, .days a')) {
    if (!visible(el)) continue;
    const word = broken(el);
    if (word) problems.push(`word split across lines in <${el.tagName.toLowerCase()}>: "${word}"`);
  }
  for (const el of document.querySelectorAll('main *')) {
    if (!visible(el) || el.clientWidth === 0) continue;
    if (['SELECT', 'TEXTAREA', 'INPUT', 'svg'].includes(el.tagName)) continue;
    if (getComputedStyle(el).overflowX !== 'visible' || inClip(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push('content wider than its box: ' + el.outerHTML.slice(0, 70));
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) {
    problems.push('the page scrolls sideways');
  }
  return problems.slice(0, 8);
}"""
FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
    || s.boxShadow !== 'none';
  return shown ? '' : el.outerHTML.slice(0, 80);
}"""


class Audit:
    """Run axe on each page visited; remember serious problems instead of stopping at one."""

    def __init__(self, page: Any, locale: str, reflow: bool = False) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.page = page
        self.locale = locale
        self.reflow = reflow
        self.problems: list[str] = []
        self.checked: list[str] = []

    def __call__(self, name: str, screenshot: bool = False) -> None:
        """Check the current page (and save its screenshots when asked)."""
        page = self.page
        page.wait_for_load_state("load")
        self.checked.append(name)
        if screenshot:  # first, before the checks below move the focus around
            self._screenshots(name)
        if os.environ.get("FAIRSLOT_REVIEW_SCREENSHOTS"):
            # For reviewing a change: every page, in every language, into that directory.
            folder = Path(os.environ["FAIRSLOT_REVIEW_SCREENSHOTS"])
            self._screenshots(f"{name}-{self.locale}", folder)
        if page.locator("html").get_attribute("lang") != expected_lang(self.locale):
            self.problems.append(f"{name}: <html lang> is not {expected_lang(self.locale)}")
        if page.locator("h1").count() != 1:
            self.problems.append(f"{name}: expected exactly one h1")
        if page.locator("a.skip-link[href='#main']").count() != 1:
            self.problems.append(f"{name}: no skip link")
        results = self.axe.run(page, options=AXE_OPTIONS)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.problems.append(
                    f"{name}: {violation['id']} ({violation['impact']}) {violation['help']} "
                    f"at {targets}"
                )
        for jump in page.evaluate(HEADING_JUMPS):
            self.problems.append(f"{name}: headings out of order: {jump}")
        for small in page.evaluate(SMALL_TARGETS, TARGETS):
            self.problems.append(f"{name}: target smaller than 44 px: {small}")
        self._check_layout(name)
        self._check_focus(name)
        if self.reflow:
            self._check_reflow(name)

    def _check_focus(self, name: str, presses: int = 8) -> None:
        """Tab through the first controls: each must show where the focus is."""
        for _ in range(presses):
            self.page.keyboard.press("Tab")
            hidden = self.page.evaluate(FOCUS_SHOWN)
            if hidden:
                self.problems.append(f"{name}: no visible focus on {hidden}")

    def _check_layout(self, name: str) -> None:
        """At a phone's and a desktop's width: no word split in a cell or button, no overflow."""
        size = self.page.viewport_size
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(viewport)
            for problem in self.page.evaluate(LAYOUT_PROBLEMS):
                self.problems.append(f"{name} ({label}): {problem}")
        self.page.set_viewport_size(size)

    def _check_reflow(self, name: str) -> None:
        size = self.page.viewport_size
        self.page.set_viewport_size(NARROW)
        fits = self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        if not fits:
            self.problems.append(f"{name}: scrolls sideways at 320 CSS px")
        self.page.set_viewport_size(size)

    def _screenshots(self, name: str, folder: Path = SCREENSHOTS) -> None:
        size = self.page.viewport_size
        folder.mkdir(parents=True, exist_ok=True)
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(viewport)
            self.page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(size)

    def assert_clean(self) -> None:
        """Fail with every problem found, page by page."""
        assert self.checked
        assert not self.problems, "\n".join(self.problems)
