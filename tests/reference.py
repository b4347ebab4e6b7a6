"""The report numbers counted plainly, in Python, from the raw rows: what every report test
compares the read API with.

A visit is a stored ``Visit`` row, read through its hits alone: its first hit gives its source,
location, device and entry page, its last page view its exit page; its page views, events and
duration are counted from its hits. A visitor is attributed to their first visit (the earliest
visit of their id); with a page or event filter, to their first visit of the period that
matches (with a goal filter: converted; so visitors are distinct ids, in the totals and in each day of the chart when the
site is in UTC). A page's or an event's visitors are distinct ids. The sites here are in UTC, so that a period's days are the days of visitor
ids (a visitor's first view of a page that day is in the period).
"""

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from tracking.goals import site_goals, spec
from tracking.models import Engagement, Hit, Visit
from tracking.reports.periods import Period
from tracking.summaries.dimensions import VISIT_DIMENSIONS, prop_value


class RawRows:
    """One site's hits and visits, read once; its numbers for any period and filters."""

    def __init__(self, dbsession, site_id: int) -> None:
        self.hits = defaultdict(list)
        for hit in dbsession.scalars(select(Hit).where(Hit.site_id == site_id, Hit.bot == "").order_by(Hit.ts, Hit.id)):
            self.hits[hit.visit_id].append(hit)
        self.stored = dbsession.scalars(select(Visit).where(Visit.site_id == site_id)).all()
        self.engagements = defaultdict(list)  # (visit, path) → its measurements of the page
        for measured in dbsession.scalars(select(Engagement).where(Engagement.site_id == site_id)):
            self.engagements[(measured.visit_id, measured.path)].append(measured)
        #: The site's goals by id (as a filter names them): a goal filter keeps the visits with a
        #: hit that converts (:meth:`tracking.goals.GoalSpec.matches_hit`).
        self.goals = {str(goal.id): spec(goal) for goal in site_goals(dbsession, site_id)}
        self.first_of_visitor = {}
        for visit in sorted(self.stored, key=lambda v: v.started_at):
            self.first_of_visitor.setdefault(visit.visitor, visit.id)

    def value_of(self, visit, name: str) -> str:
        own = self.hits[visit.id]
        if name == "entry":
            return own[0].path
        if name == "exit":  # the last page view's page (the first hit's, in a visit of events only)
            return [own[0], *(hit for hit in own if hit.event == "pageview")][-1].path
        return getattr(own[0], {"referrer": "ref_host"}.get(name, name))

    def matches(self, visit, filters: dict[str, str]) -> bool:
        for name, value in filters.items():
            if name == "page" and not any(h.event == "pageview" and h.path == value for h in self.hits[visit.id]):
                return False
            if name == "event" and not any(h.event == value for h in self.hits[visit.id]):
                return False
            if name == "goal" and not any(self.goals[value].matches_hit(h.event, h.path, h.props)
                                          for h in self.hits[visit.id]):
                return False
            if name in VISIT_DIMENSIONS and self.value_of(visit, name) != value:
                return False
        return True

    def visits(self, period: Period, filters: dict[str, str]) -> list:
        return [v for v in self.stored if period.start <= v.day < period.end and self.matches(v, filters)]

    def attributed(self, period: Period, filters: dict[str, str]) -> dict[int, int]:
        """Visitor → the visit they are counted at (see the module's docstring)."""
        if not {"page", "event", "goal"} & set(filters):
            return self.first_of_visitor
        firsts = {}
        for visit in sorted(self.visits(period, filters), key=lambda v: (v.started_at, v.id)):
            firsts.setdefault(visit.visitor, visit.id)
        return firsts

    def numbers(self, group: list, firsts: dict[int, int]) -> dict[str, float]:
        """The visitors (counted at the visits ``firsts`` names), visits, page views, events,
        bounces, duration (and its average and the bounce rate) of a group of visits."""
        hits = self.hits
        views = [sum(h.event == "pageview" for h in hits[s.id]) for s in group]
        events = [sum(h.event != "pageview" for h in hits[s.id]) for s in group]
        lengths = [int((hits[s.id][-1].ts - hits[s.id][0].ts).total_seconds()) for s in group]
        bounces = sum(1 for v, e in zip(views, events, strict=True) if v == 1 and e == 0)
        visitors = sum(firsts.get(s.visitor) == s.id for s in group)
        return {
            "visitors": visitors, "visits": len(group), "pageviews": sum(views), "events": sum(events),
            "bounces": bounces, "duration": sum(lengths),
            "bounce_rate": 100 * bounces / len(group) if group else 0.0,
            "average_duration": sum(lengths) / len(group) if group else 0.0,
        }

    def totals(self, period: Period, filters: dict[str, str]) -> dict[str, float]:
        return self.numbers(self.visits(period, filters), self.attributed(period, filters))

    def daily(self, period: Period, filters: dict[str, str]) -> list[tuple[int, int]]:
        """(visitors, page views) of each day of the period: visitors of the visits that began
        that day, page views of the matching visits' hits of that day."""
        visits = self.visits(period, filters)
        days = [period.start + timedelta(days=n) for n in range((period.end - period.start).days)]
        views = Counter(h.day for v in visits for h in self.hits[v.id] if h.event == "pageview")
        firsts = self.attributed(period, filters)
        return [(self.numbers([v for v in visits if v.day == day], firsts)["visitors"], views[day]) for day in days]

    def buckets(self, period: Period, filters: dict[str, str], hourly: bool = False) -> list[dict[str, float]]:
        """The numbers of each day (or UTC hour) of the period: those of the matching visits that
        began in it (:meth:`numbers`), with the page views of their hits in it instead of
        their own, and views per visit of these. A ratio of a bucket without visits is ``None``."""
        visits = self.visits(period, filters)
        firsts = self.attributed(period, filters)
        if hourly:
            start = datetime(period.start.year, period.start.month, period.start.day)
            keys = [start + timedelta(hours=n) for n in range(24 * (period.end - period.start).days)]

            def key(ts):
                return ts.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        else:
            keys = [period.start + timedelta(days=n) for n in range((period.end - period.start).days)]

            def key(ts):
                return ts.date()
        views = Counter(key(h.ts) for v in visits for h in self.hits[v.id] if h.event == "pageview")
        found = []
        for bucket in keys:
            numbers = self.numbers([v for v in visits if key(v.started_at) == bucket], firsts)
            numbers["pageviews"] = views[bucket]
            visits_in = numbers["visits"]
            numbers["views_per_visit"] = views[bucket] / visits_in if visits_in else None
            if not visits_in:
                numbers["bounce_rate"] = numbers["average_duration"] = None
            found.append(numbers)
        return found

    def engagement(self, visits: list, path: str) -> dict[str, float | None]:
        """A page's time on page (engaged seconds per visit that measured it) and scroll depth
        (the mean of those visits' deepest), ``None`` without a measurement."""
        measured = [self.engagements[(visit.id, path)] for visit in visits if self.engagements[(visit.id, path)]]
        depths = [max(d) for d in ([m.scroll_depth for m in ms if m.scroll_depth is not None] for ms in measured) if d]
        return {
            "time_on_page": sum(m.engaged_ms for ms in measured for m in ms) / 1000 / len(measured) if measured else None,
            "scroll_depth": sum(depths) / len(depths) if depths else None,
        }

    def rows(self, period: Period, filters: dict[str, str], dim: str) -> dict[str, dict[str, float]]:
        """``dim``'s rows for the period's visits that match ``filters``: value → metric → number."""
        visits = self.visits(period, filters)
        firsts = self.attributed(period, filters)
        rows = {}
        if dim in VISIT_DIMENSIONS:
            groups = defaultdict(list)
            for visit in visits:
                groups[self.value_of(visit, dim)].append(visit)
            return {value: self.numbers(group, firsts) for value, group in groups.items()}
        their_hits = [hit for visit in visits for hit in self.hits[visit.id]]
        if dim == "page":
            for path in {h.path for h in their_hits if h.event == "pageview"}:
                views = [h for h in their_hits if h.event == "pageview" and h.path == path]
                entered = [s for s in visits if self.value_of(s, "entry") == path]
                numbers = self.numbers(entered, firsts)
                rows[path] = {
                    "visitors": len({h.visitor for h in views}), "visits": len({h.visit_id for h in views}),
                    "pageviews": len(views), "entries": len(entered),
                    "bounce_rate": numbers["bounce_rate"], "average_duration": numbers["average_duration"],
                    **self.engagement(visits, path),
                }
        elif dim == "event":
            for name in {h.event for h in their_hits if h.event != "pageview"}:
                sent = [h for h in their_hits if h.event == name]
                rows[name] = {"visitors": len({h.visitor for h in sent}), "visits": len({h.visit_id for h in sent}),
                              "events": len(sent)}
        else:  # prop
            counts = Counter(prop_value(h.event, k, v) for h in their_hits if h.event != "pageview"
                             for k, v in (h.props or {}).items())
            rows = {value: {"events": n} for value, n in counts.items()}
        return rows


def reference(dbsession, site_id: int, period: Period, filters: dict[str, str], dim: str) -> dict[str, dict[str, float]]:
    """``dim``'s rows for the period's visits that match ``filters`` (see :meth:`RawRows.rows`),
    without the counts the details do not show."""
    rows = RawRows(dbsession, site_id).rows(period, filters, dim)
    hidden = ("bounces", "duration")
    return {value: {k: n for k, n in numbers.items() if k not in hidden} for value, numbers in rows.items()}
