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

Speed: rows are made in batches of :data:`CHUNK_HITS` hits, each loaded by a thread of its own
while the next is made (:class:`Loader`), so memory stays flat whatever ``--hits`` is.
PostgreSQL loads them with ``COPY`` (text format), SQLite with ``executemany``; the columns
many rows share are formatted once (:class:`Rows`). Into empty tables (a new database), the
indexes are built after the load rather than row by row (:func:`deferred_indexes`).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TextIO, TypeVar

from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..ingest.enrich import classify_source, detect_bot, parse_agent
from ..ingest.store import VISIT_GAP
from ..models import Site, Visit, get_engine
from ..models.types import utcnow
from ..settings import apply_environment
from ..summaries.rebuild import rebuild
from ..timezones import day_bounds, to_local

T = TypeVar("T")

#: Hits buffered before they are sent to the database.
CHUNK_HITS = 50_000
BOT_SHARE = 0.03

# -- weighted choices ---------------------------------------------------------------------


class Weighted(Generic[T]):
    """Weighted random choice by table lookup: one ``random()`` and one index per draw.

    ``random.choices`` bisects cumulative weights on every call; the generator draws tens of
    millions of times, so each distribution is laid out once in a table of ``size`` slots (a
    weight's share of the slots is its share of the total, to within ``1 / size``).
    """

    __slots__ = ("table", "size")

    def __init__(self, pairs: Sequence[tuple[T, float]], size: int = 4096) -> None:
        items = [item for item, _ in pairs]
        cumulative: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            cumulative.append(total)
        self.table = [items[min(bisect.bisect_right(cumulative, (i + 0.5) * total / size), len(items) - 1)] for i in range(size)]
        self.size = size

    def draw(self, u: float) -> T:
        """The item at ``u`` (a ``random()`` in [0, 1))."""
        return self.table[int(u * self.size)]


# -- what the traffic is made of ----------------------------------------------------------

CORE_PAGES = (
    "/", "/pricing", "/features", "/docs/", "/blog/", "/signup", "/about", "/download", "/login",
    "/integrations/", "/changelog", "/contact", "/customers", "/security", "/privacy", "/terms",
    "/careers", "/status", "/search",
)
DOC_SECTIONS = {
    "getting-started": ("installation", "first-site", "tracking-snippet", "upgrading", "configuration"),
    "guides": ("custom-events", "goals", "utm-campaigns", "filters", "exports", "time-zones", "bots",
               "single-page-apps", "proxies", "reverse-proxy-nginx", "caddy", "docker", "kubernetes"),
    "reference": ("settings", "http-api", "beacon", "events-api", "csv-format", "cli", "environment",
                  "database", "retention", "privacy-model", "data-model", "dimensions", "periods", "sessions",
                  "visitors", "sources"),
    "self-hosting": ("postgresql", "sqlite", "backups", "monitoring", "scaling", "security-checklist",
                     "geoip", "systemd", "logs", "troubleshooting"),
}
INTEGRATIONS = ("wordpress", "hugo", "jekyll", "next-js", "gatsby", "ghost", "shopify", "django", "rails", "laravel")
BLOG_TOPICS = (
    "why-we-dropped-cookies", "self-hosting-analytics", "gdpr-without-banners", "counting-visitors-privately",
    "postgresql-at-scale", "sqlite-is-enough", "bot-traffic-explained", "utm-tags-done-right",
    "the-cost-of-third-party-scripts", "daily-salts", "what-is-a-bounce", "designing-a-dashboard",
    "release-notes", "web-vitals-and-privacy", "open-source-sustainability", "small-web",
    "one-year-in", "a-faster-beacon", "time-zones-are-hard", "measuring-newsletters",
    "referrer-policy", "server-side-tracking", "ad-blockers-and-analytics", "privacy-laws-2026",
    "case-study-indie-shop", "case-study-docs-site", "case-study-news-blog", "migrating-from-ga",
    "event-tracking-guide", "sessions-explained", "the-30-minute-rule", "what-we-do-not-collect",
)


def _pages() -> tuple[str, ...]:
    """About 200 paths, most popular first: core pages, then docs and blog posts interleaved."""
    docs = [f"/docs/{section}/{topic}" for section, topics in DOC_SECTIONS.items() for topic in topics]
    blog = [f"/blog/{2023 + i % 4}/{topic}" for i, topic in enumerate(BLOG_TOPICS)]
    blog += [f"/blog/{2023 + i % 4}/{topic}-part-2" for i, topic in enumerate(BLOG_TOPICS)]
    blog += [f"/blog/tags/{tag}" for tag in ("privacy", "engineering", "product", "self-hosting", "guides", "news")]
    blog += [f"/blog/page/{n}" for n in range(2, 11)]
    integrations = [f"/integrations/{name}" for name in INTEGRATIONS]
    releases = [f"/changelog/{major}.{minor}" for major in (2, 1) for minor in range(9, -1, -1)]
    rest: list[str] = []
    while docs or blog or integrations or releases:
        for source in (docs, blog, docs, blog, integrations, releases):
            if source:
                rest.append(source.pop(0))
    legal = ("/jobs/backend-engineer", "/jobs/designer", "/imprint", "/press", "/brand", "/roadmap",
             "/compare/google-analytics", "/compare/plausible", "/compare/matomo", "/compare/umami",
             "/use-cases/blogs", "/use-cases/shops", "/use-cases/docs", "/use-cases/agencies", "/partners",
             "/affiliates", "/community", "/support", "/faq", "/newsletter", "/events", "/talks",
             "/open-source", "/sponsors", "/team", "/thanks", "/accessibility", "/sitemap")
    return (*CORE_PAGES, *rest, *legal)


PAGES = _pages()
#: Page popularity: the page of rank ``r`` (1-based) weighs ``1 / r ** 1.05``.
PAGE_TABLE = Weighted([(i, 1.0 / (rank ** 1.05)) for i, rank in enumerate(range(1, len(PAGES) + 1))], size=65536)
#: Page views per visit, 1 to 8 (about 47 % single page views).
PAGEVIEW_COUNTS = Weighted([(1, 47), (2, 17), (3, 11), (4, 8), (5, 6), (6, 4.5), (7, 3.5), (8, 3)])
#: Visits of one person in one day.
VISITS_PER_DAY = Weighted([(1, 89), (2, 8), (3, 3)])
#: Local hour of a day's first visit: quiet nights, a working-day plateau, an evening bump.
HOUR_CURVE = (1.6, 1.0, 0.7, 0.5, 0.5, 0.7, 1.4, 2.8, 4.6, 6.0, 6.8, 7.0, 6.6, 6.9, 7.0, 6.7, 6.2, 5.4, 4.9,
              5.1, 5.4, 5.0, 3.8, 2.5)
HOUR_TABLE = Weighted(list(enumerate(HOUR_CURVE)))
#: Monday to Sunday.
WEEKDAY_WEIGHTS = (1.0, 1.06, 1.05, 1.0, 0.9, 0.58, 0.63)


def _gap_quantiles(size: int = 4096) -> list[int]:
    """Seconds between two page views: log-normal (median 38 s), 2 s to 20 min.

    Laid out as the distribution's quantiles, so a draw is one lookup; the cap keeps every
    gap well inside the 30-minute visit rule.
    """
    normal = [math.sqrt(2) * _erfinv(2 * (i + 0.5) / size - 1) for i in range(size)]
    return [min(1200, max(2, round(math.exp(math.log(38) + 1.05 * z)))) for z in normal]


def _erfinv(y: float) -> float:
    """Inverse error function (Newton's method on ``math.erf``), for the quantile tables."""
    x = 0.0
    for _ in range(60):
        step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) < 1e-12:
            break
    return x


GAPS = _gap_quantiles()

#: How a visit arrives: (referrer, utm_source, utm_medium, utm_campaign, weight). A campaign
#: of ``"weekly"`` becomes ``weekly-<year>-w<week>``: one newsletter issue a week.
LANDINGS: tuple[tuple[str, str, str, str, float], ...] = (
    ("", "", "", "", 34.0),
    ("https://www.google.com/", "", "", "", 19.0),
    ("https://www.google.de/", "", "", "", 2.0),
    ("https://www.google.co.uk/", "", "", "", 1.5),
    ("https://www.google.fr/", "", "", "", 1.0),
    ("https://www.bing.com/", "", "", "", 3.0),
    ("https://duckduckgo.com/", "", "", "", 2.5),
    ("https://www.ecosia.org/", "", "", "", 0.6),
    ("https://t.co/", "", "", "", 1.8),
    ("https://x.com/", "", "", "", 1.2),
    ("https://www.reddit.com/r/selfhosted/", "", "", "", 2.2),
    ("https://www.reddit.com/r/privacy/", "", "", "", 0.8),
    ("https://news.ycombinator.com/", "", "", "", 2.6),
    ("https://l.facebook.com/", "", "", "", 1.0),
    ("https://www.facebook.com/", "", "", "", 0.6),
    ("https://www.linkedin.com/", "", "", "", 0.9),
    ("", "newsletter", "email", "weekly", 3.2),
    ("https://mail.google.com/", "newsletter", "email", "weekly", 0.8),
    ("", "newsletter", "email", "product-update", 0.9),
    ("https://github.com/", "", "", "", 3.0),
    ("https://stackoverflow.com/", "", "", "", 1.3),
    ("https://dev.to/", "", "", "", 0.9),
    ("https://alternativeto.net/", "", "", "", 0.8),
    ("https://www.producthunt.com/", "", "", "", 0.6),
    ("https://medium.com/", "", "", "", 0.7),
    ("https://www.google.com/", "google", "cpc", "brand", 1.4),
    ("https://t.co/", "twitter", "social", "launch-week", 0.6),
    ("https://partner.example.net/", "partner", "referral", "partner-program", 0.5),
)
LANDING_TABLE = Weighted(list(enumerate(w for *_, w in LANDINGS)))
#: A person's 2nd or 3rd visit of the day mostly comes back directly.
RETURN_TABLE = Weighted([(0, 40.0), *((i, w * 0.3) for i, (*_, w) in enumerate(LANDINGS) if i)])


@dataclass(frozen=True, eq=False)
class Place:
    """Where a person is, as the geolocation would say (compared by identity: a fast dict key)."""

    country: str
    region: str = ""
    city: str = ""
    postal: str = ""
    latitude: float | None = None
    longitude: float | None = None


def _places() -> Weighted[Place]:
    """25 countries by weight; the big ones with a few regions and cities (3 in 4 located)."""
    cities = {
        "US": (("California", "San Francisco", "94103", 37.7749, -122.4194), ("New York", "New York", "10001", 40.7128, -74.006),
               ("Texas", "Austin", "78701", 30.2672, -97.7431), ("Washington", "Seattle", "98101", 47.6062, -122.3321),
               ("Illinois", "Chicago", "60601", 41.8781, -87.6298), ("Massachusetts", "Boston", "02108", 42.3601, -71.0589)),
        "DE": (("Berlin", "Berlin", "10115", 52.52, 13.405), ("Bavaria", "Munich", "80331", 48.1351, 11.582),
               ("Hamburg", "Hamburg", "20095", 53.5511, 9.9937), ("North Rhine-Westphalia", "Cologne", "50667", 50.9375, 6.9603)),
        "GB": (("England", "London", "EC1A", 51.5074, -0.1278), ("England", "Manchester", "M1", 53.4808, -2.2426),
               ("Scotland", "Edinburgh", "EH1", 55.9533, -3.1883)),
        "FR": (("Île-de-France", "Paris", "75001", 48.8566, 2.3522), ("Auvergne-Rhône-Alpes", "Lyon", "69001", 45.764, 4.8357)),
        "IN": (("Karnataka", "Bengaluru", "560001", 12.9716, 77.5946), ("Maharashtra", "Mumbai", "400001", 19.076, 72.8777),
               ("Delhi", "New Delhi", "110001", 28.6139, 77.209)),
        "CA": (("Ontario", "Toronto", "M5H", 43.6532, -79.3832), ("British Columbia", "Vancouver", "V6B", 49.2827, -123.1207),
               ("Quebec", "Montreal", "H2Y", 45.5017, -73.5673)),
    }
    weights = {
        "US": 24.0, "DE": 9.0, "GB": 7.0, "IN": 6.0, "FR": 5.0, "CA": 4.0, "NL": 3.0, "BR": 3.0, "ES": 2.5, "IT": 2.5,
        "PL": 2.0, "AU": 2.0, "JP": 2.0, "SE": 1.5, "RU": 1.5, "CH": 1.2, "AT": 1.0, "BE": 1.0, "UA": 1.0, "KR": 1.0,
        "MX": 1.0, "CN": 0.8, "DK": 0.8, "NO": 0.7, "FI": 0.6,
    }
    pairs: list[tuple[Place, float]] = [(Place(""), 0.5)]  # no location found
    for country, weight in weights.items():
        located = cities.get(country, ())
        share = 0.75 if located else 0.0
        pairs.append((Place(country), weight * (1 - share)))
        for index, (region, city, postal, latitude, longitude) in enumerate(located):
            # The first city of a country is the biggest.
            city_weight = weight * share * (2.0 if index == 0 else 1.0) / (len(located) + 1)
            pairs.append((Place(country, region, city, postal, latitude, longitude), city_weight))
    return Weighted(pairs, size=16384)


PLACES = _places()
CRAWLER_PLACE = Place("US")


@dataclass(frozen=True, eq=False)
class Agent:
    """What the live pipeline derives from a user agent, and the screen widths that go with it
    (compared by identity: a fast dict key)."""

    browser: str
    browser_version: str
    os: str
    device: str
    bot: str
    widths: tuple[int | None, ...]


DESKTOP = (1920, 1920, 1536, 1440, 1366, 2560, 1280, 1680)
PHONE = (390, 393, 412, 414, 375, 360, 430)
TABLET = (768, 810, 820, 1024, 800)
#: (user agent, screen widths, weight): desktop ~46 %, phones ~48 %, tablets ~6 %.
USER_AGENTS: tuple[tuple[str, tuple[int, ...], float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", DESKTOP, 19.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", DESKTOP, 6.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", DESKTOP, 3.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", DESKTOP, 7.0),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", DESKTOP, 5.5),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", DESKTOP, 1.6),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", DESKTOP, 1.6),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", DESKTOP, 1.0),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", PHONE, 19.0),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", PHONE, 3.0),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", PHONE, 21.0),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", PHONE, 4.0),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", PHONE, 0.8),
    ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", TABLET, 4.5),
    ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", TABLET, 1.5),
)
#: (user agent, weight) of the crawlers.
CRAWLERS: tuple[tuple[str, float], ...] = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 30.0),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 10.0),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", 18.0),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 14.0),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 9.0),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 9.0),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 5.0),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", 5.0),
)


def _agent(user_agent: str, widths: tuple[int | None, ...]) -> Agent:
    """The columns the live pipeline would store for ``user_agent`` (its own parsers)."""
    parsed = parse_agent(user_agent)
    bot = detect_bot(user_agent) or ("crawler" if parsed.device == "bot" else "")
    return Agent(parsed.browser, parsed.browser_version, parsed.os, parsed.device, bot, widths)


#: Outbound links and the sign-up plans, as the ``props`` of their events (JSON text).
OUTBOUND_URLS = (
    "https://github.com/example/tracking", "https://github.com/example/tracking/releases",
    "https://twitter.com/example", "https://mastodon.social/@example", "https://www.postgresql.org/docs/",
    "https://sqlite.org/docs.html", "https://docs.docker.com/", "https://www.maxmind.com/",
)
OUTBOUND_PROPS = tuple(json.dumps({"url": url}) for url in OUTBOUND_URLS)
SIGNUP_PROPS = Weighted([(json.dumps({"plan": "free"}), 72.0), (json.dumps({"plan": "pro"}), 28.0)])
#: Chance of each event after a page view (the outbound click ends the visit).
OUTBOUND_CHANCE = 0.04
SIGNUP_CHANCE = {"/signup": 0.35, "/pricing": 0.06}
DOWNLOAD_CHANCE = {"/download": 0.3, "/docs/getting-started/installation": 0.08}
#: Per page: one ``random()`` below the 1st threshold is a sign-up, below the 2nd a download,
#: below the 3rd an outbound click.
EVENT_THRESHOLDS = tuple(
    (signup, signup + download, signup + download + OUTBOUND_CHANCE)
    for signup, download in ((SIGNUP_CHANCE.get(path, 0.0), DOWNLOAD_CHANCE.get(path, 0.0)) for path in PAGES)
)


# -- rows ---------------------------------------------------------------------------------

#: Columns of ``hits`` in the order rows are written, in groups: what varies from hit to hit;
#: the event (name and properties); the page (shared by a page view and its events); the
#: visit (its day, visitor, id and address); the person's place and software (shared by many
#: people). ``id`` is left to the database.
HIT_OWN_COLUMNS = ("ts", "is_first")
EVENT_COLUMNS = ("event", "props")
PAGE_COLUMNS = ("path", "query", "referrer", "ref_host", "source", "utm_source", "utm_medium", "utm_campaign",
                "utm_term", "utm_content")
PERSON_COLUMNS = ("day", "visitor", "visit_id", "ip")
PROFILE_COLUMNS = ("site_id", "host", "country", "region", "city", "postal", "latitude", "longitude", "browser",
                   "browser_version", "os", "device", "width", "bot")
HIT_COLUMNS = (*HIT_OWN_COLUMNS, *EVENT_COLUMNS, *PAGE_COLUMNS, *PERSON_COLUMNS, *PROFILE_COLUMNS)
#: Columns of ``visits``: the visit's own; its arrival; its person's place and software.
VISIT_OWN_COLUMNS = ("id", "visitor", "started_at", "ended_at", "day", "is_first", "entry_path", "exit_path",
                       "pageviews", "events", "duration")
ARRIVAL_COLUMNS = ("source", "ref_host", "utm_source", "utm_medium", "utm_campaign")
VISIT_PROFILE_COLUMNS = ("site_id", "country", "region", "city", "browser", "os", "device")
VISIT_COLUMNS = (*VISIT_OWN_COLUMNS, *ARRIVAL_COLUMNS, *VISIT_PROFILE_COLUMNS)
NULL = "\\N"


class Rows(ABC):
    """Rows formatted for one way of loading them, buffered until taken (:meth:`take`) and loaded.

    Groups of columns that many rows share are formatted once by :meth:`part` (the generator
    keeps them), so the work per hit is formatting its own few values. Timestamps are text:
    a UTC date and :attr:`clock` ``[second of the day]``, the way the database stores them.
    """

    #: " HH:MM:SS" (and fraction) for each second of a day.
    clock: list[str]

    def __init__(self) -> None:
        self.hits: list[Any] = []
        self.visits: list[Any] = []

    def take(self) -> tuple[list[Any], list[Any]]:
        """The buffered (visits, hits), leaving the buffers empty."""
        batch = (self.visits, self.hits)
        self.visits, self.hits = [], []
        return batch

    @abstractmethod
    def part(self, values: tuple) -> Any:
        """Consecutive columns, formatted."""

    @abstractmethod
    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: Any) -> Any:
        """The columns all hits of a visit share: :data:`PERSON_COLUMNS` and a profile part."""

    @abstractmethod
    def tail(self, page: Any, person: Any) -> Any:
        """The columns a page view shares with the events sent from its page."""

    @abstractmethod
    def hit(self, ts: str, first: bool, event: Any, tail: Any) -> None:
        """Buffer a hit: its timestamp, ``is_first``, event part and tail."""

    @abstractmethod
    def visit(self, own: tuple, arrival: Any, profile: Any) -> None:
        """Buffer a visit: its :data:`VISIT_OWN_COLUMNS` (timestamps as text), arrival and profile parts."""

    @abstractmethod
    def load(self, connection: Any, visits: list[Any], hits: list[Any]) -> None:
        """Write taken rows through ``connection`` (the driver's, in the caller's transaction)."""


def _clock(fraction: str) -> list[str]:
    return [f" {hour:02d}:{minute:02d}:{second:02d}{fraction}" for hour in range(24) for minute in range(60) for second in range(60)]


class CopyRows(Rows):
    """PostgreSQL: lines of ``COPY ... FROM STDIN`` text format, sent one ``COPY`` per table.

    Text format needs escaping only for backslashes, tabs and line breaks, which no generated
    value contains (:func:`check_copy_safe` checks the vocabulary once).
    """

    HITS = f"COPY hits ({', '.join(HIT_COLUMNS)}) FROM STDIN"
    VISITS = f"COPY visits ({', '.join(VISIT_COLUMNS)}) FROM STDIN"
    clock = _clock("")

    @staticmethod
    def _text(value: object) -> str:
        if value is None:
            return NULL
        if value is True:
            return "t"
        if value is False:
            return "f"
        return str(value)

    def part(self, values: tuple) -> str:
        return "\t".join(map(self._text, values))

    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: str) -> str:
        return f"{day}\t{visitor}\t{NULL if visit_id is None else visit_id}\t{ip}\t{profile}\n"

    def tail(self, page: str, person: str) -> str:
        return f"{page}\t{person}"

    def hit(self, ts: str, first: bool, event: str, tail: str) -> None:
        self.hits.append(f"{ts}\t{'t' if first else 'f'}\t{event}\t{tail}")

    def visit(self, own: tuple, arrival: str, profile: str) -> None:
        id, visitor, started, ended, day, first, entry, exit, pageviews, events, duration = own
        self.visits.append(
            f"{id}\t{visitor}\t{started}\t{ended}\t{day}\t{'t' if first else 'f'}\t{entry}\t{exit}\t{pageviews}\t"
            f"{events}\t{duration}\t{arrival}\t{profile}\n"
        )

    def load(self, connection: Any, visits: list[str], hits: list[str]) -> None:
        with connection.cursor() as cursor:
            for statement, lines in ((self.VISITS, visits), (self.HITS, hits)):
                if lines:
                    with cursor.copy(statement) as copy:
                        copy.write("".join(lines).encode())


class ParameterRows(Rows):
    """SQLite: parameter tuples for ``executemany``, values stored as SQLAlchemy stores them."""

    HITS = f"INSERT INTO hits ({', '.join(HIT_COLUMNS)}) VALUES ({', '.join('?' * len(HIT_COLUMNS))})"
    VISITS = f"INSERT INTO visits ({', '.join(VISIT_COLUMNS)}) VALUES ({', '.join('?' * len(VISIT_COLUMNS))})"
    clock = _clock(".000000")

    def part(self, values: tuple) -> tuple:
        return values

    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: tuple) -> tuple:
        return (day, visitor, visit_id, ip, *profile)

    def tail(self, page: tuple, person: tuple) -> tuple:
        return page + person

    def hit(self, ts: str, first: bool, event: tuple, tail: tuple) -> None:
        self.hits.append((ts, first, *event, *tail))

    def visit(self, own: tuple, arrival: tuple, profile: tuple) -> None:
        self.visits.append(own + arrival + profile)

    def load(self, connection: Any, visits: list[tuple], hits: list[tuple]) -> None:
        if visits:
            connection.executemany(self.VISITS, visits)
        if hits:
            connection.executemany(self.HITS, hits)


def check_copy_safe() -> None:
    """Every text the generator can write is safe in ``COPY`` text format as it is."""
    texts = [*PAGES, *OUTBOUND_PROPS, *SIGNUP_PROPS.table, *(value for landing in LANDINGS for value in landing[:4])]
    texts += [str(value) for place in PLACES.table for value in vars(place).values()]
    if any(char in value for value in texts for char in "\\\t\n\r"):
        raise ValueError("a demo value needs COPY escaping")


class Loader:
    """Loads batches of rows on a thread of its own while the next batch is generated.

    Generating is Python's work on one core, loading the database's on the other (and socket
    or file I/O, during which the drivers release the GIL): on two cores the two overlap
    instead of taking turns. One batch loads while one is generated, so at most two are in
    memory.
    """

    def __init__(self, rows: Rows, connection: Any, progress: Callable[[int], None] | None) -> None:
        self.rows = rows
        self.connection = connection
        self.progress = progress
        self.loaded = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-demo")
        self._pending: Future[None] | None = None
        self._pending_hits = 0

    def send(self) -> None:
        """Load the rows buffered so far (after the batch still loading, if any)."""
        visits, hits = self.rows.take()
        self.wait()
        self._pending = self._executor.submit(self.rows.load, self.connection, visits, hits)
        self._pending_hits = len(hits)

    def wait(self) -> None:
        """Wait for the batch still loading; its errors are raised here."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        pending.result()
        self.loaded += self._pending_hits
        if self.progress:
            self.progress(self.loaded)

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True)


# -- the generator ------------------------------------------------------------------------


@dataclass
class Result:
    """What a run added, and where its time went."""

    hits: int = 0
    visits: int = 0
    bots: int = 0
    #: Making and loading the rows, indexes and statistics included.
    load_seconds: float = 0.0
    #: The part of ``load_seconds`` spent building indexes and keys and updating statistics.
    index_seconds: float = 0.0
    rebuild_seconds: float = 0.0


@dataclass
class Day:
    """One local day: how many seconds of it may hold hits, and where it starts in UTC.

    The timestamp of second ``n`` of the day is ``utc_dates[m // 86400] + clock[m % 86400]``
    with ``m = utc_second + n`` (seconds from the UTC midnight before the local one; a local
    day of 23 or 25 hours spans up to three UTC dates).
    """

    day: date
    text: str
    seconds: int
    utc_dates: tuple[str, ...]
    utc_second: int
    #: ``weekly-<year>-w<week>``: this week's newsletter issue.
    newsletter: str


def _visitor_ids(rng: random.Random) -> Callable[[], int]:
    """Distinct, random-looking signed 64-bit visitor ids.

    A counter (from a random start, by an odd step: it runs through all 2**64 values before it
    repeats) goes through the SplitMix64 finaliser, a bijection of 64-bit integers: no two
    people of one run share an id, which the ``is_first`` flags rely on.
    """
    mask = (1 << 64) - 1
    counter = rng.getrandbits(64)

    def next_id() -> int:
        nonlocal counter
        counter = (counter + 0x9E3779B97F4A7C15) & mask
        x = counter
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
        return x - (1 << 64) if x >> 63 else x

    return next_id


def daily_budgets(total: int, days: list[Day], rng: random.Random) -> list[int]:
    """Hits per day, summing to ``total``: weekday rhythm, a third more at the end than at the
    start, ±10 % noise.

    A day only partly elapsed (today) gets the share of the daily curve it has had so far.
    """
    weights = []
    whole_day = sum(HOUR_CURVE)
    for index, day in enumerate(days):
        hours, seconds = divmod(day.seconds, 3600)
        elapsed = sum(HOUR_CURVE[:hours]) + (HOUR_CURVE[hours] * seconds / 3600 if hours < 24 else 0.0)
        growth = 0.75 + 0.25 * (index + 1) / len(days)
        weights.append(WEEKDAY_WEIGHTS[day.day.weekday()] * growth * rng.uniform(0.9, 1.1) * min(1.0, elapsed / whole_day))
    whole = sum(weights)
    if not whole:
        return [0] * len(days)
    exact = [total * weight / whole for weight in weights]
    budgets = [int(share) for share in exact]
    # The hits lost to rounding down go to the largest remainders.
    for index in sorted(range(len(days)), key=lambda i: budgets[i] - exact[i])[: total - sum(budgets)]:
        budgets[index] += 1
    return budgets


class Generator:
    """Synthetic traffic of one site, written through a :class:`Rows`."""

    def __init__(self, site: Site, rows: Rows, seed: int) -> None:
        self.site_id = site.id
        self.host = site.domain
        self.rows = rows
        self.rng = random.Random(seed)
        self.next_visitor = _visitor_ids(self.rng)
        self.next_visit_id = 1
        self.people = Weighted([(_agent(ua, widths), weight) for ua, widths, weight in USER_AGENTS])
        self.crawlers = Weighted([(_agent(ua, (None,)), weight) for ua, weight in CRAWLERS])
        #: Truncated addresses (as ``tracking.store_ip = truncated`` stores them).
        self.addresses = [f"{self.rng.randint(1, 223)}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.0" for _ in range(4096)]
        self._arrival_classes = [
            classify_source(referrer, self.host, utm_source, utm_medium) for referrer, utm_source, utm_medium, *_ in LANDINGS
        ]
        # Formatted parts, made on first use.
        self._pageview = rows.part(("pageview", None))
        self._events: dict[tuple[str, str | None], Any] = {}
        self._landing_pages: dict[tuple[int, int, str], Any] = {}
        #: by ``previous page * len(PAGES) + page``
        self._inner_pages: list[Any] = [None] * len(PAGES) ** 2
        self._crawled_pages: dict[int, Any] = {}
        self._arrivals: dict[tuple[int, str], Any] = {}
        self._profiles: dict[tuple[Place, Agent, int | None], tuple[Any, Any]] = {}
        self.result = Result()

    # -- parts ------------------------------------------------------------------------------

    def _event(self, name: str, props: str | None) -> Any:
        key = (name, props)
        part = self._events.get(key)
        if part is None:
            part = self._events[key] = self.rows.part(key)
        return part

    def _landing_page(self, landing: int, page: int, campaign: str) -> Any:
        """The page part of a visit's first view: where the visitor came from."""
        key = (landing, page, campaign)
        part = self._landing_pages.get(key)
        if part is None:
            referrer, utm_source, utm_medium, *_ = LANDINGS[landing]
            ref_host, source = self._arrival_classes[landing]
            part = self.rows.part((PAGES[page], "", referrer, ref_host, source, utm_source, utm_medium, campaign, "", ""))
            self._landing_pages[key] = part
        return part

    def _inner_page(self, previous: int, page: int) -> Any:
        """The page part of a view reached from another page of the site (no source)."""
        key = previous * len(PAGES) + page
        part = self._inner_pages[key]
        if part is None:
            referrer = f"https://{self.host}{PAGES[previous]}"
            part = self._inner_pages[key] = self.rows.part((PAGES[page], "", referrer, "", "direct", "", "", "", "", ""))
        return part

    def _arrival(self, landing: int, campaign: str) -> Any:
        """A visit's arrival columns (its first hit's source and UTM tags)."""
        key = (landing, campaign)
        part = self._arrivals.get(key)
        if part is None:
            _, utm_source, utm_medium, *_ = LANDINGS[landing]
            ref_host, source = self._arrival_classes[landing]
            part = self._arrivals[key] = self.rows.part((source, ref_host, utm_source, utm_medium, campaign))
        return part

    def _profile(self, place: Place, agent: Agent, width: int | None) -> tuple[Any, Any]:
        """The place and software columns of a person's hits, and of their visits."""
        key = (place, agent, width)
        parts = self._profiles.get(key)
        if parts is None:
            parts = self._profiles[key] = (
                self.rows.part((self.site_id, self.host, place.country, place.region, place.city, place.postal,
                                place.latitude, place.longitude, agent.browser, agent.browser_version, agent.os,
                                agent.device, width, agent.bot)),
                self.rows.part((self.site_id, place.country, place.region, place.city, agent.browser, agent.os,
                                agent.device)),
            )
        return parts

    # -- days -------------------------------------------------------------------------------

    def day(self, day: Day, budget: int, flush: Callable[[], None]) -> None:
        """``budget`` hits on ``day``: people's visits, then crawler hits.

        ``flush`` is called whenever :data:`CHUNK_HITS` hits are buffered (a day may hold many).
        """
        bots = min(budget, round(budget * BOT_SHARE))
        people = budget - bots
        rows = self.rows
        while people > 0:
            people -= self._person(day, people)
            if len(rows.hits) >= CHUNK_HITS:
                flush()
        self._crawlers(day, bots)

    def _start(self, day: Day) -> int:
        """Seconds into ``day`` of a first visit, on the daily curve (within the day's hours)."""
        rnd = self.rng.random
        offset = HOUR_TABLE.draw(rnd()) * 3600 + int(rnd() * 3600)
        while offset >= day.seconds:
            offset = int(rnd() * day.seconds) if day.seconds < 3600 else HOUR_TABLE.draw(rnd()) * 3600 + int(rnd() * 3600)
        return offset

    def _person(self, day: Day, limit: int) -> int:
        """One person's visits of the day, at most ``limit`` hits; returns the hits written.

        ``is_first``: the person's first visit of the day, and each hit that is their first
        view of its page (first event of its name) that day — the visitor id is theirs for the
        day only.
        """
        rows = self.rows
        add_hit = rows.hit
        clock = rows.clock
        dates, midnight = day.utc_dates, day.utc_second
        rnd = self.rng.random
        agent = self.people.draw(rnd())
        width = agent.widths[int(rnd() * len(agent.widths))]
        profile, visit_profile = self._profile(PLACES.draw(rnd()), agent, width)
        visitor = self.next_visitor()
        ip = self.addresses[int(rnd() * len(self.addresses))]
        seen: set[object] = set()
        written = 0
        start = self._start(day)
        for number in range(VISITS_PER_DAY.draw(rnd())):
            if written >= limit:
                break
            hits = self._visit_hits(limit - written)
            if number == 0:
                # A visit never crosses midnight (nor now): cut it to the day, then move it
                # early enough to end within it.
                if hits[-1][0] >= day.seconds:
                    hits = [hit for hit in hits if hit[0] < day.seconds]
                start = min(start, day.seconds - 1 - hits[-1][0])
            elif start + hits[-1][0] >= day.seconds:
                break
            landing = LANDING_TABLE.draw(rnd()) if number == 0 else RETURN_TABLE.draw(rnd())
            campaign = LANDINGS[landing][3]
            if campaign == "weekly":
                campaign = day.newsletter
            visit_id = self.next_visit_id
            self.next_visit_id += 1
            person = rows.person(day.text, visitor, visit_id, ip, profile)
            tail = None
            previous = -1
            pageviews = 0
            for offset, page, event in hits:
                if event is None:
                    page_part = self._landing_page(landing, page, campaign) if previous < 0 else self._inner_page(previous, page)
                    tail = rows.tail(page_part, person)
                    previous = page
                    pageviews += 1
                    key: object = page
                    event = self._pageview
                else:
                    key = event
                first = key not in seen
                if first:
                    seen.add(key)
                second = midnight + start + offset
                add_hit(dates[second // 86400] + clock[second % 86400], first, event, tail)
            span = hits[-1][0]
            first_second, last_second = midnight + start, midnight + start + span
            own = (visit_id, visitor, dates[first_second // 86400] + clock[first_second % 86400],
                   dates[last_second // 86400] + clock[last_second % 86400], day.text, number == 0, PAGES[hits[0][1]],
                   PAGES[previous], pageviews, len(hits) - pageviews, span)
            rows.visit(own, self._arrival(landing, campaign), visit_profile)
            written += len(hits)
            self.result.visits += 1
            # The next visit starts after the 30-minute gap, up to ~6 hours later.
            start += span + int(VISIT_GAP.total_seconds()) + 60 + int(rnd() * 6 * 3600)
        self.result.hits += written
        return written

    def _visit_hits(self, limit: int) -> list[tuple[int, int, Any]]:
        """(seconds from the start, page index, event part or ``None`` for a page view) of a
        visit's hits, at most ``limit``.

        The first hit is a page view; an event follows its page view by a few seconds; an
        outbound click ends the visit.
        """
        rnd = self.rng.random
        pages, size = PAGE_TABLE.table, PAGE_TABLE.size
        hits: list[tuple[int, int, Any]] = []
        offset = 0
        page = pages[int(rnd() * size)]
        for number in range(PAGEVIEW_COUNTS.draw(rnd())):
            if number:
                offset += GAPS[int(rnd() * len(GAPS))]
                page = pages[int(rnd() * size)]
            hits.append((offset, page, None))
            signup, download, outbound = EVENT_THRESHOLDS[page]
            u = rnd()
            if u < outbound:
                if u < signup:
                    event = self._event("signup", SIGNUP_PROPS.draw(rnd()))
                elif u < download:
                    event = self._event("download", None)
                else:
                    event = self._event("outbound", OUTBOUND_PROPS[int(rnd() * len(OUTBOUND_PROPS))])
                offset += 1 + int(rnd() * 20)
                hits.append((offset, page, event))
                if u >= download:  # an outbound click: the visitor has left
                    break
        return hits if len(hits) <= limit else hits[:limit]

    def _crawlers(self, day: Day, count: int) -> None:
        """``count`` crawler hits spread over ``day``: no referrer, no visit, never first.

        Each crawler has one visitor id a day and comes from one address.
        """
        if not count:
            return
        rows = self.rows
        rnd = self.rng.random
        clock = rows.clock
        people: dict[Agent, Any] = {}
        for _ in range(count):
            agent = self.crawlers.draw(rnd())
            person = people.get(agent)
            if person is None:
                address = f"66.249.{len(people) + 64}.0"
                profile = self._profile(CRAWLER_PLACE, agent, None)[0]
                person = people[agent] = rows.person(day.text, self.next_visitor(), None, address, profile)
            page = int(rnd() * len(PAGES))
            part = self._crawled_pages.get(page)
            if part is None:
                part = self._crawled_pages[page] = rows.part((PAGES[page], "", "", "", "direct", "", "", "", "", ""))
            second = day.utc_second + int(rnd() * day.seconds)
            rows.hit(day.utc_dates[second // 86400] + clock[second % 86400], False, self._pageview, rows.tail(part, person))
        self.result.hits += count
        self.result.bots += count


def days_ending(end: date, count: int, timezone: str, now: datetime) -> list[Day]:
    """The ``count`` local days up to ``end``, each cut at ``now`` (naive UTC)."""
    days = []
    for back in range(count - 1, -1, -1):
        day = end - timedelta(days=back)
        start, stop = day_bounds(day, timezone)
        seconds = int((min(stop, now) - start).total_seconds())
        year, week, _ = day.isocalendar()
        utc_dates = tuple((start.date() + timedelta(days=n)).isoformat() for n in range(3))
        utc_second = start.hour * 3600 + start.minute * 60 + start.second
        days.append(Day(day, day.isoformat(), max(0, seconds), utc_dates, utc_second, f"weekly-{year}-w{week:02d}"))
    return days


RAW_TABLES = ("visits", "hits")


@contextmanager
def deferred_indexes(session: Session) -> Iterator[None]:
    """Drop the indexes (and on PostgreSQL the constraints) of the raw tables, then build them
    again after the block, in the same transaction.

    For a load into empty tables (a new database): building an index from all the rows at once
    is a sort, much cheaper than updating it row by row, and a foreign key checked once by one
    query costs less than a trigger per row (PostgreSQL's own advice for populating a
    database). They are rebuilt from their definitions as the database's catalog gives them,
    so they come back exactly as they were: primary keys first, then the other indexes, then
    the foreign keys. (No foreign key points at the raw tables.) SQLite keeps its primary and
    foreign keys, which cost little there.
    """
    if session.get_bind().dialect.name == "postgresql":
        tables = {"tables": list(RAW_TABLES)}
        indexes = session.execute(text(
            "SELECT quote_ident(c.relname), pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        ), tables).all()
        # Primary and unique keys before foreign keys: the order they are built again in.
        keys = session.execute(text(
            "SELECT CAST(conrelid AS regclass), quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(CAST(:tables AS regclass[])) ORDER BY contype = 'f', conname"
        ), tables).all()
    else:
        indexes = session.execute(text(
            "SELECT '\"' || name || '\"', sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name IN ('visits', 'hits') AND sql IS NOT NULL"
        )).all()
        keys = []
    for table, name, _ in reversed(keys):
        session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    for name, _ in indexes:
        session.execute(text(f"DROP INDEX {name}"))
    yield
    if keys:
        # Bigger sorts in memory for the index builds of this transaction only.
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    foreign = [key for key in keys if key[2].startswith("FOREIGN KEY")]
    for table, name, definition in (key for key in keys if key not in foreign):
        session.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    for _, definition in indexes:
        session.execute(text(definition))
    for table, name, definition in foreign:
        session.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))


def generate(
    session: Session,
    site_id: int,
    hits: int,
    days: int,
    *,
    seed: int = 0,
    end: date | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Add ``hits`` hits of synthetic traffic to a site over ``days`` days, then rebuild its summaries.

    Runs in ``session``'s transaction (the caller commits). Visit ids are given here, so
    that hits can name theirs: on PostgreSQL they are taken from the sequence while the two
    raw tables are locked against other writers (against readers too while their indexes are
    rebuilt, for a load into empty tables); on SQLite they follow the highest id, and a
    writer committing in between makes this transaction fail rather than collide.
    """
    check_copy_safe()
    site = session.get(Site, site_id)
    if site is None:
        raise LookupError(f"no site with id {site_id}")
    now = now or utcnow()
    end = end or to_local(now, site.timezone).date()
    calendar = days_ending(end, days, site.timezone, now)
    if not any(day.seconds for day in calendar):
        raise ValueError("every day of the period lies in the future")
    postgresql = session.get_bind().dialect.name == "postgresql"
    rows: Rows = CopyRows() if postgresql else ParameterRows()
    generator = Generator(site, rows, seed)

    started = time.perf_counter()
    sequence = "pg_get_serial_sequence('visits', 'id')"
    if postgresql:
        session.execute(text(f"LOCK TABLE {', '.join(RAW_TABLES)} IN SHARE ROW EXCLUSIVE MODE"))
        generator.next_visit_id = session.scalar(text(f"SELECT nextval({sequence})"))
    else:
        generator.next_visit_id = (session.scalar(select(func.max(Visit.id))) or 0) + 1
    empty = all(session.scalar(text(f"SELECT 1 FROM {table} LIMIT 1")) is None for table in RAW_TABLES)
    with deferred_indexes(session) if empty else nullcontext():
        with Loader(rows, session.connection().connection.driver_connection, progress) as loader:
            for day, budget in zip(calendar, daily_budgets(hits, calendar, generator.rng), strict=True):
                generator.day(day, budget, loader.send)
            loader.send()
            loader.wait()
        loaded = time.perf_counter()
    if postgresql:
        if generator.result.visits:
            session.execute(text(f"SELECT setval({sequence}, :last)"), {"last": generator.next_visit_id - 1})
        # The planner knows nothing yet of the rows just loaded; the rebuild scans them all.
        session.execute(text("ANALYZE visits"))
        session.execute(text("ANALYZE hits"))
    result = generator.result
    result.load_seconds = time.perf_counter() - started
    result.index_seconds = time.perf_counter() - loaded

    started = time.perf_counter()
    rebuild(session, site_id)
    result.rebuild_seconds = time.perf_counter() - started
    return result


# -- the command --------------------------------------------------------------------------


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
    settings = apply_environment(dict(get_appsettings(args.config_uri)))
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
