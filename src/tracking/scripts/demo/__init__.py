"""``tracking-demo``: fill a site with realistic synthetic traffic, for demos and benchmarks.

    tracking-demo production.ini --site 1 --hits 1000000 --days 365 [--seed 7] [--end 2026-11-27]

``--hits`` counts rows of ``hits`` (page views, custom events and ~3 % bot hits),
spread over the ``--days`` local days that end with ``--end`` (default: today in the site's
time zone; today only up to now, so nothing lies in the future). The rows are what the live
writer (:mod:`tracking.ingest.store`) would have stored for such traffic, and the summary tables
are recomputed at the end with :func:`tracking.summaries.rebuild.rebuild`, so every report agrees
with the raw rows. Everything happens in one transaction: the site gets all of it or nothing.

The traffic: ~200 pages of Zipf-like popularity; visits of 1–8 page views (~45 % bounces)
whose entry and exit pages follow the sequence of views; referrers from search engines, social
sites, newsletters (UTM-tagged) and other sites, ~40 % direct; 25 countries, with regions and
cities for the big ones; browsers, systems and devices in realistic shares; busier weekdays and
a daily curve; some people back for a 2nd or 3rd visit the same day; ``signup``,
``outbound`` and ``download`` events; and crawler hits, which have no visit.

Like the live writer, visitor ids are random-looking signed 64-bit integers that change every
day: a person coming back another day is another visitor. They change at local midnight here
(visits never cross it), where the live salts change at UTC midnight; for a site in UTC the
two are the same, and every flag is defined per visitor id either way.

Speed: rows are made in batches of :data:`.generator.CHUNK_HITS` hits, each loaded by a thread of its own
while the next is made (:class:`.rows.Loader`), so memory stays flat whatever ``--hits`` is.
PostgreSQL loads them with ``COPY`` (text format), SQLite with ``executemany``; the columns
many rows share are formatted once (:class:`.rows.Rows`). Into empty tables (a new database), the
indexes are built after the load rather than row by row (:func:`.load.deferred_indexes`).

The package: :mod:`.traffic` (what the traffic is made of), :mod:`.generator` (people, visits
and hits, day by day), :mod:`.rows` (rows formatted for each database, and their loader),
:mod:`.load` (:func:`generate`: a run into a site's tables) and :mod:`.command` (the console
script). It is no part of the served application: ``tracking.main`` leaves the console scripts
out of its scan, so a server never imports it.
"""

from .command import ProgressBar, main
from .generator import Result
from .load import generate
from .rows import check_copy_safe
from .traffic import PAGES, PLACES

__all__ = ["PAGES", "PLACES", "ProgressBar", "Result", "check_copy_safe", "generate", "main"]
