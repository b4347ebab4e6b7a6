"""The visits of a site, a visit's timeline and the site's bot hits: owner only, newest first,
paged by key, in the site's time zone, visitors' strings shown escaped."""

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.hits import CHROME, GOOGLEBOT, IPHONE, make_hit
from tracking.ingest.store import Store
from tracking.models import Hit, Visit
from tracking.reports import visits as visit_queries

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</td></tr><svg onload=alert(1)>",
    "<svg onload=alert(1)>",
    '"><script>alert(1)</script>',
]
T0 = datetime(2026, 3, 10, 9, 0)


def active_markup(page) -> list[str]:
    """What a browser would run in ``page``: scripts without the page's nonce or a src, elements
    that load or draw active content (<svg>, <img>, <iframe>...), ``on*`` attributes,
    ``javascript:`` links."""
    found = []
    for tag in page.html.find_all(True):
        if tag.name == "script" and not (tag.get("src") or tag.get("nonce")):
            found.append(str(tag))
        if tag.name in ("svg", "img", "iframe", "object", "embed"):
            found.append(str(tag))
        for name, value in tag.attrs.items():
            if name.startswith("on"):
                found.append(f"<{tag.name} {name}=...>")
            if name in ("href", "src", "action") and str(value).strip().lower().startswith("javascript:"):
                found.append(f"<{tag.name} {name}={value}>")
    return found


SVG = "<svg onload=alert(1)>"
BREAKOUT = '"><script>alert(2)</script>'
JS_URL = "javascript:alert(3)"


@pytest.fixture
def logged_in(testapp, owner):
    testapp.login(owner.email)
    return testapp


def store(dbsession, *batches):
    """Write each batch of hits as the writer would, one batch after the other."""
    for batch in batches:
        Store(None).write_batch(dbsession, batch)
    dbsession.flush()


def one_hit_visits(site, count, start=T0, step=timedelta(minutes=1)):
    """``count`` visits of one page view each, by different people, ``step`` apart: /p0, /p1..."""
    return [make_hit(site, start + i * step, f"/p{i}", ip=f"198.51.100.{i + 1}") for i in range(count)]


def rows(page, table="visits"):
    return page.html.select(f"#{table} tbody tr")


def steps(page):
    """The steps of a visit's timeline."""
    return page.html.select("#hits > li")


def entries(page) -> list[str]:
    return [row.select("td")[1].text.split("exit:")[0].strip() for row in rows(page)]


# -- the list of visits ----------------------------------------------------------------------


def test_visits_are_listed_newest_first_50_a_page(logged_in, dbsession, site):
    store(dbsession, one_hit_visits(site, 60))
    page = logged_in.get(f"/sites/{site.id}/visits/")
    assert entries(page) == [f"/p{i}" for i in range(59, 9, -1)]
    older = page.click("Older visits")
    assert entries(older) == [f"/p{i}" for i in range(9, -1, -1)]
    assert "Older visits" not in older.text
    assert entries(older.click("Newest")) == entries(page)


def test_a_visit_stored_late_is_listed_by_when_it_began(logged_in, dbsession, site):
    """Hits stored late (from a spool file) make a visit with a newer id but an earlier start:
    the list goes by the start."""
    late, early = make_hit(site, T0 + timedelta(hours=2), "/later", ip="198.51.100.1"), make_hit(site, T0, "/earlier", ip="198.51.100.2")
    store(dbsession, [late], [early])
    assert entries(logged_in.get(f"/sites/{site.id}/visits/")) == ["/later", "/earlier"]


def test_a_page_of_visits_stays_the_same_while_new_hits_arrive(logged_in, dbsession, site):
    store(dbsession, one_hit_visits(site, 60))
    second = logged_in.get(f"/sites/{site.id}/visits/").click("Older visits").request.url
    # New visits, and a visit of the second page goes on (it ends later, but began as before).
    store(dbsession, one_hit_visits(site, 5, start=T0 + timedelta(hours=3)),
          [make_hit(site, T0 + timedelta(minutes=5, seconds=30), "/more", ip="198.51.100.6")])
    page = logged_in.get(second)
    assert entries(page) == [f"/p{i}" for i in range(9, -1, -1)]
    assert "exit: /more" in rows(page)[4].text


def test_visits_are_shown_by_the_local_day_they_began(logged_in, dbsession, make_site, owner):
    paris = make_site(owner, name="Paris", url="https://example.com", timezone="Europe/Paris")
    # 2026-03-29 is the spring DST change in Paris: local day = 22:00 UTC (28th) to 22:00 UTC (29th), 23 hours.
    store(dbsession, [
        make_hit(paris, datetime(2026, 3, 28, 22, 30), "/a", ip="198.51.100.1"),  # 23:30 local, the 28th
        make_hit(paris, datetime(2026, 3, 28, 23, 30), "/b", ip="198.51.100.2"),  # 00:30 local, the 29th
        make_hit(paris, datetime(2026, 3, 29, 21, 50), "/c", ip="198.51.100.3"),  # 23:50 CEST, the 29th...
        make_hit(paris, datetime(2026, 3, 29, 22, 10), "/c2", ip="198.51.100.3"),  # ...until 00:10 on the 30th
        make_hit(paris, datetime(2026, 3, 29, 22, 30), "/d", ip="198.51.100.4"),  # 00:30 CEST, the 30th
    ])
    page = logged_in.get(f"/sites/{paris.id}/visits/", params={"day": "2026-03-29"})
    assert [t.text for t in page.html.select("#visits time")] == ["2026-03-29 23:50:00", "2026-03-29 00:30:00"]
    assert entries(page) == ["/c", "/b"]
    assert "No visits began on this day." in logged_in.get(f"/sites/{paris.id}/visits/", params={"day": "2026-03-01"}).text


def test_each_visit_says_when_where_from_how_long_and_on_what(logged_in, dbsession, site):
    store(dbsession, [
        make_hit(site, T0, "/", ip="81.2.69.142", referrer="https://www.google.com/search?q=x"),
        make_hit(site, T0 + timedelta(minutes=2), "/pricing", ip="81.2.69.142"),
        make_hit(site, T0 + timedelta(minutes=3), "/pricing", ip="81.2.69.142", event="signup", props={"plan": "pro"}),
        make_hit(site, T0 + timedelta(hours=1), "/blog", ip="198.51.100.9", ua=IPHONE),
        make_hit(site, T0 + timedelta(hours=2), "/", ip="192.0.2.1", ua=GOOGLEBOT),  # a bot: no visit
    ])
    page = logged_in.get(f"/sites/{site.id}/visits/")
    phone, first = ([cell.text.strip() for cell in row.select("td")] for row in rows(page))
    assert first == [
        "2026-03-10 09:00:00", "/exit: /pricing", "2", "1", "3m 00s", "searchgoogle.com", "🇬🇧 United Kingdom", "ChromeWindows · desktop",
    ]
    assert phone == ["2026-03-10 10:00:00", "/blog", "1", "0", "0sbounce", "direct", "—", "Mobile SafariiOS · mobile"]
    visitors = list(dbsession.scalars(select(Visit.visitor)))
    assert all(str(visitor) not in page.text for visitor in visitors)  # no raw visitor id


def test_the_old_bot_view_of_the_visit_log_leads_to_the_bot_hits(logged_in, site):
    res = logged_in.get(f"/sites/{site.id}/visits/", params={"kind": "bots", "day": "2026-03-10"}, status=301)
    assert res.location == f"http://tracking.example.org/sites/{site.id}/bots/?day=2026-03-10"


# -- a visit's timeline -----------------------------------------------------------------------


def test_a_visit_shows_its_hits_in_order_with_local_times_and_offsets(logged_in, dbsession, make_site, owner):
    paris = make_site(owner, name="Paris", url="https://example.com", timezone="Europe/Paris")
    ip = "81.2.69.142"
    store(dbsession, [
        make_hit(paris, T0, "/?utm_source=news&utm_medium=email&utm_campaign=spring", ip=ip, referrer="https://mail.example.net/"),
        make_hit(paris, T0 + timedelta(minutes=2, seconds=5), "/pricing", ip=ip),
        make_hit(paris, T0 + timedelta(minutes=2, seconds=10), "/pricing", ip=ip, event="signup", props={"plan": "pro", "seats": 3}),
        make_hit(paris, T0 + timedelta(minutes=40), "/docs", ip=ip),  # 38 minutes later: another visit
    ])
    visits = logged_in.get(f"/sites/{paris.id}/visits/")
    page = visits.click(href=r"/visits/\d+$", index=1)
    summary = {dt.text: dd.text.strip() for dt, dd in zip(page.html.select("#summary dt"), page.html.select("#summary dd"), strict=True)}
    assert summary["When"] == "Tuesday 2026-03-10, 10:00:00"
    assert summary["How long"] == "2m 10s, 2 page views and 1 event"
    assert summary["Pages"] == "/ → /pricing"
    assert summary["Bounce"] == "No"
    assert summary["Source"].startswith("email — https://mail.example.net/")
    assert "UTM source: news · medium: email · campaign: spring" in summary["Source"]
    assert summary["Location"].startswith("🇬🇧 United Kingdom")
    assert summary["Device"] == "Chrome 124 on Windows, desktop"
    hits = [[part.get_text(" ", strip=True) for part in item.select(".when, .what, .stay")] for item in steps(page)]
    assert hits == [
        ["10:00:00 · +0:00", "Viewed example.com/", "then 2m 05s until the next"],
        ["10:02:05 · +2:05", "Viewed example.com/pricing", "then 5s until the next"],
        ["10:02:10 · +2:10", "Sent the event signup on example.com/pricing plan = pro seats = 3"],
    ]
    assert "is_first" not in page.text
    assert all(str(visitor) not in page.text for visitor in dbsession.scalars(select(Visit.visitor)))
    other = logged_in.get(visits.html.select("#visits a")[0]["href"])
    assert [item.select_one(".visit-page").text for item in steps(other)] == ["example.com/docs"]
    assert "Yes: one page view and nothing else" in other.text


def test_a_long_visit_shows_its_first_hits_and_says_how_many_there_are(logged_in, dbsession, site, monkeypatch):
    monkeypatch.setattr(visit_queries, "TIMELINE_LIMIT", 2)
    store(dbsession, [make_hit(site, T0 + timedelta(minutes=i), f"/p{i}") for i in range(3)])
    page = logged_in.get(f"/sites/{site.id}/visits/").click(href=r"/visits/\d+$")
    assert [item.select_one(".visit-page").text for item in steps(page)] == ["example.com/p0", "example.com/p1"]
    assert page.html.select_one("#hits-shown").text == "The first 2 of 3 hits."


@pytest.mark.parametrize("name", ["abc", "0", "01", "-1", str(2**63), "1.0"])
def test_a_visit_id_that_names_no_visit_is_not_found(logged_in, site, name):
    assert logged_in.get(f"/sites/{site.id}/visits/{name}", status="*").status_code == 404


def test_a_visit_of_another_site_is_not_found(logged_in, dbsession, site, make_site, owner):
    mine = make_site(owner, name="Second", url="https://second.example.com")
    store(dbsession, one_hit_visits(mine, 1))
    visit_id = dbsession.scalar(select(Visit.id).where(Visit.site_id == mine.id))
    logged_in.get(f"/sites/{site.id}/visits/{visit_id}", status=404)
    assert logged_in.get(f"/sites/{mine.id}/visits/{visit_id}").status_code == 200


@pytest.mark.parametrize(("role", "status"), [("other", 404), ("admin", 404), ("anonymous", 303)])
def test_others_cannot_read_the_visits_or_the_bot_hits(testapp, dbsession, site, other, admin, role, status):
    store(dbsession, one_hit_visits(site, 1), [make_hit(site, T0, "/crawled", ip="192.0.2.1", ua=GOOGLEBOT)])
    if role != "anonymous":
        testapp.login({"other": other, "admin": admin}[role].email)
    visit_id = dbsession.scalar(select(Visit.id).where(Visit.site_id == site.id))
    for path in ("visits/", f"visits/{visit_id}", "bots/"):
        res = testapp.get(f"/sites/{site.id}/{path}", status="*")
        assert res.status_code == status, path
        assert "/p0" not in res.text and "/crawled" not in res.text


# -- bot hits --------------------------------------------------------------------------------


def test_bot_hits_are_listed_newest_first_with_their_reason_50_a_page(logged_in, dbsession, site):
    crawled = [make_hit(site, T0 + timedelta(seconds=i), f"/c{i}", ip="192.0.2.1", ua=GOOGLEBOT) for i in range(55)]
    store(dbsession, crawled + one_hit_visits(site, 1))
    page = logged_in.get(f"/sites/{site.id}/bots/")
    listed = [[cell.text.strip() for cell in row.select("td")] for row in rows(page, "bots")]
    assert len(listed) == 50
    assert listed[0][:3] == ["2026-03-10 09:00:54", "crawler", "example.com/c54"]
    assert listed[-1][2] == "example.com/c5"
    older = page.click("Older bot hits")
    assert [row.select("td")[2].text for row in rows(older, "bots")] == [f"example.com/c{i}" for i in range(4, -1, -1)]
    assert "/p0" not in page.text + older.text  # a person's hit is in a visit, not here
    # And none of them is a visit.
    assert entries(logged_in.get(f"/sites/{site.id}/visits/")) == ["/p0"]


def test_bot_hits_are_shown_by_local_day(logged_in, dbsession, make_site, owner):
    paris = make_site(owner, name="Paris", url="https://example.com", timezone="Europe/Paris")
    store(dbsession, [
        make_hit(paris, datetime(2026, 3, 28, 22, 30), "/a", ip="192.0.2.1", ua=GOOGLEBOT),  # 23:30 local, the 28th
        make_hit(paris, datetime(2026, 3, 28, 23, 30), "/b", ip="192.0.2.1", ua=GOOGLEBOT),  # 00:30 local, the 29th
    ])
    page = logged_in.get(f"/sites/{paris.id}/bots/", params={"day": "2026-03-29"})
    assert [row.select("td")[2].text for row in rows(page, "bots")] == ["example.com/b"]


def test_the_dashboard_links_its_excluded_bot_hits_to_their_list(logged_in, dbsession, site):
    store(dbsession, [make_hit(site, datetime.now().replace(microsecond=0) - timedelta(hours=1), "/", ip="192.0.2.1", ua=GOOGLEBOT)])
    dashboard = logged_in.get(f"/sites/{site.id}/")
    assert "1 bot hit excluded" in dashboard.text
    assert rows(dashboard.click("see them"), "bots")


# -- visits' strings, escaped -----------------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_visitor_strings_are_escaped(logged_in, dbsession, site, payload):
    hit = Hit(site_id=site.id, ts=T0, day=T0.date(), visitor=1, path="/" + payload, query=payload, event=payload,
              ref_host=payload, utm_campaign=payload, browser=payload, os=payload, city=payload, props={payload: payload})
    bot = Hit(site_id=site.id, ts=T0, day=T0.date(), visitor=2, path="/" + payload, query=payload, browser=payload,
              os=payload, as_org=payload, bot="crawler", device="bot")
    visit = Visit(site_id=site.id, visitor=1, started_at=T0, ended_at=T0, day=T0.date(), entry_path="/" + payload,
                  exit_path="/" + payload + "x", ref_host=payload, utm_campaign=payload, browser=payload, os=payload,
                  city=payload)
    dbsession.add_all([visit, bot])
    dbsession.flush()
    hit.visit_id = visit.id
    dbsession.add(hit)
    dbsession.flush()
    visits = logged_in.get(f"/sites/{site.id}/visits/")
    timeline = visits.click(href=r"/visits/\d+$")
    bots = logged_in.get(f"/sites/{site.id}/bots/")
    for shown in (visits, timeline, bots):
        assert "<script>alert(1)" not in shown.text
        assert "<img src=x" not in shown.text and "<svg onload" not in shown.text
        assert active_markup(shown) == []
    # entry and exit pages, referrer, campaign, browser, system, city: shown, as text
    assert visits.text.count(str(escape(payload))) >= 7
    # the same, and the hit's path, query, event and property
    assert timeline.text.count(str(escape(payload))) >= 10
    assert bots.text.count(str(escape(payload))) >= 4  # path, query, browser, system, network


def test_beacon_to_visit_pages_end_to_end_is_escaped(testapp, stored, dbsession, owner, site):
    """Strings from a stranger's hits reach the owner's pages as text: stored as sent, shown
    escaped in the visits, on the visit's timeline and among the bot hits, never as markup."""
    url = (
        f"https://blog.example.com/{SVG}/{BREAKOUT}?q={BREAKOUT}&next={JS_URL}"
        f"&utm_source={BREAKOUT}&utm_medium={SVG}&utm_campaign={JS_URL}&utm_term={BREAKOUT}&utm_content={SVG}#{SVG}"
    )
    fields = {
        "url": url,
        "event": SVG,
        "referrer": f"{JS_URL}//{BREAKOUT}",
        "props": json.dumps({SVG: BREAKOUT, "link": JS_URL, BREAKOUT: SVG}),
    }
    res = testapp.get(f"/sites/{site.id}/hit", params=fields, headers={"User-Agent": CHROME})
    assert res.status_code == 204 and "X-Tracking-Ignored" not in res.headers
    # Markup in a user agent is a scanner's probe: a bot hit, stored and shown like any other.
    res = testapp.get(f"/sites/{site.id}/hit", params=fields, headers={"User-Agent": f'Mozilla/5.0 (X11; Linux x86_64) "> {SVG}'})
    assert res.status_code == 204 and res.headers["X-Tracking-Ignored"] == "bot"
    assert stored() == 2
    hit, bot = dbsession.scalars(select(Hit).where(Hit.site_id == site.id).order_by(Hit.id)).all()
    shown = {
        "path": f"/{SVG}/{BREAKOUT}",
        "query": f"q={BREAKOUT}&next={JS_URL}",
        "event": SVG,
        "referrer": f"{JS_URL}//{BREAKOUT}",
        "utm_source": BREAKOUT,
        "utm_medium": SVG,
        "utm_campaign": JS_URL,
        "utm_term": BREAKOUT,
        "utm_content": SVG,
    }
    for stored_hit in (hit, bot):
        assert {name: getattr(stored_hit, name) for name in shown} == shown  # stored as sent
        assert stored_hit.props == {SVG: BREAKOUT, "link": JS_URL, BREAKOUT: SVG}
    assert bot.bot and bot.visit_id is None

    testapp.login(owner.email)
    visits = testapp.get(f"/sites/{site.id}/visits/")
    timeline = testapp.get(f"/sites/{site.id}/visits/{hit.visit_id}")
    bots = testapp.get(f"/sites/{site.id}/bots/")
    for page in (visits, timeline, bots):
        assert active_markup(page) == [], page.request.path
        assert "<script>alert" not in page.text and "<svg" not in page.text
    # The list shows the entry page and the campaign: escaped, as text.
    row = visits.html.select_one("#visits tbody tr")
    assert shown["path"] in row.text and f"campaign: {JS_URL}" in row.text
    assert str(escape(shown["path"])) in visits.text
    # The timeline shows the page, the event and its properties, the referrer and the UTM tags.
    [step] = steps(timeline)
    assert step.select_one(".visit-page").text == f"blog.example.com{shown['path']}?{shown['query']}"
    assert step.select_one(".what strong").text == SVG
    assert [item.text for item in step.select(".props li")] == [f"{SVG} = {BREAKOUT}", f"link = {JS_URL}", f"{BREAKOUT} = {SVG}"]
    assert f"{escape(SVG)} = {escape(BREAKOUT)}" in timeline.text
    assert shown["referrer"] in timeline.html.select_one("#summary").text
    assert f"UTM source: {BREAKOUT} · medium: {SVG} · campaign: {JS_URL}" in timeline.html.select_one("#summary").text
    # The bot hits show its page and its event, as text.
    [cells] = [row.select("td") for row in rows(bots, "bots")]
    assert cells[2].text == f"blog.example.com{shown['path']}?{shown['query']}event: {SVG}"


@pytest.mark.parametrize("params", [{"day": "2026-13-45"}, {"day": "garbage"}, {"before": "-1"}, {"before": "9" * 40}, {"before": "123"}])
@pytest.mark.parametrize("page", ["visits/", "bots/"])
def test_bad_filters_are_ignored_not_fatal(logged_in, dbsession, site, page, params):
    store(dbsession, one_hit_visits(site, 1), [make_hit(site, T0, "/crawled", ip="192.0.2.1", ua=GOOGLEBOT)])
    res = logged_in.get(f"/sites/{site.id}/{page}", params=params)
    assert len(rows(res, page.rstrip("/"))) == 1  # from the newest, every day


# -- CSV exports of visits -------------------------------------------------------------------


def test_the_visits_csv_has_a_row_per_visit_and_joins_the_hits_csv(logged_in, dbsession, site):
    now = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    store(dbsession, [
        make_hit(site, now, "/", ip="81.2.69.142", referrer="https://www.google.com/"),
        make_hit(site, now + timedelta(minutes=1), "/pricing", ip="81.2.69.142"),
        make_hit(site, now + timedelta(minutes=2), "/blog", ip="198.51.100.9", ua=IPHONE),
        make_hit(site, now + timedelta(minutes=3), "/", ip="192.0.2.1", ua=GOOGLEBOT),
    ])
    res = logged_in.get(f"/sites/{site.id}/export.csv", params={"dim": "visits", "period": "7d"})
    assert res.content_type == "text/csv" and "-visits-" in res.headers["Content-Disposition"]
    visits = list(csv.DictReader(io.StringIO(res.text)))
    assert [(v["entry_path"], v["exit_path"], v["pageviews"], v["events"], v["duration"], v["bounce"], v["source"], v["country"])
            for v in visits] == [("/", "/pricing", "2", "0", "60", "0", "search", "GB"), ("/blog", "/blog", "1", "0", "0", "1", "direct", "")]
    assert visits[0]["local_start"].startswith(visits[0]["started_at"][:10]) and "visitor" not in res.text
    hits = list(csv.DictReader(io.StringIO(
        logged_in.get(f"/sites/{site.id}/export.csv", params={"dim": "hits", "period": "7d"}).text
    )))
    assert [(h["path"], h["visit_id"]) for h in hits] == [
        ("/", visits[0]["visit_id"]), ("/pricing", visits[0]["visit_id"]), ("/blog", visits[1]["visit_id"]), ("/", ""),
    ]
    # With a filter: the visits that match it, and only their hits.
    mobile = logged_in.get(f"/sites/{site.id}/export.csv", params={"dim": "visits", "period": "7d", "device": "mobile"})
    assert [v["entry_path"] for v in csv.DictReader(io.StringIO(mobile.text))] == ["/blog"]
    mobile = logged_in.get(f"/sites/{site.id}/export.csv", params={"dim": "hits", "period": "7d", "device": "mobile"})
    assert [h["path"] for h in csv.DictReader(io.StringIO(mobile.text))] == ["/blog"]
