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
