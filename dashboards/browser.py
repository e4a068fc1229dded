"""Open a dashboard page in real headless Chromium: screenshot, rendered DOM, and every URL
the page asked for (from Chromium's network log), to prove it works offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=10000"]


@dataclass
class Visit:
    dom: str
    urls: list[str]          # every network request the page made (file:// loads are not requests)
    screenshot: Path | None


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(binary: str, page: Path, extra: list[str], profile: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=timeout)


def visit(page: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2000,
          timeout: int = 120) -> Visit:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        dom = _run(binary, page, [f"--log-net-log={netlog}", "--dump-dom"], f"{tmp}/p1", timeout).stdout
        urls = _urls(netlog)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            _run(binary, page, [f"--window-size={width},{height}", f"--screenshot={screenshot}"], f"{tmp}/p2",
                 timeout)
    return Visit(dom=dom, urls=urls, screenshot=screenshot)


def _urls(netlog: Path) -> list[str]:
    """URLs the page asked for over the network, from a Chromium net log.

    Chromium itself also calls home (time, updates, accounts) even with background networking
    off; those requests have no origin ("not an origin") and are left out: only requests a page
    started, which carry the page's origin ("null" for file://), are the page's."""
    if not netlog.exists():
        return []
    text = netlog.read_text(errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"  # the log is cut short when the browser exits; close it
    try:
        events = json.loads(text).get("events", [])
    except json.JSONDecodeError:
        events = []
    urls = []
    for event in events:
        params = event.get("params") or {}
        if params.get("url") and "initiator" in params and params["initiator"] != "not an origin":
            urls.append(params["url"])
    return sorted(set(urls))
