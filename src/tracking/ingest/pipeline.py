"""From a validated :class:`~.hit.RawHit` to an :class:`EnrichedHit` ready to store: filter, then enrich.

Filters, in order (the first that applies wins; the beacon reports it in ``X-Tracking-Ignored``):

``dnt`` / ``gpc``
    the visitor sent ``DNT: 1`` / ``Sec-GPC: 1`` and the site honours it (the default): nothing
    is stored.
``foreign-host``
    the page is not on the site's host or one of its sub-domains and the site restricts hosts
    (the default): nothing is stored.
``bot``
    a crawler, a headless browser, a script: stored with its reason (the bots page lists it),
    never counted in any report.

Enrichment: page host/path/query and UTM tags, referrer host and source class, browser, OS and
device class, country and autonomous system organisation (and region/city with a city
database), and the visitor key. The raw
IP address and user agent are not kept: the visitor key is a digest of (site, IP, user agent)
keyed with a key derived from the server secret (:class:`~.enrich.VisitorKeys`), the only trace
of them that reaches the writer process or a spool file; the store turns it into the day's
salted visitor id. The IP is stored only as ``tracking.store_ip`` allows.
"""

import secrets
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from zope.interface import implementer

from ..interfaces import IHitPipeline
from ..timezones import LocalDays
from . import enrich
from .hit import RawHit
from .sites import SiteInfo

MAX_USER_AGENT = 512


class Ignored(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnrichedHit(NamedTuple):
    """A hit as the beacon hands it to the store: filtered and enriched, its visitor still a key
    (the store salts it into the day's visitor id and finds the hit's visit).

    A tuple: handed to the writer process as one (``tuple(hit)``, pickled), where taking its
    fields one by one cost more than the pickling itself; nothing changes a hit once made
    (``_replace`` makes another)."""

    site_id: int
    ts: datetime
    #: ``ts`` as a day in the site's time zone.
    day: date
    visitor_key: bytes
    event: str
    host: str
    path: str
    query: str
    referrer: str
    ref_host: str
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    country: str
    region: str
    city: str
    postal: str
    latitude: float | None
    longitude: float | None
    as_org: str
    browser: str
    browser_version: str
    os: str
    device: str
    width: int | None
    bot: str
    ip: str | None
    props: dict[str, str] | None
    #: Set for an engagement only (Plausible's tracker, :mod:`tracking.views.dropins`): a
    #: measurement of a page view at ``path``, not a hit (the store keeps it apart: see
    #: :func:`~.visits.record_engagements`) — the milliseconds the page was engaged since the
    #: previous measurement, and the scroll depth in percent (``None``: not measured).
    engaged_ms: int | None = None
    scroll_depth: int | None = None
    #: A custom event's revenue: the amount's decimal text and its currency (or both ``None``).
    revenue_amount: str | None = None
    revenue_currency: str | None = None


@implementer(IHitPipeline)
class Pipeline:
    def __init__(
        self, geo: enrich.GeoLocator, store_ip: str = "truncated", visitor_keys: enrich.VisitorKeys | None = None
    ) -> None:
        """``visitor_keys``: the server's (see :func:`tracking.ingest.includeme`); without them
        (tests, tools), keys under a random secret of this pipeline, which agree with no other's."""
        self.geo = geo
        self.store_ip = store_ip
        self.visitor_key = visitor_keys or enrich.VisitorKeys(secrets.token_urlsafe(32))
        self.local_day = LocalDays()

    def warm_up(self) -> None:
        """Load the user-agent parser, the bot lists and the network tables now: each loads on
        first use otherwise, and the first hits would wait for it (the server calls this before
        it serves; a command that never sees a hit never pays for it)."""
        enrich.warm_up()
        self.geo.warm_up()

    def process(
        self,
        site: SiteInfo,
        raw: RawHit,
        *,
        ip: str,
        user_agent: str,
        dnt: bool,
        gpc: bool,
        now: datetime,
    ) -> EnrichedHit:
        """The enriched hit, or :class:`Ignored` when it must not be stored."""
        if dnt and site.honor_dnt:
            raise Ignored("dnt")
        if gpc and site.honor_gpc:
            raise Ignored("gpc")
        page = raw.page
        if site.restrict_hosts and not enrich.host_matches(page.host, site.domain):
            raise Ignored("foreign-host")

        user_agent = user_agent[:MAX_USER_AGENT]
        browser, browser_version, os, device, bot = _agent(user_agent)
        ref_host, source = enrich.classify_source(raw.referrer, page.host, page.utm_source, page.utm_medium)
        geo = self.geo.lookup(ip)
        # Positional, in the fields' order: a hit is made thousands of times a second.
        return EnrichedHit(
            site.id,
            now,
            self.local_day(now, site.timezone),
            self.visitor_key(site.id, ip, user_agent),
            raw.event,
            page.host,
            page.path,
            page.query,
            _referrer(raw.referrer),
            ref_host,
            source,
            page.utm_source,
            page.utm_medium,
            page.utm_campaign,
            page.utm_term,
            page.utm_content,
            geo.country,
            geo.region[:128],
            geo.city[:128],
            geo.postal[:16],
            geo.latitude,
            geo.longitude,
            geo.as_org,  # bounded by the locator (enrich.AS_ORG_LIMIT)
            browser,
            browser_version,
            os,
            device,
            raw.width,
            bot,
            enrich.truncate_ip(ip, self.store_ip),
            raw.props,
            revenue_amount=raw.revenue[0] if raw.revenue else None,
            revenue_currency=raw.revenue[1] if raw.revenue else None,
        )


# What the hit's user agent and referrer give, cached: the same few come back hit after hit
# (keys bounded: the user agent is cut to MAX_USER_AGENT, a referrer is at most 2048 characters).
@lru_cache(maxsize=4096)
def _agent(user_agent: str) -> tuple[str, str, str, str, str]:
    """Browser, its version, OS, device class and bot reason ("" for a person's browser)."""
    agent = enrich.parse_agent(user_agent)
    bot = enrich.detect_bot(user_agent) or ("crawler" if agent.device == "bot" else "")
    return agent.browser[:64], agent.browser_version[:16], agent.os[:64], "bot" if bot else agent.device, bot


@lru_cache(maxsize=1024)
def _referrer(referrer: str) -> str:
    return enrich.clean_text(referrer, 1024)
