"""The reports' summary tables: per site and local day (``daily_stats``) and per UTC hour
(``hourly_stats``), kept in step with the hits and visits by the writer (:mod:`tracking.summaries`)."""

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, PrimaryKeyConstraint, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import utcnow


class Counts:
    """The counts of a summary row (:data:`tracking.summaries.dimensions.COUNT_FIELDS`), shared
    by ``daily_stats`` and ``segment_stats``."""

    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    pageviews: Mapped[int] = mapped_column(BigInteger, default=0)
    bounces: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyStat(Counts, Base):
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


class SegmentStat(Counts, Base):
    """The rows of ``daily_stats`` again, for the visits of one value of a segment dimension
    (:data:`tracking.summaries.dimensions.SEGMENTS`, or a site's :class:`SegmentValue`):
    ``segment`` is the dimension, ``segment_value`` its value (``country``, ``DE``). The visits
    of that value contribute to them exactly as all visits do to ``daily_stats``, and their hits
    likewise (the hits of a visit from Germany to the page rows of ``country``, ``DE``). Bots
    have no visit and no rows here."""

    __tablename__ = "segment_stats"
    __table_args__ = (PrimaryKeyConstraint("site_id", "segment", "segment_value", "dim", "day", "value"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(16))
    segment_value: Mapped[str] = mapped_column(String(1024))
    dim: Mapped[str] = mapped_column(String(16))
    day: Mapped[date]
    value: Mapped[str] = mapped_column(String(1024))


class SegmentValue(Base):
    """One value of a site's dimension with many values (:data:`tracking.summaries.dimensions.TOP_SEGMENTS`:
    a referrer, a UTM parameter, a region, a city, an entry page) whose visits have their own
    ``segment_stats`` rows, as every country has: a value common enough on the site to be
    filtered by often (:mod:`tracking.summaries.segments` chooses them). A row exists only once
    the value's rows hold all of the site's data: written in the transaction that counted them,
    kept up by the hit writer from then on."""

    __tablename__ = "segment_values"
    __table_args__ = (PrimaryKeyConstraint("site_id", "segment", "value"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    segment: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(1024))
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class GoalVisit(Base):
    """A visit that converted on a goal (one of its hits did): what puts it in the goal's
    segment rows (``segment_stats`` with ``segment`` ``goal``, ``segment_value`` the goal's id),
    which a dashboard filtered by the goal reads, and what a goal filter on the raw rows finds
    its visits by, and what the goals panel counts under a filter (the converting visitors and
    conversions of the matching visits). ``day`` is the visit's, ``visitor`` its visitor's: the
    first visit of a visitor and day to convert counts the visitor (:mod:`tracking.summaries.goals`).
    Kept by the writer and recomputed with the goal's other rows when its rules change."""

    __tablename__ = "goal_visits"
    __table_args__ = (
        PrimaryKeyConstraint("site_id", "goal_id", "day", "visitor", "visit_id"),
        # The writer reads the goals of the visits a batch continues.
        Index("ix_goal_visits_visit_id", "visit_id"),
    )

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    visitor: Mapped[int] = mapped_column(BigInteger)
    visit_id: Mapped[int] = mapped_column(BigInteger)
    #: Its hits that converted on the goal.
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)


class GoalPair(Base):
    """Per goal, day and second goal: the visitors with a visit of that day that converted on
    both, and the second goal's conversions in the visits that converted on the first. What the
    goals panel shows under a filter by the first goal (``goal_id``), without reading its list of
    converted visits against every other goal's. Kept by the writer
    (:class:`tracking.summaries.goals.GoalDelta`) and recomputed with the goals' other rows."""

    __tablename__ = "goal_pairs"
    __table_args__ = (PrimaryKeyConstraint("site_id", "goal_id", "day", "paired_id"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    #: The second goal.
    paired_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)


class GoalPairVisitor(Base):
    """A visitor who converted on two goals in one visit of a local day: what makes
    ``goal_pairs.visitors`` a count of distinct visitors, as ``goal_visitors`` does for
    ``goal_stats`` (once for both orders of the pair: ``goal_id`` the lower); kept for the last
    few days only, like them."""

    __tablename__ = "goal_pair_visitors"
    __table_args__ = (PrimaryKeyConstraint("site_id", "goal_id", "paired_id", "day", "visitor"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    paired_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    day: Mapped[date]
    visitor: Mapped[int] = mapped_column(BigInteger)


class FunnelVisit(Base):
    """How far one visit went in a funnel: what the funnel report counts, kept by the hit writer
    and recomputed from the raw rows when the funnel or one of its goals changes
    (:mod:`tracking.summaries.funnels`); read only while the funnel's ``summarized_key`` is its
    present definition.

    A row for each visit of the funnel's site with a hit that converts on one of its steps:
    ``passed``, the steps it passed in order (0: none, its hits were of later steps: such rows
    are kept for the last few days only, while a hit of the visit may still come);
    ``seen_at``, the time of the latest such hit the row has counted (a later hit continues the
    walk; an earlier one, arriving late, has the visit walked again from its stored hits).
    ``day`` and ``visitor`` are the visit's. Rows of a deleted visit are deleted with it by
    whatever deletes visits (retention, erasure)."""

    __tablename__ = "funnel_visits"
    __table_args__ = (PrimaryKeyConstraint("funnel_id", "day", "visit_id"),)

    funnel_id: Mapped[int] = mapped_column(ForeignKey("funnels.id", ondelete="CASCADE"))
    day: Mapped[date]
    visit_id: Mapped[int] = mapped_column(BigInteger)
    visitor: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[int] = mapped_column(SmallInteger)
    seen_at: Mapped[datetime]


class FunnelStat(Base):
    """A funnel's visitors on one local day (of their visits), by the most steps one of their
    visits of that day passed (``passed`` ≥ 1): the funnel report without filters adds up the
    days. Kept by the writer with :class:`FunnelVisitor` (a visitor moves from one ``passed`` to
    a higher one), recomputed with the funnel's rows (:mod:`tracking.summaries.funnels`)."""

    __tablename__ = "funnel_stats"
    __table_args__ = (PrimaryKeyConstraint("funnel_id", "day", "passed"),)

    funnel_id: Mapped[int] = mapped_column(ForeignKey("funnels.id", ondelete="CASCADE"))
    day: Mapped[date]
    passed: Mapped[int] = mapped_column(SmallInteger)
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)


class FunnelVisitor(Base):
    """The most steps of a funnel one of a visitor's visits of a local day passed: what moves
    the visitor in ``funnel_stats`` when a visit goes further. Kept for the last few days only,
    as ``goal_visitors`` (visitor ids are daily: no later hit can meet an older row)."""

    __tablename__ = "funnel_visitors"
    __table_args__ = (PrimaryKeyConstraint("funnel_id", "day", "visitor"),)

    funnel_id: Mapped[int] = mapped_column(ForeignKey("funnels.id", ondelete="CASCADE"))
    day: Mapped[date]
    visitor: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[int] = mapped_column(SmallInteger)
