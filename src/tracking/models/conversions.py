"""Funnels and A/B experiments: what a site measures on its goals.

A :class:`Funnel` is 2 to 8 ordered steps (:class:`FunnelStep`), each a goal of the site. An
:class:`Experiment` compares the variants of one experiment key (the tracker's
``tracking.variant(key, variant)`` labels hits with the property ``experiment:<key>``) on one
goal, against a control variant. Both are read rules, like goals: their numbers are computed
from the stored hits when the reports ask (:mod:`tracking.reports.funnels`,
:mod:`tracking.reports.exposures`).

Deleting a goal is :func:`tracking.conversions.delete_goal`'s: a funnel loses its steps on the goal
(the others keep their order), a funnel that would keep fewer than 2 steps is deleted, and so is
an experiment measured on the goal — each named to the owner first. The foreign keys' ``ON DELETE
CASCADE`` is only the database's backstop (a goal deleted another way leaves no dangling step).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base
from .types import utcnow


class Funnel(Base):
    __tablename__ = "funnels"
    # Ids are never reused: a bookmarked funnel's address never shows another funnel later.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The definition its ``funnel_visits`` rows were counted for (:func:`tracking.goals.funnel_definition`:
    #: its steps' goals and their rules' versions), or ``None``: the rows are read only while it
    #: is the funnel's present one.
    summarized_key: Mapped[str | None] = mapped_column(String(200))

    steps: Mapped[list[FunnelStep]] = relationship(
        order_by="FunnelStep.position", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
    )

    @property
    def goal_ids(self) -> list[int]:
        return [step.goal_id for step in self.steps]

    def __repr__(self) -> str:
        return f"<Funnel {self.id} {self.name!r} of site {self.site_id}>"


class FunnelStep(Base):
    __tablename__ = "funnel_steps"

    funnel_id: Mapped[int] = mapped_column(ForeignKey("funnels.id", ondelete="CASCADE"), primary_key=True)
    #: 0, 1, 2...: the step's place in its funnel.
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)


class Experiment(Base):
    __tablename__ = "experiments"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: What the pages pass to ``tracking.variant(key, ...)``: hits carry ``experiment:<key>``.
    key: Mapped[str] = mapped_column(String(53))
    #: The variant the others are compared with.
    control: Mapped[str] = mapped_column(String(256))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def prop(self) -> str:
        """The property the tracker sets on every hit of an exposed page."""
        return f"experiment:{self.key}"

    def __repr__(self) -> str:
        return f"<Experiment {self.id} {self.name!r} of site {self.site_id}>"
