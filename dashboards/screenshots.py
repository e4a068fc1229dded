"""Screenshots of the three kinds of page, for the README:

    .venv/bin/python -m dashboards.screenshots data/out docs/screenshots
"""

import sys
from pathlib import Path

from dashboards.browser import visit


def main(out_dir: str = "data/out", dest: str = "docs/screenshots") -> None:
    d = Path(out_dir) / "dashboards"
    pages = {"index": d / "index.html", "province": sorted((d / "province").glob("*.html"))[0],
             "county": sorted((d / "county").glob("*.html"))[0]}
    for name, page in pages.items():
        shot = visit(page, Path(dest) / f"{name}.png", height=1600 if name != "county" else 2400).screenshot
        print(f"{page} → {shot}")


if __name__ == "__main__":
    main(*sys.argv[1:])
