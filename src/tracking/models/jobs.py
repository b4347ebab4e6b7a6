"""Jobs: heavy work on a site's data, queued by a request and run by the hit writer.

Four kinds: ``rebuild`` re-dates a site's visits and hits in its new time zone and recomputes
its summaries; ``goals`` recomputes the summary rows of a site's goals after a goal was added
or its rules changed; ``segments`` recomputes a site's summaries in place (queued by the
upgrade that added the segments' summaries, for the sites that had data); ``values`` chooses
the common values of a site's dimensions with many values and counts the new ones' rows
(queued by the writer once a day per site: :mod:`tracking.summaries.segments`).
:mod:`tracking.summaries.jobs` has the rules: claiming, retries, replacing a pending job. The
row is the job's whole story, shown to the site's owner.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import utcnow

#: What a job does.
KINDS = ("rebuild", "goals", "segments", "values")
#: ``pending`` (waiting to run, or to run again after a failed attempt), ``running``,
#: ``done``, ``failed`` (no attempt left).
STATES = ("pending", "running", "done", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(kind) for kind in KINDS)})", name="kind"),
        CheckConstraint(f"state IN ({', '.join(repr(state) for state in STATES)})", name="state"),
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_site_id", "site_id"),
        # Ids are never reused: a job named in a log is that job.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: ``rebuild``: the time zone the change asked for.
    payload: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the latest attempt began (naive UTC).
    started_at: Mapped[datetime | None]
    #: When the latest attempt ended, done or failed.
    finished_at: Mapped[datetime | None]
    #: Why the latest attempt failed (one line), for the owner; ``None`` once one succeeded.
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} of site {self.site_id}: {self.state}>"
