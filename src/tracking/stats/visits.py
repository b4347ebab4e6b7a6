"""The raw visit log of a site: newest first, one page at a time."""

from datetime import date

from sqlalchemy import select

from ..models import Hit
from .periods import day_bounds

KINDS = ("all", "people", "bots")


def visit_log(
    dbsession,
    site_id: int,
    timezone: str,
    *,
    day: date | None = None,
    kind: str = "all",
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[Hit], int | None]:
    """Up to ``limit`` visits, newest first, and the id to continue from (``None`` at the end).

    Pages are keyed by id (``before``), so a page stays stable while new hits arrive.
    """
    query = select(Hit).where(Hit.site_id == site_id)
    if day is not None:
        start, end = day_bounds(day, timezone)
        query = query.where(Hit.ts >= start, Hit.ts < end)
    if kind == "people":
        query = query.where(Hit.bot == "")
    elif kind == "bots":
        query = query.where(Hit.bot != "")
    if before is not None:
        query = query.where(Hit.id < before)
    rows = list(dbsession.scalars(query.order_by(Hit.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)
