"""What the beacon stores: hits, the visits they form, and the daily salts.

A :class:`Hit` is one page view or custom event sent to the beacon. A :class:`Visit` is a
visitor's hits less than 30 minutes apart (``hits.visit_id``); bot hits belong to no visit.
A visitor is one person on one day: the daily salted id in ``visitor``.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    delete,
    event,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..pathglob import LIST_SEPARATOR
from .meta import Base
from .sites import Site
from .types import Amount, BigIntPK, utcnow


class Hit(Base):
    """One page view or custom event."""

    __tablename__ = "hits"
    __table_args__ = (
        Index("ix_hits_site_id_ts", "site_id", "ts"),
        Index("ix_hits_visit_id", "visit_id"),
        # A filtered report counts the bot hits that match its filters: through this index it
        # reads the period's bot hits only, not all of its hits. Partial, so a person's hit
        # (nearly all of them) costs the writer no entry in it.
        Index("ix_hits_site_id_ts_bots", "site_id", "ts", postgresql_where=text("bot <> ''"),
              sqlite_where=text("bot <> ''")),
        # The goals panel under a filter reads the revenue of the matching visits' conversions:
        # the period's hits that carry revenue, few.
        Index("ix_hits_site_id_ts_revenue", "site_id", "ts", postgresql_where=text("revenue_currency IS NOT NULL"),
              sqlite_where=text("revenue_currency IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    #: The site's id. Not a foreign key: checked against every hit inserted, the key cost
    #: PostgreSQL half of what storing a hit does; the writer checks a batch's sites once, and a
    #: site's hits are deleted with it (:func:`_delete_hits_of_site`).
    site_id: Mapped[int]
    #: When the hit arrived (naive UTC).
    ts: Mapped[datetime]
    #: The day of ``ts`` in the site's time zone: what the reports group by.
    day: Mapped[date]
    #: The visitor's first page view of this path (or first event of this name) that day.
    is_first: Mapped[bool] = mapped_column(default=False)
    #: Keyed hash of (salt of the day, site, IP, user agent): the same within a day only.
    visitor: Mapped[int] = mapped_column(BigInteger)
    #: The visit the hit belongs to (``visits.id``); ``None`` for bots.
    visit_id: Mapped[int | None] = mapped_column(BigInteger)
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
    #: A custom event's revenue (``revenue`` in the beacon's JSON): its amount and ISO 4217
    #: currency, both set or both ``None``. Never converted (:mod:`tracking.goals`).
    revenue_amount: Mapped[Decimal | None] = mapped_column(Amount)
    revenue_currency: Mapped[str | None] = mapped_column(String(3))


@event.listens_for(Site, "after_delete")
def _delete_hits_of_site(mapper, connection, site: Site) -> None:
    """A deleted site's hits go with it, in the same transaction, after its row.

    After, not before: on PostgreSQL the hit writer holds a key-share lock on the sites of the
    batch it writes (``tracking.ingest.store``), so the site's ``DELETE`` waits for a batch in
    progress to commit, and this statement, which sees what was committed before it began,
    deletes that batch's hits too; a batch begun after the site's ``DELETE`` waits for this
    transaction and then finds the site gone. A site is deleted through the ORM
    (``session.delete``), its owner's account deletion included (``accounts.delete_user``)."""
    connection.execute(delete(Hit).where(Hit.site_id == site.id))


#: The visits that came with a UTM parameter: those of ``ix_visits_site_id_day_utm``.
UTM_VISIT = "utm_source <> '' OR utm_medium <> '' OR utm_campaign <> ''"


class Visit(Base):
    """A visitor's hits less than 30 minutes apart: when, where from, entry and exit, counts."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_site_id_visitor_ended_at", "site_id", "visitor", "ended_at"),
        Index("ix_visits_site_id_day", "site_id", "day"),
        # Filtered dashboards read the matching visits of a period: by country, the most
        # common filter, through this index rather than every visit of the period.
        Index("ix_visits_site_id_country_day", "site_id", "country", "day"),
        # And so by the other visit dimensions whose values are too many for summaries of their
        # own (``segment_stats`` has the country's, the browser's ...); not by the exit page,
        # which changes with every page view.
        Index("ix_visits_site_id_region_day", "site_id", "region", "day"),
        Index("ix_visits_site_id_city_day", "site_id", "city", "day"),
        Index("ix_visits_site_id_ref_host_day", "site_id", "ref_host", "day"),
        Index("ix_visits_site_id_entry_path_day", "site_id", "entry_path", "day"),
        Index("ix_visits_site_id_ended_at", "site_id", "ended_at"),
        # The visits page lists a site's visits newest first.
        Index("ix_visits_site_id_started_at", "site_id", "started_at"),
        # A filter by a UTM parameter reads the period's visits that have one (a few in a
        # hundred, in most sites' traffic) rather than all of them. Partial, so a visit without
        # UTM parameters (most of them) costs the writer no entry in it.
        Index("ix_visits_site_id_day_utm", "site_id", "day", postgresql_where=text(UTM_VISIT),
              sqlite_where=text(UTM_VISIT)),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    visitor: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    #: The day the visit started, in the site's time zone.
    day: Mapped[date]
    #: The visitor's first visit that day: the one the visitor is attributed to.
    is_first: Mapped[bool] = mapped_column(default=True)
    entry_path: Mapped[str] = mapped_column(String(1024), default="/")
    exit_path: Mapped[str] = mapped_column(String(1024), default="/")
    pageviews: Mapped[int] = mapped_column(default=0)
    events: Mapped[int] = mapped_column(default=0)
    #: Whole seconds from the first to the last hit.
    duration: Mapped[int] = mapped_column(default=0)
    # What the visit's first hit said; the reports' visit panels group by these.
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
    #: The paths the visit viewed and the events it sent (:func:`listing`): a page or an event
    #: filter is then a condition on the visit itself (:func:`listed`), as a country filter is.
    pages: Mapped[str] = mapped_column(Text, default="", server_default="")
    event_names: Mapped[str] = mapped_column(Text, default="", server_default="")

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


def listing(values) -> str:
    """Distinct values, in the order given, as stored in ``visits.pages`` (``␟/␟/pricing␟``);
    ``""`` for none."""
    values = list(dict.fromkeys(values))
    return f"{LIST_SEPARATOR}{LIST_SEPARATOR.join(values)}{LIST_SEPARATOR}" if values else ""


def listed_values(text: str) -> list[str]:
    """The values of a :func:`listing`."""
    return text[1:-1].split(LIST_SEPARATOR) if text else []


class listed(FunctionElement):
    """``listed(column, value)``: whether the :func:`listing` in ``column`` holds ``value``
    (``strpos`` on PostgreSQL, ``instr`` on SQLite: exact and case-sensitive, unlike ``LIKE``
    on SQLite)."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnElement | InstrumentedAttribute, value: str) -> None:
        super().__init__(column, f"{LIST_SEPARATOR}{value}{LIST_SEPARATOR}")


@compiles(listed)
def _listed_sqlite(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)}) > 0"


@compiles(listed, "postgresql")
def _listed_postgresql(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)}) > 0"
