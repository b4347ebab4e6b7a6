"""Owner pages against any query string: a clear 400 page, or the page with a corrected value and a
note saying so — never a 5xx, and never a CSV export cut off after its 200.

The pages and their parameters are found from the code, not listed here: every GET view an owner
may open comes from Pyramid's registry, and the query parameters each one reads — with the
values it compares them with (``period=custom``, ``dim=page``...) — are recorded while it runs.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, quote_from_bytes

import pytest
import webob.request
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyramid.request import Request
from sqlalchemy import select
from webob.multidict import MultiDict

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tracking.ingest.store import Store
from tracking.models import Goal, Visit
from tracking.models.types import utcnow
from tracking.resources import InvitationResource, ISiteReports, PasswordTokenResource, Root
from tracking.security import Permission

OWNER_PERMISSIONS = {Permission.VIEW, Permission.VIEW_VISITS, Permission.EDIT, Permission.MANAGE, Permission.DELETE,
                     Permission.ADD_SITE}
#: Pages opened through a token's link (an invitation, a set-password link), not by an owner.
TOKEN_PAGES = {InvitationResource, PasswordTokenResource}


@pytest.fixture
def data(dbsession, site):
    """A day of traffic on the site: pages, an event with properties, a phone, a bot."""
    now = utcnow().replace(microsecond=0) - timedelta(hours=3)
    hits = [
        make_hit(site, now, "/", referrer="https://www.google.com/"),
        make_hit(site, now + timedelta(minutes=2), "/pricing?utm_source=news&utm_medium=email&utm_campaign=may"),
        make_hit(site, now + timedelta(minutes=3), "/pricing", event="signup", props={"plan": "pro"}),
        make_hit(site, now + timedelta(minutes=5), "/blog", ip="198.51.100.2", ua=IPHONE),
        make_hit(site, now + timedelta(minutes=6), "/", ip="192.0.2.1", ua=GOOGLEBOT),
    ]
    Store(None).write_batch(dbsession, hits)
    goal = Goal(site_id=site.id, name="Sign-up", kind="event", event="signup")
    dbsession.add(goal)
    dbsession.flush()
    # A goal filter names one of the site's goals (any other value is a 400 before the view
    # reads the rest of its query string): the one the discovery sends.
    NAMED["goal"] = str(goal.id)
    return dbsession.scalars(select(Visit).where(Visit.site_id == site.id).order_by(Visit.id)).first()


@pytest.fixture
def logged_in(testapp, owner, data):
    testapp.login(owner.email)
    return testapp


# -- the pages, from the registry ----------------------------------------------------------


def owner_views(registry) -> list[tuple[type, str]]:
    """(context, view name) of every view an owner may open with a GET."""
    found = set()
    for item in registry.introspector.get_category("views"):
        view = item["introspectable"]
        permissions = {related["value"] for related in item["related"] if related.category_name == "permissions"}
        methods = view["request_methods"]
        if permissions & OWNER_PERMISSIONS and (methods is None or "GET" in methods) and view["context"] not in TOKEN_PAGES:
            found.add((view["context"], view["name"]))
    return sorted(found, key=lambda found: (found[0].__name__, found[1]))


def owner_paths(app, dbsession, owner, site, visit) -> list[str]:
    """The path of each owner view, for the owner's site, visit and account."""
    request = Request.blank("/")
    request.registry = app.registry
    request.dbsession = dbsession
    root = Root(request)
    site_resource = root["sites"][str(site.id)]
    visits = site_resource["visits"]
    goals = site_resource["goals"]
    goal = dbsession.scalars(select(Goal).where(Goal.site_id == site.id)).first()
    resources = [root["sites"], site_resource, visits, visits[str(visit.id)], site_resource["bots"], root["users"][str(owner.id)],
                 goals, goals[str(goal.id)]]
    by_context = {type(resource): resource for resource in resources}
    by_context[ISiteReports] = site_resource  # the dashboard's views: a site, or a share link of it
    paths = []
    for context, name in owner_views(app.registry):
        assert context in by_context, f"a view of {context.__name__}: add a resource of it here"
        paths.append(request.resource_path(by_context[context], name))
    return paths


def test_the_owner_pages_are_found(app, dbsession, owner, site, data):
    paths = owner_paths(app, dbsession, owner, site, data)
    s = f"/sites/{site.id}/"
    assert set(paths) >= {"/sites/", s, s + "panel", s + "export.csv", s + "edit", s + "delete", s + "visits/",
                          s + "members", s + "share", s + "transfer", s + "goals/",
                          f"{s}visits/{data.id}/", s + "bots/", f"/users/{owner.id}/", f"/users/{owner.id}/delete"}


# -- their query parameters, recorded as they are read --------------------------------------


class Record:
    def __init__(self) -> None:
        self.read: set[str] = set()
        self.compared: dict[str, set[str]] = defaultdict(set)


class Probe(str):
    """A query value that notes each string it is compared with (``key == "custom"``,
    ``dim in DIMENSIONS``): the values that take a view down another path."""

    __hash__ = str.__hash__

    def __new__(cls, value: str, name: str, record: Record):
        probe = super().__new__(cls, value)
        probe.name, probe.record = name, record
        return probe

    def __eq__(self, other):
        if isinstance(other, str) and not isinstance(other, Probe):
            self.record.compared[self.name].add(str(other))
        return str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)


class RecordingParams(MultiDict):
    """``request.GET`` that notes every name looked up, and hands out probes."""

    def __init__(self, items, record: Record) -> None:
        super().__init__([(name, Probe(value, name, record)) for name, value in items])
        self.record = record

    def __getitem__(self, name):
        self.record.read.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.record.read.add(name)
        return super().get(name, default)

    def getall(self, name):
        self.record.read.add(name)
        return super().getall(name)

    def __contains__(self, name):
        self.record.read.add(name)
        return super().__contains__(name)


#: Values the discovery sends for names compared with nothing, when "x" is not one (a goal's id).
NAMED: dict[str, str] = {}


@dataclass
class Page:
    path: str
    #: Every name the page reads, with a value that takes it down its longest path
    #: (``period=custom``, ``dim=page``...; "x" for a name compared with nothing).
    base: dict[str, str]
    #: The values each name is compared with.
    vocabulary: dict[str, list[str]]


def discover(testapp, path: str, monkeypatch) -> Page:
    """What ``path`` reads from its query string.

    Each name read is sent again with a value, to see what it is compared with; each value
    compared with is tried once, and one that makes the view read more names is kept."""
    original = webob.request.BaseRequest.GET
    record = Record()
    monkeypatch.setattr(webob.request.BaseRequest, "GET", property(lambda request: RecordingParams(original.fget(request).items(), record)))

    def reads(params: dict) -> set[str]:
        record.read.clear()
        testapp.get(path, params=params, status="*")
        return set(record.read)

    sent: dict[str, str] = {}
    tried: set[tuple[str, str]] = set()
    names = reads(sent)
    while True:
        for name in names - sent.keys():
            sent[name] = NAMED.get(name, "x")
        names |= reads(sent)
        untried = [(name, value) for name in sorted(names) for value in sorted(record.compared[name]) if (name, value) not in tried]
        for name, value in untried:
            tried.add((name, value))
            more = reads({**sent, name: value}) - names
            if more:
                sent[name] = value
                names |= more
                break
        else:
            if names <= sent.keys():
                break
    monkeypatch.setattr(webob.request.BaseRequest, "GET", original)
    return Page(path, sent, {name: sorted(record.compared[name]) for name in sorted(names)})


_PAGES: dict[str, list[Page]] = {}


@pytest.fixture
def pages(app, logged_in, dbsession, owner, site, data, monkeypatch, database) -> list[Page]:
    """Every owner page and what it reads (found once per database, for these ids)."""
    if database not in _PAGES:
        _PAGES[database] = [discover(logged_in, path, monkeypatch) for path in owner_paths(app, dbsession, owner, site, data)]
    return _PAGES[database]


def test_the_parameters_of_the_reports_are_found(pages, site):
    by_path = {page.path.removeprefix(f"/sites/{site.id}/"): page for page in pages}
    filters = {"page", "event", "source", "referrer", "country", "browser", "entry", "utm_campaign"}
    dashboard, panel, export = by_path[""], by_path["panel"], by_path["export.csv"]
    visits, bots = by_path["visits/"], by_path["bots/"]
    # (the dashboard reads from/to with a custom range, and to drop them from the address with another period)
    assert {"period", "from", "to"} | filters <= dashboard.base.keys() and dashboard.base["period"] in ("custom", "12mo")
    assert {"dim", "period", "from", "to"} | filters <= panel.base.keys() and panel.base.keys() <= export.base.keys()
    assert {"custom", "12mo", "today"} <= set(panel.vocabulary["period"])
    assert {"page", "prop", "entry"} <= set(panel.vocabulary["dim"]) and {"hits", "visits"} <= set(export.vocabulary["dim"])
    assert {"day", "before"} <= visits.base.keys() and {"day", "before"} <= bots.base.keys()


# -- never a 5xx ---------------------------------------------------------------------------

#: Values at the edges, percent-encoded: the first and last dates a date can be, and those
#: around them, NUL and other control characters, numbers beyond 32 and 64 bits, a string
#: longer than any stored one, and bytes that are not UTF-8.
EDGES = [quote(value, safe="") for value in (
    "", "\x00", "a\x00b", "\t", "\u2028", "²", "-1", "0", "9" * 25, "2147483648", "9223372036854775808",
    "0001-01-01", "1969-12-31", "1970-01-01", "9999-12-30", "9999-12-31", "2026-02-30", "x" * 1025,
)] + ["%FF", "%C3%28", "%ED%A0%80"]

#: A query value, percent-encoded: edge cases, dates, numbers, any text, and bytes that are not
#: always UTF-8.
hostile = st.one_of(
    st.sampled_from(EDGES),
    st.dates().map(lambda day: day.isoformat()),
    st.integers().map(str),
    st.text(max_size=20).map(lambda value: quote(value.encode("utf-8"), safe="")),
    st.binary(max_size=6).map(lambda raw: quote_from_bytes(raw, safe="")),
)


@st.composite
def queries(draw, page: Page) -> str:
    """A query string for ``page``: each name it reads left out, sent with its longest-path value,
    with another value it is compared with, or with a hostile value; and one hostile value may
    go to every name compared with nothing at once (``from`` and ``to`` of a custom range)."""
    shared = draw(st.none() | hostile, label="in every free name")
    pairs = []
    for name, compared in page.vocabulary.items():
        if shared is not None and not compared:
            pairs.append((name, shared))
            continue
        choice = draw(st.sampled_from(("absent", "base", "compared", "hostile")), label=name)
        if choice == "base":
            pairs.append((name, quote(page.base[name], safe="")))
        elif choice == "compared" and compared:
            pairs.append((name, quote(draw(st.sampled_from(compared)), safe="")))
        elif choice == "hostile":
            pairs.append((name, draw(hostile)))
    return "&".join(f"{quote(name)}={value}" for name, value in pairs)


def spread(page: Page, value: str) -> str:
    """``value`` in every name compared with nothing, the others at their longest-path value:
    ``period=custom&from=9999-12-31&to=9999-12-31&country=9999-12-31...``."""
    return "&".join(
        f"{quote(name)}={quote(page.base[name], safe='') if compared else value}" for name, compared in page.vocabulary.items()
    )


def each_compared_value(page: Page) -> list[str]:
    """Each value a parameter is compared with, once (``dim`` of every panel, ``hits`` and ``visits``,
    every period...), the others at their longest-path value and the free ones left out, so
    that the period's rows are shown."""
    queries = []
    for name, compared in page.vocabulary.items():
        for value in compared:
            chosen = {**{other: page.base[other] for other, values in page.vocabulary.items() if values}, name: value}
            queries.append("&".join(f"{quote(key)}={quote(chosen[key], safe='')}" for key in chosen))
    return queries


def test_no_query_string_makes_an_owner_page_fail(logged_in, pages):
    """Explicit examples, always run: each edge value spread over a page's parameters, and
    each value a parameter is compared with; then queries drawn by hypothesis."""
    for page in pages:

        @settings(max_examples=80 if page.vocabulary else 5, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(query=queries(page))
        def never_a_5xx(query):
            # noqa: B023 below: the function is defined, decorated and run within one iteration.
            res = logged_in.get(f"{page.path}?{query}", status="*")  # noqa: B023
            assert res.status_code < 500, res.text[-500:]  # a CSV cut short raises while WebTest reads it

        if page.vocabulary:
            for query in [spread(page, value) for value in EDGES] + each_compared_value(page):
                never_a_5xx = example(query=query)(never_a_5xx)
        never_a_5xx()


# -- what a person sees ----------------------------------------------------------------------


REPORTS = ["", "panel?dim=page", "panel?dim=entry", "export.csv?dim=page", "export.csv?dim=hits", "export.csv?dim=visits"]


def report_url(site, name: str, query: str) -> str:
    return f"/sites/{site.id}/{name}" + ("&" if "?" in name else "?") + query


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("country=%00", "The country filter contains a control character."),
        ("page=/a%00b", "The page filter contains a control character."),
        ("event=sign%0Aup", "The event filter contains a control character."),
        ("page=/" + "x" * 1024, "The page filter is longer than 1024 characters."),
        ("country=%FF", "The address is not valid: its query string is not UTF-8."),
    ],
)
def test_a_filter_no_visit_can_have_is_a_400_page_before_anything_is_sent(logged_in, site, query, message):
    for name in REPORTS:
        res = logged_in.get(report_url(site, name, query), status="*")
        assert (res.status_code, res.content_type) == (400, "text/html"), name
        assert res.html.select_one("main p").text == message


@pytest.mark.parametrize(
    ("dates", "why"),
    [
        ("from=9999-12-30&to=9999-12-31", "Custom dates lie between 1970-01-01 and 9999-12-30"),
        ("from=0001-01-01&to=0001-01-05", "Custom dates lie between 1970-01-01 and 9999-12-30"),
        ("from=2026-05-10&to=2026-05-01", "The custom range ends before it starts"),
        ("from=2020-01-01&to=2026-05-01", "A custom range is at most 1098 days long"),
    ],
)
def test_an_unusable_custom_range_shows_the_last_30_days_and_says_so(logged_in, site, dates, why):
    for name in REPORTS:
        res = logged_in.get(report_url(site, name, "period=custom&" + dates))
        assert res.status_code == 200
        if name.startswith("export.csv"):
            assert res.content_type == "text/csv" and res.text.count("\n") > 1, name  # the last 30 days' rows
        else:
            assert res.html.select_one("#period-corrected").text == f"{why}: showing the last 30 days instead."
            assert "Last 30 days" in res.text


def test_a_usable_range_has_no_note_and_the_last_days_can_be_shown(logged_in, site):
    assert "period-corrected" not in logged_in.get(f"/sites/{site.id}/").text
    for name in REPORTS:
        res = logged_in.get(report_url(site, name, "period=custom&from=9999-12-30&to=9999-12-30"))
        assert res.status_code == 200 and "period-corrected" not in res.text, name


#: The lists of raw rows, and how many rows the data has in each: two visits, one bot hit.
LISTS = [("visits/", "visits", 2), ("bots/", "bots", 1)]


@pytest.mark.parametrize(("path", "table", "count"), LISTS)
def test_a_list_day_out_of_range_shows_every_day_and_says_so(logged_in, site, path, table, count):
    for day in ("9999-12-31", "0001-01-01", "2026-13-45", "garbage"):
        res = logged_in.get(f"/sites/{site.id}/{path}", params={"day": day})
        assert res.html.select_one("#day-corrected").text == (
            "A day is a date (YYYY-MM-DD) between 1970-01-01 and 9999-12-30: showing every day instead."
        )
        assert len(res.html.select(f"#{table} tbody tr")) == count  # every day's
    assert "day-corrected" not in logged_in.get(f"/sites/{site.id}/{path}", params={"day": "9999-12-30"}).text


@pytest.mark.parametrize(("path", "table", "count"), LISTS)
def test_a_list_position_that_is_not_an_id_starts_from_the_newest(logged_in, site, path, table, count):
    for before in ("²", "١٢", "9" * 19, "-1", "1e3"):
        res = logged_in.get(f"/sites/{site.id}/{path}", params={"before": before})
        assert len(res.html.select(f"#{table} tbody tr")) == count, before

