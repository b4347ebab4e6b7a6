"""The reports' summary tables: per site and local day (``daily_stats``) and per UTC hour
(``hourly_stats``), kept in step with the hits and visits by the writer (:mod:`tracking.summaries`)."""

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base


class DailyStat(Base):
    """One row of the reports' summary: a site's day, one dimension's value, and its counts.

    ``dim`` is one of :data:`tracking.summaries.dimensions.DIMENSIONS` ("" for the site totals).
    The store keeps these rows in step with the raw tables in the same transaction as the hits;
    :func:`tracking.summaries.rebuild.rebuild` recomputes them from the raw tables.
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


class GoalStat(Base):
    """A goal's conversions on one local day of a site: the day its converting visits began.

    ``visitors``: the visitors (per day: visitor ids are daily) with a visit of that day that
    converted; ``conversions``: the converting hits of those visits. Kept by the writer, batch by
    batch, and recomputed from the raw rows when the goal changes
    (:mod:`tracking.summaries.goals`); read only while the goal's ``summarized_version`` is its
    ``rules_version``.
    """

    __tablename__ = "goal_stats"
    __table_args__ = (PrimaryKeyConstraint("site_id", "goal_id", "day"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)


#: An amount in whole ten-thousandths is kept as ``high`` × SPLIT + ``low`` (``goal_revenue``).
SPLIT = 10**8


class GoalRevenue(Base):
    """An event goal's revenue on one local day (of its visits), per currency.

    The amount is kept exactly, in whole ten-thousandths split in two integers (``high`` × 10^8
    + ``low``) so that no sum of hostile amounts can overflow a 64-bit column and stop the
    writer: ``count`` is how many conversions carried an amount in that currency."""

    __tablename__ = "goal_revenue"
    __table_args__ = (PrimaryKeyConstraint("site_id", "goal_id", "day", "currency"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    high: Mapped[int] = mapped_column(BigInteger, default=0)
    low: Mapped[int] = mapped_column(BigInteger, default=0)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class GoalVisitor(Base):
    """A visitor who converted on a goal on a local day (of their visit): what makes
    ``goal_stats.visitors`` a count of distinct visitors when the writer adds to it batch by
    batch (a visitor counts once, when their row is new). Kept for the last few days only:
    visitor ids are daily, so older rows could never be met again and are deleted
    (:func:`tracking.summaries.goals.prune_visitors`)."""

    __tablename__ = "goal_visitors"
    __table_args__ = (PrimaryKeyConstraint("site_id", "goal_id", "day", "visitor"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    visitor: Mapped[int] = mapped_column(BigInteger)
