"""What the beacon stores: hits (``Visit``), the sessions they form, and the daily salts.

A ``Visit`` is one hit: a page view or a custom event, as in the original tracking app.
A ``VisitSession`` groups the hits of one visitor that are less than 30 minutes apart;
the reports count "visits" as sessions.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import BigIntPK, utcnow


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_site_id_ts", "site_id", "ts"),
        Index("ix_visits_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: When the hit arrived (naive UTC).
    ts: Mapped[datetime]
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
    props: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def is_bot(self) -> bool:
        return bool(self.bot)


class VisitSession(Base):
    __tablename__ = "visit_sessions"
    __table_args__ = (
        Index("ix_visit_sessions_site_id_visitor_ended_at", "site_id", "visitor", "ended_at"),
        Index("ix_visit_sessions_site_id_started_at", "site_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    visitor: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    entry_path: Mapped[str] = mapped_column(String(1024), default="/")
    exit_path: Mapped[str] = mapped_column(String(1024), default="/")
    pageviews: Mapped[int] = mapped_column(default=0)
    events: Mapped[int] = mapped_column(default=0)

    @property
    def duration(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

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
