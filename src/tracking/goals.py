"""Goals: the rules of a conversion, and the SQL that finds them among the stored hits.

A site's goals (:class:`~tracking.models.goals.Goal`, at most :data:`MAX_GOALS`) are of two kinds:

* a **page goal** converts on a page view whose path matches its pattern: ``/signup`` (that
  path exactly), ``/blog/*`` (``*``: any run of characters within one path segment, so
  ``/blog/a`` but not ``/blog/a/b``; it may be part of a segment, ``/blog/*-2024``), ``/docs/**``
  (``**``: any run of characters, across segments: ``/docs/`` and ``/docs/a/b``). The query
  string is not part of the path.
* an **event goal** converts on a custom event of that name, or, with a property, only on
  those of its events whose property ``prop_key`` has the value ``prop_value`` (properties are
  stored as text: ``plan = pro``, ``seats = 3``). It may count the revenue its events carry in
  one currency (``currency``): amounts in other currencies are counted apart, never converted.

A **conversion** is a hit that converts; a **visit converts** when any of its hits converts. Goals
are computed when the reports read, from the hits and visits already stored: a new goal counts
the past too, and changing a goal changes its past numbers.

This module knows nothing of views. For SQL it gives, for a :class:`GoalSpec` (a goal's rules as
a plain value, :func:`spec`):

* :func:`hit_converts`: "this hit converts" — a condition on a ``hits`` row (funnels use it to
  order a visit's conversions);
* :func:`visit_converts`: "this visit converted" — a condition on a ``visits`` row, which reads
  the paths and events the visit lists (``visits.pages``, ``visits.event_names``) and reads its
  hits only for an event goal with a property; the reports' ``goal`` filter kind.

The forms and the API check a goal with :func:`check` (and :func:`pattern_error`); revenue's
currencies and amounts follow :mod:`tracking.money`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, and_, case, exists, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .models import Goal, Hit, Visit
from .models.hits import LIST_SEPARATOR, listed
from .money import currency_error
from .pathglob import MAX_WILDCARDS, WILDCARDS, backtracks, path_matches

if TYPE_CHECKING:
    from .reports.query import Filter

#: The most goals one site may have.
MAX_GOALS = 100
#: ``page`` or ``event``.
KINDS = ("page", "event")
MAX_NAME = 100
MAX_PATTERN = 1024
MAX_EVENT = 64
MAX_PROP_KEY = 64
MAX_PROP_VALUE = 256

#: What a stored path or value never holds (the beacon strips control characters).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: What a property name of a goal may not hold: ``"`` and ``\`` would end SQLite's JSON path.
_BAD_KEY = re.compile(r'["\\]')


@dataclass(frozen=True)
class GoalSpec:
    """A goal's rules and name, as a plain value (what the reports and funnels are given)."""

    id: int
    name: str
    kind: str
    pattern: str = ""
    event: str = ""
    prop_key: str = ""
    prop_value: str = ""
    currency: str | None = None
    #: Whether the goal's summary rows count its present rules (:mod:`tracking.summaries.goals`).
    summarized: bool = False
    #: Its rules' version (``goals.rules_version``): a funnel's rows are counted for its steps'.
    version: int = 0

    @property
    def exact(self) -> bool:
        """A page goal without a wildcard: one path."""
        return self.kind == "page" and "*" not in self.pattern

    def matches_path(self, path: str) -> bool:
        """Whether a page view of ``path`` converts on this page goal (in Python: the tests' and
        the reference computation's, the same rule as :func:`hit_converts`)."""
        if self.kind != "page":
            return False
        return path_matcher(self.pattern)(path)

    def matches_hit(self, event: str, path: str, props: dict | None) -> bool:
        """Whether a hit (its event, path and properties) converts on this goal, in Python."""
        if self.kind == "page":
            return event == "pageview" and self.matches_path(path)
        if event != self.event:
            return False
        return not self.prop_key or (props or {}).get(self.prop_key) == self.prop_value


def spec(goal) -> GoalSpec:
    """The rules of a stored goal (a :class:`~tracking.models.goals.Goal`, or a row of the
    ``goals`` table with its columns)."""
    return GoalSpec(goal.id, goal.name, goal.kind, goal.pattern, goal.event, goal.prop_key, goal.prop_value,
                    goal.currency, bool(goal.summarized_version) and goal.summarized_version == goal.rules_version,
                    goal.rules_version)


def funnel_definition(steps: Iterable[GoalSpec]) -> str:
    """What a funnel's summary rows are counted for (``funnels.summarized_key``): its steps'
    goals, in order, each with the version of its rules (``goals.rules_version``)."""
    return ",".join(f"{goal.id}:{goal.version}" for goal in steps)


def steps_passed(masks: Iterable[int], steps: int, passed: int = 0) -> int:
    """How many steps of a funnel one visit passed, given each of its hits, in order, as a bit
    mask of the steps whose goal it converts on (bit *i*: step *i*); ``passed``: the steps its
    earlier hits passed, for hits that all come after those (the walk goes on from there).

    The rule (:mod:`tracking.reports.funnels`): each step at the first hit after the hit that
    passed the step before; one hit passes at most one step."""
    for mask in masks:
        if passed == steps:
            break
        if mask >> passed & 1:
            passed += 1
    return passed


# -- checking what an owner types -------------------------------------------------------------


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a page goal's pattern, or ``None``: a path from ``/``, at most
    1,024 characters, no control character, wildcards of one or two ``*``."""
    if not pattern.startswith("/"):
        return "A page pattern starts with /."
    if len(pattern) > MAX_PATTERN:
        return f"A page pattern has at most {MAX_PATTERN} characters."
    if _UNSTORABLE.search(pattern):
        return "A page pattern has no control characters."
    if "***" in pattern:
        return "A wildcard is * (within a path segment) or ** (across segments), not ***."
    if len(WILDCARDS.findall(pattern)) > MAX_WILDCARDS:
        return f"A page pattern has at most {MAX_WILDCARDS} wildcards."
    if any(ch.isspace() for ch in pattern):
        return "A page pattern has no spaces (a path's spaces are sent as %20)."
    return None


def check(kind: str, name: str, pattern: str = "", event: str = "", prop_key: str = "", prop_value: str = "",
          currency: str | None = None) -> dict[str, str]:
    """Everything wrong with a goal, by field (empty: it may be stored)."""
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = "A goal is a page goal or an event goal."
        return errors
    if not name.strip():
        errors["name"] = "Required."
    elif len(name) > MAX_NAME or _UNSTORABLE.search(name):
        errors["name"] = f"At most {MAX_NAME} characters, no control characters."
    if kind == "page":
        error = pattern_error(pattern)
        if error:
            errors["pattern"] = error
        if currency:
            errors["currency"] = "Only an event goal counts revenue."
        return errors
    if not event:
        errors["event"] = "Required."
    elif len(event) > MAX_EVENT or _UNSTORABLE.search(event) or event == "pageview":
        errors["event"] = f"A custom event's name: at most {MAX_EVENT} characters, not pageview."
    if prop_key and (len(prop_key) > MAX_PROP_KEY or _UNSTORABLE.search(prop_key) or _BAD_KEY.search(prop_key)):
        errors["prop_key"] = f"At most {MAX_PROP_KEY} characters, without \" or \\."
    if prop_value and not prop_key:
        errors["prop_key"] = "Name the property whose value is given."
    if len(prop_value) > MAX_PROP_VALUE or _UNSTORABLE.search(prop_value):
        errors["prop_value"] = f"At most {MAX_PROP_VALUE} characters, no control characters."
    if currency:
        error = currency_error(currency)
        if error:
            errors["currency"] = error
    return errors


# -- patterns ---------------------------------------------------------------------------------


def _regex(pattern: str, within: str, anywhere: str) -> str:
    """The body of a regular expression for ``pattern``: each ``*`` → ``within``, ``**`` →
    ``anywhere``, every other ASCII character that is not a letter or a digit escaped. The same
    text is a regular expression for Python's ``re`` (SQLite) and PostgreSQL's ``~``."""
    out = []
    at = 0
    for wildcard in WILDCARDS.finditer(pattern):
        out.append(_escape(pattern[at:wildcard.start()]))
        out.append(anywhere if wildcard.group() == "**" else within)
        at = wildcard.end()
    out.append(_escape(pattern[at:]))
    return "".join(out)


def _escape(text: str) -> str:
    # A backslash before an ASCII letter or digit is an escape sequence (``\d``) in both
    # dialects; before anything else ASCII it is that character. Others are no metacharacter.
    return "".join(f"\\{ch}" if ch.isascii() and not ch.isalnum() else ch for ch in text)


def path_regex(pattern: str) -> str:
    """A regular expression matching the paths of a page goal, whole (``^…$``)."""
    return f"^{_regex(pattern, '[^/]*', '.*')}$"


def listing_regex(pattern: str) -> str:
    """A regular expression that finds a matching path in a visit's list of paths
    (``visits.pages``: each path between two U+001F)."""
    sep = LIST_SEPARATOR
    return f"{sep}{_regex(pattern, f'[^/{sep}]*', f'[^{sep}]*')}{sep}"


@lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern:
    return re.compile(regex)


@lru_cache(maxsize=1024)
def path_matcher(pattern: str):
    """``path → whether it matches the page pattern whole``, made once per pattern (the hit
    writer tests each page view against each of its site's page goals): the pattern's literal
    start first, as in SQL (:func:`hit_converts`), then its regular expression, or for a
    pattern that could backtrack :func:`~tracking.pathglob.path_matches` (as :func:`_matches`)."""
    if "*" not in pattern:
        return pattern.__eq__
    prefix = _literal_prefix(pattern)
    if _prefix_only(pattern):
        return lambda path: path.startswith(prefix)
    if backtracks(pattern):
        return lambda path: path.startswith(prefix) and path_matches(pattern, path)
    fullmatch = _compiled(path_regex(pattern)).fullmatch
    return lambda path: path.startswith(prefix) and fullmatch(path) is not None


def _matches(column, pattern: str, listing: bool) -> ColumnElement[bool]:
    """``column`` (a path, or a list of paths) matches ``pattern``. PostgreSQL runs the regular
    expression (its engine does not backtrack); SQLite runs it in Python, where a pattern with
    more than one wildcard is matched by :func:`path_matches` instead of a regular expression."""
    regex = listing_regex(pattern) if listing else path_regex(pattern)
    if backtracks(pattern):
        return glob_match(column, pattern, regex, listing)
    return column.regexp_match(regex)


class glob_match(FunctionElement):
    """``glob_match(column, pattern, regex, listing)``: see :func:`_matches`."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, column, pattern: str, regex: str, listing: bool) -> None:
        super().__init__(column, literal(pattern), literal(regex), literal(1 if listing else 0))


@compiles(glob_match)
def _glob_match_sqlite(element, compiler, **kw):
    column, pattern, _, listing = element.clauses
    return (f"tracking_glob({compiler.process(pattern, **kw)}, {compiler.process(column, **kw)}, "
            f"{compiler.process(listing, **kw)})")


@compiles(glob_match, "postgresql")
def _glob_match_postgresql(element, compiler, **kw):
    column, _, regex, _ = element.clauses
    return f"({compiler.process(column, **kw)} ~ {compiler.process(regex, **kw)})"


def _literal_prefix(pattern: str) -> str:
    return pattern.split("*", 1)[0]


def _prefix_only(pattern: str) -> bool:
    """``/docs/**``: every path that starts with the text before ``**``."""
    return pattern.endswith("**") and "*" not in pattern[:-2]


# -- SQL ----------------------------------------------------------------------------------------


def hit_converts(goal: GoalSpec, hits=None) -> ColumnElement[bool]:
    """"This hit converts on ``goal``": a condition on ``hits`` (the table, or an alias or a
    subquery with its columns)."""
    h = Hit.__table__ if hits is None else hits
    if goal.kind == "page":
        if goal.exact:
            path = h.c.path == goal.pattern
        else:
            prefix = _literal_prefix(goal.pattern)
            # The literal start first (SQLite runs the regular expression in Python); a pattern
            # that is a start and ``**`` needs nothing more.
            path = func.substr(h.c.path, 1, len(prefix)) == prefix
            if not _prefix_only(goal.pattern):
                path = and_(path, _matches(h.c.path, goal.pattern, listing=False))
        return and_(h.c.event == "pageview", path)
    condition = h.c.event == goal.event
    if goal.prop_key:
        condition = and_(condition, h.c.props[goal.prop_key].as_string() == goal.prop_value)
    return condition


def visit_converts(goal: GoalSpec, visits=None, hits=None) -> ColumnElement[bool]:
    """"This visit converted on ``goal``" (one of its hits converts): a condition on ``visits``.

    Exact from the visit row for page goals (a path in ``visits.pages``) and for event goals
    without a property (``visits.event_names``); with a property, the visits that sent the event
    and have a hit of it with that value (through the hits' visit index)."""
    v = Visit.__table__ if visits is None else visits
    if goal.kind == "page":
        if goal.exact:
            return listed(v.c.pages, goal.pattern)
        # The literal start of the pattern first: a cheap test that spares most visits the
        # regular expression (SQLite runs it in Python); a start and ``**`` needs nothing more.
        started = contains(v.c.pages, LIST_SEPARATOR + _literal_prefix(goal.pattern))
        if _prefix_only(goal.pattern):
            return started
        return and_(started, _matches(v.c.pages, goal.pattern, listing=True))
    named = listed(v.c.event_names, goal.event)
    if not goal.prop_key:
        return named
    h = Hit.__table__ if hits is None else hits
    # CASE: the visit's hits are read only when it sent the event (SQLite would otherwise run
    # the subquery for every visit of a select list). A visit's hits come at or after its start:
    # said, so that PostgreSQL looks up each such visit's hits through their visit index rather
    # than hash the matching hits of every visit of the site (a scan of all its hits).
    sent = exists(select(1).select_from(h).where(h.c.visit_id == v.c.id, h.c.ts >= v.c.started_at,
                                                 hit_converts(goal, h)))
    return case((named, sent), else_=false())


class contains(FunctionElement):
    """``contains(column, text)``: whether ``column`` holds ``text`` (``strpos`` on PostgreSQL,
    ``instr`` on SQLite: exact and case-sensitive, unlike ``LIKE`` on SQLite)."""

    inherit_cache = True
    type = Boolean()


@compiles(contains)
def _contains_sqlite(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)}) > 0"


@compiles(contains, "postgresql")
def _contains_postgresql(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)}) > 0"


# -- funnels' steps in SQL -------------------------------------------------------------------


def step_mask(goals: Sequence[GoalSpec], h):
    """A hit's steps, as a bit mask (bit *i*: it converts on step *i*'s goal)."""
    return reduce(operator.add, [case((hit_converts(goal, h), 1 << n), else_=0) for n, goal in enumerate(goals)])


def converts_on_any(goals: Sequence[GoalSpec], h):
    """The hit converts on one of the steps' goals (each distinct goal tested once)."""
    return or_(*(hit_converts(goal, h) for goal in {goal.id: goal for goal in goals}.values()))


#: A hit's mask as one character in SQL: ``chr(BASE + mask)``, from U+0101 (no character of a
#: regular expression's syntax among them).
BASE = 0x100


def passes(steps: int, step: int) -> str:
    """A regular expression that finds, in a visit's hits written as characters of their masks
    (in order), a subsequence passing the first ``step`` of ``steps``: a hit that converts on
    step 1, later one on step 2, and so on. Such a subsequence exists exactly when the walk of
    :func:`steps_passed` (each step at the first hit after the step before) gets that far."""
    masks = range(1, 1 << steps)
    return ".*".join(
        "[" + "".join(chr(BASE + mask) for mask in masks if mask >> n & 1) + "]" for n in range(step)
    )


def site_goals(db, site_id: int) -> list[Goal]:
    """A site's goals, in the order they were made."""
    return list(db.scalars(select(Goal).where(Goal.site_id == site_id).order_by(Goal.id)))


def count_goals(db, site_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Goal).where(Goal.site_id == site_id)))


def find_goal(db, site_id: int, goal_id: int) -> Goal | None:
    """The site's goal of that id, or ``None`` (another site's goal is nobody's here)."""
    return db.scalar(select(Goal).where(Goal.id == goal_id, Goal.site_id == site_id))


def resolve_filters(db, site_id: int, filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """``filters`` with each goal filter given its goal's rules (what the raw runner reads).

    A goal the site does not have (deleted, or another site's) raises
    :class:`~tracking.reports.query.InvalidQuery`: the dashboard's 400 page, the API's 400."""
    # Imported here: the write side (the goal summaries) imports this module, and loads nothing
    # of the reports (``tests/unit/test_layers.py``).
    from .reports.query import Filter, InvalidQuery

    resolved = []
    for f in filters:
        if f.dimension == "goal" and f.goal is None:
            goal = find_goal(db, site_id, int(f.value))
            if goal is None:
                raise InvalidQuery(f"This site has no goal {f.value}.")
            f = Filter(f.dimension, f.value, f.operator, spec(goal))
        resolved.append(f)
    return tuple(resolved)


#: The fields of a goal that an owner sets.
FIELDS = ("name", "kind", "pattern", "event", "prop_key", "prop_value", "currency")


class TooManyGoals(Exception):
    """A site has :data:`MAX_GOALS` goals already."""


def _normalised(values: dict) -> dict:
    """A goal's fields, each kind keeping only its own (a page goal has no event, no currency)."""
    values = {name: values.get(name) or ("" if name != "currency" else None) for name in FIELDS}
    if values["kind"] == "page":
        values.update(event="", prop_key="", prop_value="", currency=None)
    else:
        values["pattern"] = ""
    return values


def add_goal(db, site_id: int, values: dict) -> Goal:
    """A new goal of the site (``values`` checked by :func:`check`); :class:`TooManyGoals` past
    :data:`MAX_GOALS`. Its summary rows are counted by a ``goals`` job, which the caller queues
    (:func:`tracking.summaries.jobs.enqueue_goals`); until it is done its numbers come from the
    raw rows."""
    if count_goals(db, site_id) >= MAX_GOALS:
        raise TooManyGoals(f"A site has at most {MAX_GOALS} goals: delete one first.")
    goal = Goal(site_id=site_id, **_normalised(values))
    db.add(goal)
    db.flush()
    return goal


#: The fields of a goal that say which hits convert (its name does not).
RULES = ("kind", "pattern", "event", "prop_key", "prop_value", "currency")


def update_goal(goal: Goal, values: dict) -> bool:
    """Change a goal (``values`` checked by :func:`check`): its past numbers change with it.
    Whether its rules changed: then its summary rows are recounted (a ``goals`` job: the caller
    queues it, :func:`tracking.summaries.jobs.enqueue_goals`), and until then its numbers come
    from the raw rows."""
    values = _normalised(values)
    changed = any(getattr(goal, name) != values[name] for name in RULES)
    for name, value in values.items():
        setattr(goal, name, value)
    if changed:
        goal.rules_version += 1
    return changed
