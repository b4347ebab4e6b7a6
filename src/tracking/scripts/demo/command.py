"""The ``tracking-demo`` command: its arguments, a progress bar, and one run in one transaction."""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from datetime import date
from typing import TextIO

from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy.orm import Session

from ...models import get_engine
from ...settings import database_settings
from .load import generate


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self.started = time.perf_counter()
        self.drawn = 0.0

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.total and now - self.drawn < 0.1:
            return
        self.drawn = now
        fraction = done / self.total if self.total else 1.0
        filled = int(fraction * self.width)
        rate = done / (now - self.started) if now > self.started else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {fraction:6.1%} {done:,}/{self.total:,} hits, {rate:,.0f}/s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tracking-demo", description="Fill a site with realistic synthetic traffic.")
    parser.add_argument("config_uri", help="the ini file, e.g. production.ini")
    parser.add_argument("--site", type=int, required=True, help="id of the site to fill")
    parser.add_argument("--hits", type=int, required=True, help="hits to add (page views, events and ~3 %% bot hits)")
    parser.add_argument("--days", type=int, required=True, help="over this many days, ending with --end")
    parser.add_argument("--seed", type=int, help="for the same data again (default: random)")
    parser.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD (default: today, site-local)")
    args = parser.parse_args(argv)
    if args.hits < 0 or args.days < 1:
        parser.error("--hits must be ≥ 0 and --days ≥ 1")
    return args


def main(argv: Sequence[str] | None = None, stderr: TextIO = sys.stderr) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.config_uri)
    settings = database_settings(get_appsettings(args.config_uri))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    engine = get_engine(settings)
    try:
        with Session(engine) as session, session.begin():
            result = generate(
                session, args.site, args.hits, args.days, seed=seed, end=args.end, progress=ProgressBar(args.hits, stderr)
            )
    except (LookupError, ValueError) as exc:
        print(f"tracking-demo: error: {exc}", file=stderr)
        return 2
    finally:
        engine.dispose()
    rate = result.hits / result.load_seconds if result.load_seconds else 0.0
    print(
        f"site {args.site}: {result.hits:,} hits ({result.bots:,} from bots), {result.visits:,} visits, "
        f"seed {seed}; generated and loaded in {result.load_seconds:.1f} s ({rate:,.0f} hits/s; indexes and "
        f"statistics {result.index_seconds:.1f} s of it), summaries rebuilt in {result.rebuild_seconds:.1f} s"
    )
    return 0
