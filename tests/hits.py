"""Hits built by the real pipeline, for tests of the store and the reports."""

import json
from datetime import datetime, timedelta

from tracking.ingest.enrich import GeoLocator
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import EnrichedHit, Pipeline
from tracking.ingest.sites import SiteInfo

PIPELINE = Pipeline(GeoLocator())
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def make_hit(
    site,
    at: datetime,
    path: str = "/",
    *,
    event: str = "pageview",
    ip: str = "198.51.100.1",
    ua: str = CHROME,
    referrer: str = "",
    props: dict | None = None,
    revenue: dict | None = None,
) -> EnrichedHit:
    """A hit on ``site`` (a ``Site`` row whose url is https://example.com) at naive-UTC ``at``."""
    info = SiteInfo(site.id, site.owner_id, "example.com", site.timezone, True, True, True)
    fields = {"url": "https://example.com" + path, "event": event, "referrer": referrer}
    if props:
        fields["props"] = json.dumps(props)
    if revenue:
        fields["revenue"] = json.dumps(revenue)
    return PIPELINE.process(info, parse(fields), ip=ip, user_agent=ua, dnt=False, gpc=False, now=at)


def summaries(dbsession, site_id: int) -> tuple[dict, dict]:
    """The site's summary rows, daily and hourly; rows that cancelled out to zero count as absent."""
    from sqlalchemy import select

    from tracking.models import DailyStat, HourlyStat

    dbsession.flush()
    daily = {
        (r.dim, r.day, r.value): (r.visitors, r.visits, r.pageviews, r.bounces, r.duration, r.events)
        for r in dbsession.scalars(select(DailyStat).where(DailyStat.site_id == site_id))
    }
    hourly = {
        r.hour: (r.visitors, r.visits, r.pageviews)
        for r in dbsession.scalars(select(HourlyStat).where(HourlyStat.site_id == site_id))
    }
    return ({k: v for k, v in daily.items() if any(v)}, {k: v for k, v in hourly.items() if any(v)})


def segment_summaries(dbsession, site_id: int) -> dict:
    """The site's ``segment_stats`` rows; rows that cancelled out to zero count as absent."""
    from sqlalchemy import select

    from tracking.models import SegmentStat

    dbsession.flush()
    rows = {
        (r.segment, r.segment_value, r.dim, r.day, r.value): (r.visitors, r.visits, r.pageviews, r.bounces, r.duration, r.events)
        for r in dbsession.scalars(select(SegmentStat).where(SegmentStat.site_id == site_id))
    }
    return {k: v for k, v in rows.items() if any(v)}


def three_days_of_traffic(dbsession, site, start: datetime) -> None:
    """Store 40 visitors' visits from ``start`` on, two hours apart (three days): visits to 7 pages
    of falling popularity, from three sources, a third from a phone, with sign-ups and links out."""
    from tracking.ingest.store import Store

    hits = []
    for n in range(40):
        at = start + timedelta(hours=n * 2)
        ip = f"198.51.100.{n % 13}"
        ua = {"ua": IPHONE} if n % 3 == 0 else {}
        referrer = ("", "https://www.google.com/", "https://t.co/x")[n % 3]
        for page in range(n % 7 + 1):
            hits.append(make_hit(site, at + timedelta(minutes=page), f"/p{page}", ip=ip, referrer=referrer if not page else "", **ua))
        if n % 4 == 0:
            hits.append(make_hit(site, at + timedelta(minutes=9), "/p0", ip=ip, event="signup", props={"plan": str(n % 3)}, **ua))
        if n % 5 == 0:
            hits.append(make_hit(site, at + timedelta(minutes=10), "/p0", ip=ip, event="outbound", **ua))
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
