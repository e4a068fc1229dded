"""Open a page in real headless Chromium (Debian's, driven by Playwright) with the network
blocked, and report what a reader would meet: requests that tried to leave the machine, console
errors, English words in the visible text, chart labels that overlap, mode-bar buttons that
upload, plus a screenshot or an A4 PDF."""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

# Visible text, as the reader sees it (hidden elements and the mode bar's tooltips are not text).
_VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest('script, style')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    out.push(node.textContent.trim());
  }
  return out;
}"""

# Chart labels whose boxes overlap: titles, axis titles, annotations, legend entries, menus and
# the mode bar against every other label of the same figure, and unrotated tick labels of one axis among
# themselves (a rotated label's box is not its shape).
_OVERLAPS = """() => {
  const found = [];
  document.querySelectorAll('.js-plotly-plot').forEach(fig => {
    if (fig.offsetParent === null) return;
    const labels = [];
    const add = (sel, kind) => fig.querySelectorAll(sel).forEach(el => {
      const t = kind === 'modebar' ? 'mode bar' : el.textContent.trim();
      if (!t || getComputedStyle(el).visibility === 'hidden' || el.closest('[visibility=hidden]')) return;
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) return;
      const rotated = /rotate\\((?!0[,)])/.test(el.getAttribute('transform') || '');
      labels.push({t, kind, r, rotated, axis: el.closest('[class*=xtick],[class*=ytick]') ?
                   (el.closest('g[class$=tick], g.xaxislayer-above, g.yaxislayer-above') || {}).className : null});
    });
    add('.gtitle', 'title'); add('.g-xtitle text, .g-x2title text, .g-ytitle text, .g-y2title text', 'axis-title');
    add('.annotation-text', 'annotation'); add('.legendtext', 'legend'); add('.updatemenu-item-text', 'menu');
    add('.xtick text, .x2tick text', 'xtick'); add('.ytick text, .y2tick text', 'ytick');
    add('.modebar', 'modebar');
    for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
      const a = labels[i], b = labels[j];
      const ticks = a.kind.endsWith('tick') && b.kind.endsWith('tick');
      if (ticks && (a.kind !== b.kind || a.rotated || b.rotated)) continue;
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > 2 && h > 2) found.push([fig.id, a.t, b.t]);
    }
  });
  return found;
}"""

_MODEBAR = """() => Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title') || '')"""
ENGLISH = re.compile(r"\b(?![IVX]+\b)[A-Za-z]{2,}\b")  # Roman numerals (Ⅲ级 typed as III) are not English
UPLOAD = re.compile(r"share|cloud|chart studio|分享|云", re.I)


@dataclass
class Visit:
    urls: list[str]                     # requests that tried to leave the machine (blocked)
    console_errors: list[str]
    english: list[str]                  # visible text runs with English words
    overlaps: list[list[str]]           # [figure, label, label]
    upload_buttons: list[str]           # mode-bar buttons that would upload a chart
    figures: int                        # plotly figures drawn
    screenshot: Path | None = None
    pdf: Path | None = None
    texts: list[str] = field(default_factory=list)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def _opened(page: Path) -> Iterator:
    """``page`` loaded in a tab of a fresh headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            tab = browser.new_page()
            tab.goto(Path(page).resolve().as_uri(), wait_until="load")
            yield tab
        finally:
            browser.close()


def column_after_sorting(page: Path, table: str, column: int, clicks: int = 1) -> list[str]:
    """Click the header of ``column`` (from 0) of the first table matching the CSS selector
    ``table`` ``clicks`` times, as a reader sorting it would; returns that column's sort values
    (``data-v``, or the cell's text), top row first."""
    with _opened(page) as tab:
        for _ in range(clicks):
            tab.locator(f"{table} thead th").nth(column).click()
        return tab.locator(table).first.evaluate(
            "(t, i) => Array.from(t.tBodies[0].rows, r => r.cells[i].dataset.v || r.cells[i].textContent)",
            column)


def table_cells(page: Path, table: str) -> list[list[tuple[str, str]]]:
    """The body of the first table matching the CSS selector ``table`` as a reader's browser
    shows it: each row's cells as (CSS class, text)."""
    with _opened(page) as tab:
        rows = tab.locator(table).first.evaluate(
            "t => Array.from(t.tBodies[0].rows, r => Array.from(r.cells, c => [c.className, c.textContent]))")
        return [[tuple(c) for c in r] for r in rows]


def drawn_figure(page: Path, target: str) -> dict:
    """The figure drawn in the element ``target`` as plotly.js holds it (its traces and layout),
    after the page's script has put in what the page's JSON leaves to it."""
    with _opened(page) as tab:
        return tab.evaluate("id => { const gd = document.getElementById(id); "
                            "return JSON.parse(JSON.stringify({data: gd.data, layout: gd.layout})); }", target)


def visit(page: Path, screenshot: Path | None = None, width: int = 1280, height: int = 900, phone: bool = False,
          full_page: bool = False, pdf: Path | None = None, timeout_ms: int = 60_000) -> Visit:
    """Load ``page`` with every non-file request blocked; optionally screenshot it (the first
    ``height`` pixels, or the whole page) and print it to an A4 PDF."""
    from playwright.sync_api import sync_playwright

    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk)")
    blocked, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                          has_touch=phone, device_scale_factor=2 if phone else 1, locale="zh-CN")

            def route(r):
                if r.request.url.startswith(("file:", "data:", "blob:")):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            tab = context.new_page()
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(Path(page).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            tab.wait_for_timeout(500)
            texts = tab.evaluate(_VISIBLE_TEXT)
            english = [t for t in texts if ENGLISH.search(t)]
            overlaps = tab.evaluate(_OVERLAPS)
            upload = [t for t in tab.evaluate(_MODEBAR) if UPLOAD.search(t)]
            figures = tab.evaluate("document.querySelectorAll('.js-plotly-plot').length")
            if screenshot is not None:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(screenshot), full_page=full_page)
            if pdf is not None:
                Path(pdf).parent.mkdir(parents=True, exist_ok=True)
                tab.emulate_media(media="print")
                tab.pdf(path=str(pdf), format="A4", print_background=True)
        finally:
            browser.close()
    return Visit(sorted(set(blocked)), errors, english, overlaps, upload, figures, screenshot, pdf, texts)
