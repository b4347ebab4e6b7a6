"""Engagement: what Plausible's tracker measures of a page view after it was sent — the time the
page was visible and focused, and how far it was scrolled.

An :class:`Engagement` is one such measurement, as it arrived: a measurement of a page view, not
a hit. It counts no page view, visit, visitor or event; it belongs to the visit that viewed the
page (``visit_id``) and keeps that visit going (see :mod:`tracking.ingest.visits`). No personal
data: a page, an instant, two numbers.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import BigIntPK


class Engagement(Base):
    __tablename__ = "engagements"
    __table_args__ = (
        # The details of the pages read a period's measurements of a site.
        Index("ix_engagements_site_id_ts", "site_id", "ts"),
        Index("ix_engagements_visit_id", "visit_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: The visit that viewed the page (``visits.id``).
    visit_id: Mapped[int] = mapped_column(BigInteger)
    #: When the measurement arrived (naive UTC): the page was left, hidden or blurred then.
    ts: Mapped[datetime]
    #: The page's path, as a page view's.
    path: Mapped[str] = mapped_column(String(1024))
    #: Milliseconds the page was visible and focused since the previous measurement of the same
    #: page view (the tracker sends the time since its last report): they add up.
    engaged_ms: Mapped[int] = mapped_column(Integer)
    #: The deepest point scrolled so far, in percent of the page's height (0–100); ``None``:
    #: not measured.
    scroll_depth: Mapped[int | None] = mapped_column(SmallInteger)
