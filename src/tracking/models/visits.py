"""What the beacon stores: hits (``Visit``), the sessions they form, and the daily salts.

A ``Visit`` is one hit: a page view or a custom event, as in the original tracking app.
A ``VisitSession`` groups the hits of one visitor that are less than 30 minutes apart;
the reports count "visits" as sessions.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, LargeBinary, PrimaryKeyConstraint, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import BigIntPK, utcnow


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_site_id_ts", "site_id", "ts"),
        Index("ix_visits_site_id_visitor", "site_id", "visitor"),
        Index("ix_visits_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: When the hit arrived (naive UTC).
    ts: Mapped[datetime]
    #: The day of ``ts`` in the site's time zone: what the reports group by.
    day: Mapped[date]
    #: The visitor's first page view of this path (or first event of this name) that day.
    is_first: Mapped[bool] = mapped_column(default=False)
    #: Keyed hash of (salt of the day, site, IP, user agent): the same within a day only.
    visitor: Mapped[int] = mapped_column(BigInteger)
    session_id: Mapped[int | None] = mapped_column(BigInteger)
    #: ``pageview`` or a custom event name.
    event: Mapped[str] = mapped_column(String(64), default="pageview")
    host: Mapped[str] = mapped_column(String(253), default="")
    path: Mapped[str] = mapped_column(String(1024), default="/")
    query: Mapped[str] = mapped_column(String(512), default="")
    referrer: Mapped[str] = mapped_column(String(1024), default="")
    ref_host: Mapped[str] = mapped_column(String(253), default="")
    #: search, social, email, referral or direct.
    source: Mapped[str] = mapped_column(String(16), default="direct")
    utm_source: Mapped[str] = mapped_column(String(128), default="")
    utm_medium: Mapped[str] = mapped_column(String(128), default="")
    utm_campaign: Mapped[str] = mapped_column(String(128), default="")
    utm_term: Mapped[str] = mapped_column(String(128), default="")
    utm_content: Mapped[str] = mapped_column(String(128), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    region: Mapped[str] = mapped_column(String(128), default="")
    city: Mapped[str] = mapped_column(String(128), default="")
    postal: Mapped[str] = mapped_column(String(16), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: The organisation of the autonomous system announcing the address (an ISP, a host).
    as_org: Mapped[str] = mapped_column(String(96), default="", server_default="")
    browser: Mapped[str] = mapped_column(String(64), default="")
    browser_version: Mapped[str] = mapped_column(String(16), default="")
    os: Mapped[str] = mapped_column(String(64), default="")
    #: desktop, mobile, tablet, bot or other.
    device: Mapped[str] = mapped_column(String(16), default="other")
    width: Mapped[int | None] = mapped_column(SmallInteger)
    #: Why the hit was classed as a bot (``crawler``, ``headless``, ...), or "" for people.
    bot: Mapped[str] = mapped_column(String(32), default="")
    #: The client address as ``tracking.store_ip`` allows: none, truncated or full.
    ip: Mapped[str | None] = mapped_column(String(45))
    #: Custom event properties; SQL NULL (not JSON ``null``) when there are none.
    props: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    @property
    def is_bot(self) -> bool:
        return bool(self.bot)


class VisitSession(Base):
    __tablename__ = "visit_sessions"
    __table_args__ = (
        Index("ix_visit_sessions_site_id_visitor_ended_at", "site_id", "visitor", "ended_at"),
        Index("ix_visit_sessions_site_id_day", "site_id", "day"),
        # Filtered dashboards read the matching sessions of a period: by country, the most
        # common filter, through this index rather than every session of the period.
        Index("ix_visit_sessions_site_id_country_day", "site_id", "country", "day"),
        Index("ix_visit_sessions_site_id_ended_at", "site_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    visitor: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    #: The day the session started, in the site's time zone.
    day: Mapped[date]
    #: The visitor's first session that day: the one their visit is attributed to.
    is_first: Mapped[bool] = mapped_column(default=True)
    entry_path: Mapped[str] = mapped_column(String(1024), default="/")
    exit_path: Mapped[str] = mapped_column(String(1024), default="/")
    pageviews: Mapped[int] = mapped_column(default=0)
    events: Mapped[int] = mapped_column(default=0)
    #: Whole seconds from the first to the last hit.
    duration: Mapped[int] = mapped_column(default=0)
    # What the session's first hit said; the reports' session panels group by these.
    source: Mapped[str] = mapped_column(String(16), default="direct")
    ref_host: Mapped[str] = mapped_column(String(253), default="")
    utm_source: Mapped[str] = mapped_column(String(128), default="")
    utm_medium: Mapped[str] = mapped_column(String(128), default="")
    utm_campaign: Mapped[str] = mapped_column(String(128), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    region: Mapped[str] = mapped_column(String(128), default="")
    city: Mapped[str] = mapped_column(String(128), default="")
    browser: Mapped[str] = mapped_column(String(64), default="")
    os: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str] = mapped_column(String(16), default="other")

    @property
    def is_bounce(self) -> bool:
        """One page view and nothing else."""
        return self.pageviews <= 1 and self.events == 0


class DailySalt(Base):
    """The secret of one UTC day for visitor hashes; deleted after two days."""

    __tablename__ = "daily_salts"

    day: Mapped[date] = mapped_column(primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyStat(Base):
    """One row of the reports' summary: a site's day, one dimension's value, and its counts.

    ``dim`` is one of :data:`tracking.stats.dimensions.DIMENSIONS` ("" for the site totals).
    The store keeps these rows in step with the raw tables in the same transaction as the hits;
    :func:`tracking.stats.rollups.rebuild` recomputes them from the raw tables.
    """

    __tablename__ = "daily_stats"
    __table_args__ = (PrimaryKeyConstraint("site_id", "dim", "day", "value"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    dim: Mapped[str] = mapped_column(String(16))
    day: Mapped[date]
    value: Mapped[str] = mapped_column(String(1024))
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    pageviews: Mapped[int] = mapped_column(BigInteger, default=0)
    bounces: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class HourlyStat(Base):
    """A site's counts per UTC hour, for the time-series chart."""

    __tablename__ = "hourly_stats"
    __table_args__ = (PrimaryKeyConstraint("site_id", "hour"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    hour: Mapped[datetime]
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    pageviews: Mapped[int] = mapped_column(BigInteger, default=0)
