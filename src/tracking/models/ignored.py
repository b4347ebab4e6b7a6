"""Hits the beacon ignored, counted per site and reason, so that an owner can learn why nothing
shows (a page on ``localhost``, a browser that sends Do Not Track...).

No personal data: a reason, a count, when the last one came, and for a page on another host
that host's name (as the page's address gave it).
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base


class IgnoredHits(Base):
    __tablename__ = "ignored_hits"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    #: The beacon's ``X-Tracking-Ignored``: ``dnt``, ``gpc`` or ``foreign-host``.
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: When the last one came (naive UTC).
    last_seen: Mapped[datetime]
    #: ``foreign-host``: the host of the last such page; "" otherwise.
    last_host: Mapped[str] = mapped_column(String(253), default="")
