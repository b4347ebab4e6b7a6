"""The goals panel: per goal, its converting visitors, conversions, conversion rate and revenue,
from the raw rows of the query's period and filters (and of the period before).

Counting rules (:mod:`tracking.goals` says which hits convert):

* **converting visitors**: the distinct visitors with a visit of the period that matches the
  filters and converted (visitor ids are daily, so over several days a sum of daily visitors,
  as everywhere in the reports);
* **conversions**: the converting hits of those visits;
* **conversion rate**: converting visitors / the visitors of the period and filters, in percent;
* **revenue**: the sum of the conversions' amounts in the goal's currency, and its average per
  conversion that carries one; amounts in other currencies are summed apart, per currency, never
  converted.

Two statements per period whatever the number of goals (one ``UNION ALL`` branch per goal):
the converted visits' visitors, then their converting hits by currency. Read only.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, literal, select, union_all

from ..goals import GoalSpec, hit_converts, visit_converts
from ..models import Hit, Visit
from .periods import Period
from .query import StatsQuery
from .raw_runner import matching


@dataclass
class GoalNumbers:
    """One goal's numbers for one period."""

    visitors: int = 0
    conversions: int = 0
    #: Currency → (the sum of the amounts, the conversions that carried one).
    revenue: dict[str, tuple[Decimal, int]] = field(default_factory=dict)


@dataclass
class GoalRow:
    """A row of the goals panel: the goal, its numbers now and in the period before."""

    goal: GoalSpec
    now: GoalNumbers
    before: GoalNumbers | None
    visitors_total: int
    visitors_before: int

    @property
    def rate(self) -> float | None:
        return 100 * self.now.visitors / self.visitors_total if self.visitors_total else None

    @property
    def rate_before(self) -> float | None:
        if self.before is None or not self.visitors_before:
            return None
        return 100 * self.before.visitors / self.visitors_before

    def revenue(self, numbers: GoalNumbers | None = None) -> Decimal | None:
        """The revenue in the goal's currency (``None``: the goal counts none)."""
        numbers = self.now if numbers is None else numbers
        if not self.goal.currency:
            return None
        return numbers.revenue.get(self.goal.currency, (Decimal(0), 0))[0]

    def average(self, numbers: GoalNumbers | None = None) -> Decimal | None:
        """The average revenue per conversion that carried one, in the goal's currency."""
        numbers = self.now if numbers is None else numbers
        if not self.goal.currency:
            return None
        total, count = numbers.revenue.get(self.goal.currency, (Decimal(0), 0))
        return (total / count).quantize(Decimal("0.0001")) if count else None

    @property
    def other_currencies(self) -> list[tuple[str, Decimal]]:
        """Revenue of the conversions in other currencies than the goal's: shown apart."""
        return sorted((currency, total) for currency, (total, _) in self.now.revenue.items()
                      if currency != self.goal.currency)


def goal_numbers(db, query: StatsQuery, period: Period, goals: list[GoalSpec]) -> list[GoalNumbers]:
    """Each goal's numbers for ``period`` under ``query``'s filters, in the order of ``goals``."""
    found = [GoalNumbers() for _ in goals]
    if not goals:
        return found
    where = matching(query.site, period, query.filters)
    v = Visit.__table__
    h = Hit.__table__
    people = union_all(*(
        select(literal(index).label("goal"), func.count(func.distinct(v.c.visitor)).label("visitors"))
        .where(*where, visit_converts(goal, v, h))
        for index, goal in enumerate(goals)
    ))
    for index, visitors in db.execute(people):
        found[index].visitors = int(visitors)
    converted = [
        select(literal(index).label("goal"), h.c.revenue_currency, func.count().label("conversions"),
               func.sum(h.c.revenue_amount).label("amount"), func.count(h.c.revenue_amount).label("priced"))
        .where(h.c.visit_id.in_(select(v.c.id).where(*where, visit_converts(goal, v, h))), hit_converts(goal, h))
        .group_by(h.c.revenue_currency)
        for index, goal in enumerate(goals)
    ]
    for index, currency, conversions, amount, priced in db.execute(union_all(*converted)):
        numbers = found[index]
        numbers.conversions += int(conversions)
        if currency is not None:
            numbers.revenue[currency] = (amount if isinstance(amount, Decimal) else Decimal(amount), int(priced))
    return found


def goal_rows(db, query: StatsQuery, goals: list[GoalSpec], visitors_total: int, visitors_before: int) -> list[GoalRow]:
    """The goals panel's rows (with the period before when ``query.compare``)."""
    now = goal_numbers(db, query, query.period, goals)
    before = goal_numbers(db, query, query.period.previous(), goals) if query.compare else [None] * len(goals)
    return [GoalRow(goal, n, b, visitors_total, visitors_before) for goal, n, b in zip(goals, now, before, strict=True)]
