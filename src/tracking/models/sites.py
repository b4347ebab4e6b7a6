"""Sites: what an owner tracks."""

from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .types import utcnow

if TYPE_CHECKING:
    from .accounts import User
    from .members import SiteMember
    from .summaries import SegmentValue


class Site(Base):
    __tablename__ = "sites"
    # Ids are never reused (see User): a new site never inherits a deleted one's id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: Normalised base URL: ``scheme://host[:port]``, no path, query or fragment.
    url: Mapped[str] = mapped_column(String(300))
    #: IANA time zone the reports use for days and hours.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: Drop hits sent with ``DNT: 1``.
    honor_dnt: Mapped[bool] = mapped_column(default=True)
    #: Drop hits sent with ``Sec-GPC: 1`` (Global Privacy Control).
    honor_gpc: Mapped[bool] = mapped_column(default=True)
    #: Drop hits whose page URL is not on the site's host or one of its subdomains.
    restrict_hosts: Mapped[bool] = mapped_column(default=True)
    #: The id Umami's tracker sends (``data-website-id``): hits sent to ``/api/send`` with it
    #: are this site's (:mod:`tracking.views.dropins`).
    umami_website_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Whether ``segment_stats`` holds all of the site's data: a site created since it exists
    #: does from its first hit; an older one once a rebuild counted its past
    #: (:func:`tracking.summaries.rebuild.rebuild`). Until then filtered dashboards read the
    #: raw rows.
    segmented: Mapped[bool] = mapped_column(default=True, server_default=false())
    #: The day the writer last chose the site's common values with rows of their own
    #: (:class:`~tracking.models.summaries.SegmentValue`, :mod:`tracking.summaries.segments`).
    values_chosen_on: Mapped[date | None]
    #: Those values (read by the reports' planner).
    segment_values: Mapped[list["SegmentValue"]] = relationship(
        viewonly=True, order_by="(SegmentValue.segment, SegmentValue.value)"
    )

    owner: Mapped["User"] = relationship(back_populates="sites")
    #: Everyone else with access, with their roles (:mod:`tracking.models.members`).
    members: Mapped[list["SiteMember"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="SiteMember.id"
    )

    @property
    def domain(self) -> str:
        """The host part of :attr:`url`, lower-case, without port."""
        return urlsplit(self.url).hostname or ""

    def __repr__(self) -> str:
        return f"<Site {self.id} {self.url}>"
