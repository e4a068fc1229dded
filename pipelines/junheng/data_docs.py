"""Data Docs that work on an offline office network.

Great Expectations renders its Data Docs pages with stylesheets, scripts and logos from CDNs.
The files they need are vendored in ``data_docs_assets/`` (from the npm registry's packages,
listed with their addresses in ``manifest.toml``); this copies them beside the pages and points
every page at them. Run after each rendering: rewriting a page that is already offline changes
nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

ASSETS = Path(__file__).parent / "data_docs_assets"
VENDOR = Path("static") / "vendor"
# Great Expectations' logos, from its own bucket; the same pictures ship in the site's static/images
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+\.amazonaws\.com/([\w.-]+?)\.png(\?[^\"']*)?")
_LOCAL_LOGO = {"logo-long": "logo-long.png", "full_logo_dark": "logo-long.png"}
# links out (the vendor's newsletter and site) are not loaded by the page, but an offline reader
# cannot follow them either: they are dropped
# subresource-integrity and CORS attributes were for the CDN copies; on file:// they make the
# browser refuse the local ones
_CDN_ATTRIBUTES = re.compile(r'\s(integrity|crossorigin)="[^"]*"')
_LINK_OUT = re.compile(r'href="https://((docs\.)?greatexpectations\.io|sketch\.com)[^"]*"')


def _manifest() -> dict[str, str]:
    data = tomllib.loads((ASSETS / "manifest.toml").read_text(encoding="utf-8"))
    return {a["url"]: a["file"] for a in data["asset"]}


def make_offline(docs_dir: Path) -> int:
    """Copy the vendored files into ``docs_dir/static/vendor`` (once) and rewrite the pages that
    still load anything from a network; returns how many pages were rewritten."""
    docs_dir = Path(docs_dir)
    if not docs_dir.exists():
        return 0
    vendor = docs_dir / VENDOR
    if not (vendor / "manifest.toml").exists():
        shutil.copytree(ASSETS, vendor, dirs_exist_ok=True)
    urls = _manifest()
    rewritten = 0
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "https://" not in text and "crossorigin=" not in text and "integrity=" not in text:
            continue
        to_vendor = os.path.relpath(vendor, page.parent)
        to_images = os.path.relpath(docs_dir / "static" / "images", page.parent)
        new = text
        for url, file in urls.items():
            new = new.replace(f'"{url}"', f'"{to_vendor}/{file}"')
        new = _LOGO.sub(lambda m: f"{to_images}/{_LOCAL_LOGO.get(m.group(1), 'logo-long.png')}", new)
        new = _LINK_OUT.sub('href="#"', new)
        new = _CDN_ATTRIBUTES.sub("", new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    return rewritten
