"""The visit log and a visit's page: owner only, newest first, paginated, in the site's time zone,
visitors' strings shown escaped."""

import json
from datetime import date, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from tracking.models import Hit

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</td></tr><svg onload=alert(1)>",
    "<svg onload=alert(1)>",
    '"><script>alert(1)</script>',
]


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


def add_visits(dbsession, site, count, start=datetime(2026, 3, 29, 0, 30), step=timedelta(minutes=30), **values):
    rows = [Hit(site_id=site.id, ts=start + i * step, day=(start + i * step).date(), visitor=i, path=f"/p{i}", **values) for i in range(count)]
    dbsession.add_all(rows)
    dbsession.flush()
    return rows


def test_visit_log_is_newest_first_and_paginated(logged_in, dbsession, site):
    add_visits(dbsession, site, 60)
    page = logged_in.get(f"/sites/{site.id}/visits/")
    rows = page.html.select("#visits tbody tr")
    assert len(rows) == 50
    assert "/p59" in rows[0].text and "/p10" in rows[-1].text
    older = page.click("Older visits")
    rows = older.html.select("#visits tbody tr")
    assert len(rows) == 10 and "/p9" in rows[0].text and "/p0" in rows[-1].text
    assert "Older visits" not in older.text


def test_visit_log_uses_the_site_timezone_and_filters_by_day(logged_in, dbsession, site):
    site.timezone = "Europe/Paris"
    dbsession.flush()
    # 2026-03-29 is the spring DST change in Paris: local day = 22:00 UTC (28th) to 22:00 UTC (29th), 23 hours.
    add_visits(dbsession, site, 1, start=datetime(2026, 3, 28, 22, 30))  # 23:30 local, the 28th
    add_visits(dbsession, site, 1, start=datetime(2026, 3, 28, 23, 30))  # 00:30 local, the 29th
    add_visits(dbsession, site, 1, start=datetime(2026, 3, 29, 21, 59))  # 23:59 CEST, the 29th
    add_visits(dbsession, site, 1, start=datetime(2026, 3, 29, 22, 0))   # 00:00 CEST, the 30th
    page = logged_in.get(f"/sites/{site.id}/visits/", params={"day": "2026-03-29"})
    times = [t.text for t in page.html.select("#visits time")]
    assert times == ["2026-03-29 23:59:00", "2026-03-29 00:30:00"]


def test_bots_are_flagged_and_can_be_filtered(logged_in, dbsession, site):
    dbsession.add_all([
        Hit(site_id=site.id, ts=datetime(2026, 1, 1), day=date(2026, 1, 1), visitor=1, path="/human"),
        Hit(site_id=site.id, ts=datetime(2026, 1, 1, 1), day=date(2026, 1, 1), visitor=2, path="/robot", bot="crawler", device="bot"),
    ])
    dbsession.flush()
    page = logged_in.get(f"/sites/{site.id}/visits/")
    assert "crawler" in page.text
    bots = logged_in.get(f"/sites/{site.id}/visits/", params={"kind": "bots"})
    assert "/robot" in bots.text and "/human" not in bots.text
    people = logged_in.get(f"/sites/{site.id}/visits/", params={"kind": "people"})
    assert "/human" in people.text and "/robot" not in people.text


@pytest.mark.parametrize("payload", XSS)
def test_visitor_strings_are_escaped(logged_in, dbsession, site, payload):
    dbsession.add(Hit(
        site_id=site.id, ts=datetime(2026, 1, 1), day=date(2026, 1, 1), visitor=1, path="/" + payload, query=payload, event=payload,
        ref_host=payload, utm_campaign=payload, browser=payload, os=payload, city=payload, props={payload: payload},
    ))
    dbsession.flush()
    page = logged_in.get(f"/sites/{site.id}/visits/")
    detail = page.click(href=r"/visits/\d+$")
    for shown in (page, detail):
        assert "<script>alert(1)" not in shown.text
        assert "<img src=x" not in shown.text and "<svg onload" not in shown.text
        assert active_markup(shown) == []
    assert page.text.count(str(escape(payload))) >= 5  # shown, as text
    # path, query, event, ref_host, utm_campaign, browser, os, city, the property's name and value
    assert detail.text.count(str(escape(payload))) >= 10


def test_beacon_to_visit_pages_end_to_end_is_escaped(testapp, stored, dbsession, owner, site):
    """Strings from a stranger's hit reach the owner's pages as text: stored as sent, shown
    escaped in the visit log and on the visit's own page, never as markup."""
    url = (
        f"https://blog.example.com/{SVG}/{BREAKOUT}?q={BREAKOUT}&next={JS_URL}"
        f"&utm_source={BREAKOUT}&utm_medium={SVG}&utm_campaign={JS_URL}&utm_term={BREAKOUT}&utm_content={SVG}#{SVG}"
    )
    res = testapp.get(f"/sites/{site.id}/visit", params={
        "url": url,
        "event": SVG,
        "referrer": f"{JS_URL}//{BREAKOUT}",
        "props": json.dumps({SVG: BREAKOUT, "link": JS_URL, BREAKOUT: SVG}),
    }, headers={"User-Agent": f'Mozilla/5.0 (X11; Linux x86_64) "> {SVG}'})
    # markup in a user agent is a scanner's probe: a bot hit, stored and shown like any other
    assert res.status_code == 204 and res.headers["X-Tracking-Ignored"] == "bot"
    assert stored() == 1
    [visit] = dbsession.scalars(select(Hit).where(Hit.site_id == site.id)).all()
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
    assert {name: getattr(visit, name) for name in shown} == shown  # stored as sent
    assert visit.props == {SVG: BREAKOUT, "link": JS_URL, BREAKOUT: SVG}

    testapp.login(owner.email)
    log = testapp.get(f"/sites/{site.id}/visits/")
    detail = testapp.get(f"/sites/{site.id}/visits/{visit.id}")
    for page in (log, detail):
        assert active_markup(page) == [], page.request.path
        assert "<script>alert" not in page.text and "<svg" not in page.text
    # The log shows the page, the event and its properties, the campaign: escaped, as text.
    row = log.html.select_one("#visits tbody tr")
    for value in (shown["path"], shown["query"], SVG, JS_URL, BREAKOUT):
        assert str(escape(value)) in log.text
        assert value in row.text
    assert f"{SVG}={BREAKOUT}" in row.text and f"campaign: {JS_URL}" in row.text
    # The visit's page shows every stored string: each field's cell holds the value as text.
    fields = {th.text: td for th, td in (tr.select("th, td") for tr in detail.html.select("#fields tr"))}
    for name, value in shown.items():
        assert fields[name].text == value, name
        assert f"<td class=\"text-break\">{escape(value)}</td>" in detail.text, name
    assert fields["props"].text == f"{SVG} = {BREAKOUT}; link = {JS_URL}; {BREAKOUT} = {SVG}"
    assert f"{escape(SVG)} = {escape(BREAKOUT)}" in detail.text


@pytest.mark.parametrize("params", [{"day": "2026-13-45"}, {"day": "garbage"}, {"before": "-1"}, {"before": "9" * 40}, {"kind": "<x>"}])
def test_bad_filters_are_ignored_not_fatal(logged_in, site, params):
    assert logged_in.get(f"/sites/{site.id}/visits/", params=params).status_code == 200


def test_snippet_on_the_site_page(logged_in, site):
    page = logged_in.get(f"/sites/{site.id}/")
    snippet = page.html.select_one("#snippet").text
    assert f'data-beacon="http://tracking.example.org/sites/{site.id}/visit"' in snippet
    assert 'src="http://tracking.example.org/tracker.js"' in snippet
    assert f'<noscript><img src="http://tracking.example.org/sites/{site.id}/visit"' in snippet


def test_tracker_script_is_served_publicly(testapp):
    res = testapp.get("/tracker.js")
    assert res.content_type == "text/javascript"
    assert b"sendBeacon" in res.body
    assert "Set-Cookie" not in res.headers


@pytest.mark.parametrize(("role", "status"), [("other", 404), ("admin", 404), ("anonymous", 303)])
def test_others_cannot_read_the_visit_log(testapp, dbsession, site, other, admin, role, status):
    add_visits(dbsession, site, 1)
    if role != "anonymous":
        testapp.login({"other": other, "admin": admin}[role].email)
    res = testapp.get(f"/sites/{site.id}/visits/", status="*")
    assert res.status_code == status
    assert "/p0" not in res.text
    visit_id = dbsession.query(Hit.id).scalar()
    res = testapp.get(f"/sites/{site.id}/visits/{visit_id}", status="*")
    assert res.status_code == status and "/p0" not in res.text


def test_a_hit_shows_every_field_and_its_visit(logged_in, testapp, stored, dbsession, site):
    testapp.get(f"/sites/{site.id}/visit", params={"url": "https://blog.example.com/a?q=1", "event": "signup", "props": '{"plan": "<b>pro</b>"}'},
                headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"})
    stored()
    log = logged_in.get(f"/sites/{site.id}/visits/")
    page = log.click(href=r"/visits/\d+$")
    fields = {th.text: td.text for th, td in (tr.select("th, td") for tr in page.html.select("#fields tr"))}
    assert fields["path"] == "/a" and fields["query"] == "q=1" and fields["browser"] == "Firefox"
    assert fields["props"] == "plan = <b>pro</b>"  # shown as text
    assert "<b>pro</b>" not in page.text
    assert "Part of a visit of 0 page view(s) and 1 event(s)" in page.text


def test_a_visit_of_another_site_is_not_found(logged_in, dbsession, site, make_site, owner):
    mine = make_site(owner, name="Second", url="https://second.example.com")
    [visit] = add_visits(dbsession, mine, 1)
    logged_in.get(f"/sites/{site.id}/visits/{visit.id}", status=404)
    assert logged_in.get(f"/sites/{mine.id}/visits/{visit.id}").status_code == 200
