"""Goals: what a site counts as a conversion.

A goal is a page goal (``kind = "page"``: a page view whose path matches ``pattern``) or an
event goal (``kind = "event"``: a custom event named ``event``, optionally only with the
property ``prop_key`` set to ``prop_value``). An event goal may count revenue in one currency
(``currency``, ISO 4217). Goals are never stored into hits: whether a hit converts is
computed from the rules (:mod:`tracking.goals`), so a new goal applies to the hits already
stored. Each goal's daily numbers are also kept in summary rows (``goal_stats``,
:mod:`tracking.summaries.goals`), which are right only for the rules they were computed with:
``rules_version`` counts the changes of the rules, ``summarized_version`` is the version the
summary rows were last recomputed for (0: never), and the reports read the rows only while the
two are equal.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .types import utcnow


class Goal(Base):
    __tablename__ = "goals"
    # Ids are never reused: a bookmarked ``?goal=<id>`` never names another goal later.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    #: What the dashboard calls it.
    name: Mapped[str] = mapped_column(String(100))
    #: ``page`` or ``event``.
    kind: Mapped[str] = mapped_column(String(8))
    #: A page goal's path pattern (``/blog/*``, ``/docs/**``); "" for an event goal.
    pattern: Mapped[str] = mapped_column(String(1024), default="")
    #: An event goal's event name; "" for a page goal.
    event: Mapped[str] = mapped_column(String(64), default="")
    #: An event goal's property and its value ("" for none).
    prop_key: Mapped[str] = mapped_column(String(64), default="")
    prop_value: Mapped[str] = mapped_column(String(256), default="")
    #: The ISO 4217 code of an event goal's revenue; ``None``: no revenue.
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: 1, then one more at each change of the rules (kind, pattern, event, property, currency).
    rules_version: Mapped[int] = mapped_column(default=1, server_default="1")
    #: The ``rules_version`` the goal's summary rows were recomputed for; 0: not yet.
    summarized_version: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<Goal {self.id} {self.name!r} of site {self.site_id}>"
