"""What the synthetic traffic is made of: pages and their popularity, visits' lengths and gaps,
arrivals (referrers, UTM campaigns), places, user agents, events, and the weighted choices
(:class:`Weighted`) the generator draws them with."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ...ingest.enrich import detect_bot, parse_agent

T = TypeVar("T")


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
