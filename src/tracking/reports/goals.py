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

Two statements per period whatever the number of goals (:func:`goal_numbers`). Read only.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import BigInteger, and_, case, func, or_, select, type_coerce

from ..goals import GoalSpec, hit_converts, visit_converts
from ..models import Hit, Visit
from ..models.types import AMOUNT_DECIMALS
from .periods import Period
from .query import StatsQuery
from .raw_runner import RawRunner, matching


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
    """Each goal's numbers for ``period`` under ``query``'s filters, in the order of ``goals``.

    Two statements whatever the number of goals: the period's matching visits are read once,
    each marked with the goals it converted on (``converted``: materialised, so that each
    condition runs once a visit); then the converted visits' visitors per goal, and their hits
    (through the hits' visit index) with each goal's conversions and revenue per currency."""
    found = [GoalNumbers() for _ in goals]
    if not goals:
        return found
    v = Visit.__table__
    h = Hit.__table__
    RawRunner(db, query).tune()  # PostgreSQL: no JIT compilation (~100 ms a statement), room to hash
    flags = [visit_converts(goal, v, h).label(f"g{index}") for index, goal in enumerate(goals)]
    marked = select(v.c.id, v.c.visitor, *flags).where(*matching(query.site, period, query.filters))
    converted = marked.cte("converted").prefix_with("MATERIALIZED")
    marks = [converted.c[f"g{index}"] for index in range(len(goals))]
    people = select(*(func.count(func.distinct(case((mark, converted.c.visitor)))) for mark in marks))
    for index, visitors in enumerate(db.execute(people).one()):
        found[index].visitors = int(visitors)
    if not any(number.visitors for number in found):
        return found
    # Revenue: event goals only (a page view carries none), so that each hit is tested once for
    # a page goal (its pattern may be a regular expression, which SQLite runs in Python).
    converts = [and_(mark, hit_converts(goal, h)) for mark, goal in zip(marks, goals, strict=True)]
    priced = [index for index, goal in enumerate(goals) if goal.kind == "event"]
    split = db.get_bind().dialect.name == "sqlite"
    hits = select(
        h.c.revenue_currency,
        *(func.coalesce(func.sum(case((condition, 1), else_=0)), 0) for condition in converts),
        *(func.count(case((converts[index], h.c.revenue_amount))) for index in priced),
        *(column for index in priced for column in _amount_sums(converts[index], h.c.revenue_amount, split)),
    ).select_from(converted.join(h, h.c.visit_id == converted.c.id)).where(or_(*marks)).group_by(h.c.revenue_currency)
    if db.get_bind().dialect.name == "postgresql":
        # The hits of the period's visits come at or after its start: a bound that lets the
        # planner hash the site's range of hits rather than look up each visit's. (SQLite would
        # then scan the marked visits once a hit: it looks up each visit's hits by their index.)
        hits = hits.where(h.c.site_id == query.site.id, h.c.ts >= period.bounds(query.site.timezone)[0])
    width = len(goals)
    for row in db.execute(hits):
        currency = row[0]
        for index, numbers in enumerate(found):
            numbers.conversions += int(row[1 + index])
        sums = row[1 + width + len(priced):]
        for at, index in enumerate(priced):
            count = int(row[1 + width + at])
            if currency is not None and count:
                found[index].revenue[currency] = (_amount(sums, at, split), count)
    return found


#: On SQLite an amount is whole ten-thousandths (:class:`~tracking.models.types.Amount`), whose
#: sum would overflow its 64-bit integers past ~922 of the largest amounts: it is summed in two
#: parts, the amounts' high digits and their low ones, added up exactly in Python.
SPLIT = 10**8


def _amount_sums(condition, amount, split: bool) -> tuple:
    """The SQL sums of ``amount`` where ``condition`` holds: one, or two parts on SQLite."""
    if not split:
        return (func.sum(case((condition, amount))),)
    raw = type_coerce(amount, BigInteger)
    return (func.sum(case((condition, raw.op("/")(SPLIT)))), func.sum(case((condition, raw.op("%")(SPLIT)))))


def _amount(sums, at: int, split: bool) -> Decimal:
    """The exact sum of :func:`_amount_sums`' ``at``-th goal."""
    if not split:
        return sums[at]
    high, low = sums[2 * at], sums[2 * at + 1]
    return Decimal(int(high or 0) * SPLIT + int(low or 0)).scaleb(-AMOUNT_DECIMALS)


def goal_rows(db, query: StatsQuery, goals: list[GoalSpec], visitors_total: int, visitors_before: int) -> list[GoalRow]:
    """The goals panel's rows (with the period before when ``query.compare``)."""
    now = goal_numbers(db, query, query.period, goals)
    before = goal_numbers(db, query, query.period.previous(), goals) if query.compare else [None] * len(goals)
    return [GoalRow(goal, n, b, visitors_total, visitors_before) for goal, n, b in zip(goals, now, before, strict=True)]
