"""The weight of the dashboard page: its HTML and every stylesheet and script it loads, as sent
and gzipped (level 1, nginx's default ``gzip_comp_level``, and level 6), for a demo site.

    .venv/bin/python -m bench.page_weight [--hits 20000 --days 60]

A fresh SQLite database in a temporary directory, seeded by ``tracking-demo``'s generator (as
``bench/dashboard.py`` does), ``pserve production.ini``, the owner logs in, and the last 30
days' dashboard is fetched with what it links to. Figures: BENCHMARKS.md, "Dashboard page
weight". (nginx gzips the stylesheets and scripts, not the HTML: ``deploy/nginx.conf``.)
"""

import argparse
import gzip
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench.dashboard import Browser, Server, seed

ASSETS = re.compile(r'<link rel="stylesheet" href="([^"]+)"|<script[^>]* src="([^"]+)"')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/weight.sqlite"
        data = seed(url, args.hits, args.days)
        with Server("production.ini", url, Path(tmp)) as server:
            browser = Browser(server.port)
            browser.log_in(data.email)
            status, page, _ = browser.request("GET", f"/sites/{data.site_id}/?period=30d")
            if status != 200:
                raise RuntimeError(f"the dashboard answered {status}")
            parts = [("HTML", page.encode())]
            for css, js in ASSETS.findall(page):
                path = urlsplit(css or js).path
                status, body, _ = browser.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                parts.append((path, body.encode()))
    print(f"{'part':48} {'bytes':>9} {'gzip -1':>9} {'gzip -6':>9}")
    totals = [0, 0, 0]
    for name, body in parts:
        sizes = (len(body), len(gzip.compress(body, 1)), len(gzip.compress(body, 6)))
        totals = [t + s for t, s in zip(totals, sizes, strict=True)]
        print(f"{name:48} {sizes[0]:>9,} {sizes[1]:>9,} {sizes[2]:>9,}")
    print(f"{'total':48} {totals[0]:>9,} {totals[1]:>9,} {totals[2]:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
