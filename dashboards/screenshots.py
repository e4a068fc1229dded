"""Screenshots of every kind of page at desktop and phone width, and a county page printed to
A4, for the README:

    .venv/bin/python -m dashboards.screenshots data/out docs/screenshots
"""

import sys
from pathlib import Path

import polars as pl

from dashboards.browser import visit


def main(out_dir: str = "data/out", dest: str = "docs/screenshots") -> None:
    out, target = Path(out_dir), Path(dest)
    d = out / "dashboards"
    cards = pl.read_parquet(out / "county_scorecard" / "**" / "*.parquet")
    cards = cards.filter(pl.col("year") == cards["year"].max()).sort("county_code")
    county = {s: cards.filter(pl.col("status") == s)["county_code"][0]
              for s in ("quality_balanced", "not_yet", "insufficient_data")}
    pages = {"index": d / "index.html", "province": d / "province" / f"{cards['province_code'][0]}.html",
             "county-passing": d / "county" / f"{county['quality_balanced']}.html",
             "county-failing": d / "county" / f"{county['not_yet']}.html",
             "county-data-missing": d / "county" / f"{county['insufficient_data']}.html"}
    for name, page in pages.items():
        visit(page, target / f"{name}.png", width=1280, height=1800)
        visit(page, target / f"{name}-phone.png", width=390, height=1500, phone=True)
        print(f"{page} → {target / name}.png, {name}-phone.png")
    seen = visit(pages["county-failing"], pdf=target / "county-failing-print.pdf")
    print(f"{pages['county-failing']} → {seen.pdf}")


if __name__ == "__main__":
    main(*sys.argv[1:])
