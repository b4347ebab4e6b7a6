"""The goals panel: per goal, its converting visitors, conversions, conversion rate and revenue,
over the query's period and filters (and the period before).

Without filters the goals' summary rows answer (``goal_stats``, ``goal_revenue``: a few rows a
day, kept by the writer), for the goals summarized for their present rules; with filters, and for
a goal added or changed whose rows are still being recounted, the raw rows (:func:`goal_numbers`).
The planner says which (:attr:`~.planner.Plan.goals`); both count by the same rules:

Counting rules (:mod:`tracking.goals` says which hits convert):

* **converting visitors**: the visitors with a visit of the period that matches the filters and
  converted, counted per day (visitor ids are daily, so over several days a sum of daily
  visitors, as everywhere in the reports; a visit counts on the day it began);
* **conversions**: the converting hits of those visits;
* **conversion rate**: converting visitors / the visitors of the period and filters, in percent;
* **revenue**: the sum of the conversions' amounts in the goal's currency, and its average per
  conversion that carries one; amounts in other currencies are summed apart, per currency, never
  converted.

From the raw rows, two statements per period whatever the number of goals (:func:`goal_numbers`);
from the summaries, two small ones (:func:`summarized_numbers`). Read only.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import BigInteger, String, and_, case, cast, func, or_, select, tuple_, type_coerce, union_all
from sqlalchemy.sql.expression import ColumnElement, CompoundSelect, Select

from ..goals import GoalSpec, hit_converts, visit_converts
from ..models import GoalPair, GoalRevenue, GoalStat, GoalVisit, Hit, Visit
from ..models.summaries import SPLIT
from ..models.types import AMOUNT_DECIMALS
from .periods import Period
from .planner import Source, plan, summarized_goal
from .query import StatsQuery
from .raw_runner import RawRunner, matching, matching_ids


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
    marked = select(v.c.id, v.c.day, v.c.visitor, *flags).where(*matching(query.site, period, query.filters))
    converted = marked.cte("converted").prefix_with("MATERIALIZED")
    marks = [converted.c[f"g{index}"] for index in range(len(goals))]
    # A visitor per day (the summaries' rule): the pair of the visit's day and the visitor id.
    person: ColumnElement
    if db.get_bind().dialect.name == "postgresql":
        person = tuple_(converted.c.day, converted.c.visitor)
    else:
        person = cast(converted.c.visitor, String) + "@" + cast(converted.c.day, String)
    people = select(func.count(case((or_(*marks), 1))), *(func.count(func.distinct(case((mark, person)))) for mark in marks))
    converted_visits, *counts = db.execute(people).one()
    for index, visitors in enumerate(counts):
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
        *_revenue_columns([converts[index] for index in priced], h.c.revenue_amount, split),
    ).select_from(converted.join(h, h.c.visit_id == converted.c.id)).where(or_(*marks)).group_by(h.c.revenue_currency)
    runner = RawRunner(db, query)
    probe = runner.probes(converted_visits)
    if runner.postgresql and not probe:
        # Many converted visits: the hits of the period's visits come at or after its start, a
        # bound that lets the planner hash the site's range of hits rather than look up each
        # visit's. Fewer (a goal filter, a narrow one): each visit's hits through the visit
        # index (RawRunner.probes): 3.4 s → 0.6 s for a goal filter's 13,000 visits over 30
        # days on 10 M hits. (SQLite always looks up each visit's hits by their index.)
        hits = hits.where(h.c.site_id == query.site.id, h.c.ts >= period.bounds(query.site.timezone)[0])
    width = len(goals)
    with runner.probing(probe):
        rows = db.execute(hits).all()
    for row in rows:
        for index, numbers in enumerate(found):
            numbers.conversions += int(row[1 + index])
        _add_revenue(found, priced, row[0], row[1 + width:], split)
    return found


def summarized_numbers(db, query: StatsQuery, period: Period, goals: list[GoalSpec]) -> list[GoalNumbers]:
    """Each goal's numbers for ``period`` from the goals' summary rows (no filters), in the order
    of ``goals``: a sum of days, two indexed statements whatever the number of goals."""
    found = [GoalNumbers() for _ in goals]
    if not goals:
        return found
    at = {goal.id: index for index, goal in enumerate(goals)}
    for goal_id, visitors, conversions in db.execute(summarized_numbers_query(query, period, list(at))):
        found[at[goal_id]].visitors = int(visitors)
        found[at[goal_id]].conversions = int(conversions)
    r = GoalRevenue
    priced = [goal.id for goal in goals if goal.kind == "event"]
    if priced:
        rows = select(r.goal_id, r.currency, func.sum(r.high), func.sum(r.low), func.sum(r.count)).where(
            r.site_id == query.site.id, r.goal_id.in_(priced), r.day >= period.start, r.day < period.end
        ).group_by(r.goal_id, r.currency)
        for goal_id, currency, high, low, count in db.execute(rows):
            if count:
                amount = Decimal(int(high) * SPLIT + int(low)).scaleb(-AMOUNT_DECIMALS)
                found[at[goal_id]].revenue[currency] = (amount, int(count))
    return found


def summarized_numbers_query(query: StatsQuery, period: Period, goal_ids: list[int]):
    """Per goal of ``goal_ids``: its converting visitors and conversions over ``period`` from
    its daily rows (no filters)."""
    s = GoalStat
    return select(s.goal_id, func.sum(s.visitors), func.sum(s.conversions)).where(
        s.site_id == query.site.id, s.goal_id.in_(goal_ids), s.day >= period.start, s.day < period.end,
    ).group_by(s.goal_id)


#: On SQLite an amount is whole ten-thousandths (:class:`~tracking.models.types.Amount`), whose
#: sum would overflow its 64-bit integers past ~922 of the largest amounts: it is summed in two
#: parts (``SPLIT``), the amounts' high digits and their low ones, added up exactly in Python.


def _amount_sums(condition, amount, split: bool) -> tuple:
    """The SQL sums of ``amount`` where ``condition`` holds: one, or two parts on SQLite."""
    if not split:
        return (func.sum(case((condition, amount))),)
    raw = type_coerce(amount, BigInteger)
    return (func.sum(case((condition, raw.op("/")(SPLIT)))), func.sum(case((condition, raw.op("%")(SPLIT)))))


def _revenue_columns(conditions: list, amount, split: bool) -> list:
    """Per condition (a priced goal's conversions), how many carry an amount; then the sums of
    their amounts (:func:`_amount_sums`), read back by :func:`_add_revenue`."""
    return [*(func.count(case((condition, amount))) for condition in conditions),
            *(column for condition in conditions for column in _amount_sums(condition, amount, split))]


def _add_revenue(found: list[GoalNumbers], priced: list[int], currency: str | None, values, split: bool) -> None:
    """The revenue in ``currency`` of the ``priced`` goals (their indexes in ``found``), from a
    row's values of :func:`_revenue_columns`."""
    sums = values[len(priced):]
    for at, index in enumerate(priced):
        count = int(values[at])
        if currency is not None and count:
            found[index].revenue[currency] = (_amount(sums, at, split), count)


def _amount(sums, at: int, split: bool) -> Decimal:
    """The exact sum of :func:`_amount_sums`' ``at``-th goal."""
    if not split:
        return sums[at]
    high, low = sums[2 * at], sums[2 * at + 1]
    return Decimal(int(high or 0) * SPLIT + int(low or 0)).scaleb(-AMOUNT_DECIMALS)


def listed_numbers(db, query: StatsQuery, period: Period, goals: list[GoalSpec]) -> list[GoalNumbers]:
    """Each goal's numbers for ``period`` under ``query``'s filters from the visits that
    converted on it (``goal_visits``, with their conversions: goals summarized for their present
    rules only), in the order of ``goals``: the listed visits among the matching ones, and the
    revenue of the matching visits' hits that carry any (a partial index holds those). Two
    statements whatever the number of goals; no other hit is read. Under a filter by one such
    goal (:func:`~.planner.summarized_goal`), no list is read: the goal's daily rows and its pairs' with the
    others (``goal_pairs``, kept by the writer) have the same numbers."""
    found = [GoalNumbers() for _ in goals]
    if not goals:
        return found
    gv = GoalVisit.__table__
    RawRunner(db, query).tune()
    ids = matching_ids(query.site, period, query.filters)
    at = {goal.id: index for index, goal in enumerate(goals)}
    lone = summarized_goal(query.filters)
    if lone is not None:
        # Filtered by one goal: its own numbers and its pairs' (every visit counted converted on it).
        p = GoalPair
        counted: Select | CompoundSelect = select(p.paired_id, func.sum(p.visitors), func.sum(p.conversions)).where(
            p.site_id == query.site.id, p.goal_id == lone, p.paired_id.in_(list(at)), p.day >= period.start,
            p.day < period.end,
        ).group_by(p.paired_id)
        if lone in at:
            counted = union_all(summarized_numbers_query(query, period, [lone]), counted)
    else:
        # A visitor per day (the summaries' rule): grouped by goal, day and visitor first
        # (hashed), then counted per goal.
        people = select(gv.c.goal_id, func.sum(gv.c.conversions).label("conversions")).where(
            gv.c.site_id == query.site.id, gv.c.goal_id.in_(list(at)), gv.c.day >= period.start, gv.c.day < period.end,
            gv.c.visit_id.in_(ids),
        ).group_by(gv.c.goal_id, gv.c.day, gv.c.visitor).subquery("people")
        counted = select(people.c.goal_id, func.count(), func.sum(people.c.conversions)).group_by(people.c.goal_id)
    for goal_id, visitors, conversions in db.execute(counted):
        found[at[goal_id]].visitors = int(visitors)
        found[at[goal_id]].conversions = int(conversions)
    priced = [index for index, goal in enumerate(goals) if goal.kind == "event" and found[index].conversions]
    if not priced:
        return found
    h = Hit.__table__
    split = db.get_bind().dialect.name == "sqlite"
    converts = {index: hit_converts(goals[index], h) for index in priced}
    # The matching visits' hits come at or after the period's start.
    revenue = select(
        h.c.revenue_currency, *_revenue_columns([converts[index] for index in priced], h.c.revenue_amount, split),
    ).where(
        h.c.site_id == query.site.id, h.c.ts >= period.bounds(query.site.timezone)[0],
        h.c.revenue_currency.is_not(None), h.c.revenue_amount.is_not(None), h.c.visit_id.in_(ids),
        or_(*converts.values()),
    ).group_by(h.c.revenue_currency)
    for row in db.execute(revenue):
        _add_revenue(found, priced, row[0], row[1:], split)
    return found


def numbers(db, query: StatsQuery, period: Period, goals: list[GoalSpec]) -> list[GoalNumbers]:
    """Each goal's numbers for ``period``, where the planner says (rule 7): the summaries answer
    for the goals summarized for their present rules, without filters from their daily rows,
    with filters from the visits that converted on them (:func:`listed_numbers`); the raw rows
    for the others (:func:`goal_numbers`)."""
    ready = [goal for goal in goals if goal.summarized]
    pending = [goal for goal in goals if not goal.summarized]
    counted = listed_numbers if plan(query).goals is Source.RAW else summarized_numbers
    found = dict(zip((goal.id for goal in ready), counted(db, query, period, ready), strict=True))
    found.update(zip((goal.id for goal in pending), goal_numbers(db, query, period, pending), strict=True))
    return [found[goal.id] for goal in goals]


def goal_rows(db, query: StatsQuery, goals: list[GoalSpec], visitors_total: int, visitors_before: int) -> list[GoalRow]:
    """The goals panel's rows (with the period before when ``query.compare``)."""
    now = numbers(db, query, query.period, goals)
    before = numbers(db, query, query.period.previous(), goals) if query.compare else [None] * len(goals)
    return [GoalRow(goal, n, b, visitors_total, visitors_before) for goal, n, b in zip(goals, now, before, strict=True)]
