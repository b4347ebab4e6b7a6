"""Journeys in a real browser: an owner sets up tracking, visitors of the tracked site are counted.

The owner registers, adds a site whose address is another origin (``shop.example.test``),
copies the snippet from the site's page and pastes it, byte for byte, into pages served by
a separate HTTP server; visitors then browse those pages in headless Chromium and the hits
land in the app's database, which the tests read directly.
"""

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.browser


def _visitor(new_context, chrome_ua, **options):
    """A visitor's page in a fresh browser context, with a normal desktop Chrome user agent."""
    return new_context(user_agent=chrome_ua, **options).new_page()


def test_owner_sets_up_tracking_and_sees_the_visits(app, pages, new_context, chrome_ua, browser, e2e):
    # The owner registers and adds the shop, which lives on another origin than the app.
    owner = e2e.Owner(new_context(), app)
    owner.register()
    shop = pages.origin(e2e.SHOP_HOST)
    site_id = owner.add_site("Shop", shop)
    assert shop in owner.page.locator("main").inner_text()

    # The snippet is on the new site's page, in view, and is exactly what the README documents.
    assert owner.page.locator("#snippet").is_visible()
    snippet = owner.copy_snippet()
    beacon = f"{app.url}/sites/{site_id}/hit"
    assert snippet == (
        f'<script defer src="{app.url}/tracker.js" data-beacon="{beacon}"></script>\n'
        f'<noscript><img src="{beacon}" alt="" width="1" height="1" '
        f'referrerpolicy="no-referrer-when-downgrade"></noscript>'
    )

    # The owner pastes it into the shop's pages; a news site elsewhere links to the shop.
    pages.write("products.html", e2e.shop_page(snippet, "Products"))
    news = pages.origin(e2e.NEWS_HOST)
    pages.write(
        "news.html",
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>News</title></head><body>'
        f'<a id="shop" href="{shop}/products.html?color=red&amp;utm_campaign=launch&amp;gclid=abc#reviews">A new shop</a>'
        f"</body></html>",
    )

    # A visitor reads the news and follows the link: one page view, from the news site.
    page = _visitor(new_context, chrome_ua)
    beacons = e2e.BeaconResponses(page)
    page.goto(news + "/news.html")
    page.click("#shop")
    page.wait_for_url(shop + "/products.html?*")
    referrer = page.evaluate("document.referrer")
    assert referrer == news + "/", "Chromium sends only the origin as the referrer across origins"
    (first,) = app.wait_for_hits(site_id, 1)
    assert first["event"] == "pageview"
    assert (first["host"], first["path"], first["query"]) == (e2e.SHOP_HOST, "/products.html", "color=red")
    assert first["utm_campaign"] == "launch"
    assert (first["referrer"], first["ref_host"], first["source"]) == (referrer, e2e.NEWS_HOST, "referral")
    major = browser.version.split(".")[0]
    assert (first["browser"], first["browser_version"], first["os"], first["device"]) == ("Chrome", major, "Linux", "desktop")
    assert first["bot"] == ""
    assert first["width"] == page.evaluate("innerWidth")
    assert first["props"] is None
    assert first["ip"] == "127.0.0.0", "the visitor's address is stored truncated to its /24"

    # A single-page-app navigation (history.pushState) is a second page view.
    page.click("#pricing")
    page.wait_for_url(shop + "/pricing")
    second = app.wait_for_hits(site_id, 2)[1]
    assert (second["event"], second["path"], second["query"]) == ("pageview", "/pricing", "")
    assert second["referrer"].startswith(shop + "/products.html")
    assert (second["ref_host"], second["source"]) == ("", "direct"), "a page of the same site is no referrer"

    # A custom event with a property.
    page.click("#signup")
    third = app.wait_for_hits(site_id, 3)[2]
    assert (third["event"], third["path"], third["props"]) == ("signup", "/pricing", {"plan": "pro"})

    # One visitor, one visit, and every beacon answer was a plain 204.
    assert first["visitor"] == second["visitor"] == third["visitor"]
    assert first["visit_id"] is not None and first["visit_id"] == second["visit_id"] == third["visit_id"]
    answers = beacons.wait(page, 3)
    assert [(r.status, r.headers.get("x-tracking-ignored")) for r in answers] == [(204, None)] * 3
    # Counted without leaving anything in the visitor's browser: no cookie on any origin, no storage.
    assert page.context.cookies() == []
    assert page.evaluate("[document.cookie, localStorage.length, sessionStorage.length]") == ["", 0, 0]

    # The owner sees the visit among the site's visits, and its three hits in order on its timeline.
    owner.page.goto(f"{app.url}/sites/{site_id}/visits/")
    rows = owner.page.locator("#visits tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "/products.html" in text and "exit: /pricing" in text and e2e.NEWS_HOST in text
    assert "Chrome" in text and "Linux" in text
    e2e.ARTIFACTS.mkdir(exist_ok=True)
    owner.page.screenshot(path=str(e2e.ARTIFACTS / "visits.png"), full_page=True)
    rows.first.locator("a").click()
    owner.page.wait_for_url(f"{app.url}/sites/{site_id}/visits/{first['visit_id']}")
    hits = owner.page.locator("#hits > li")
    texts = [hits.nth(i).inner_text() for i in range(hits.count())]
    assert len(texts) == 3
    assert "Viewed" in texts[0] and f"{e2e.SHOP_HOST}/products.html?color=red" in texts[0] and "+0:00" in texts[0]
    assert "Viewed" in texts[1] and f"{e2e.SHOP_HOST}/pricing" in texts[1]
    assert "signup" in texts[2] and "plan = pro" in texts[2]
    assert e2e.NEWS_HOST in owner.page.locator("#summary").inner_text()
    owner.page.screenshot(path=str(e2e.ARTIFACTS / "visit.png"), full_page=True)

    # And the dashboard, with these visits (the snippet is still there, folded away).
    owner.page.goto(f"{app.url}/sites/{site_id}/?period=today")
    assert owner.page.locator("#metric-visitors .metric-value").inner_text() == "1"
    assert owner.page.locator("#metric-pageviews .metric-value").inner_text() == "2"
    assert owner.page.locator("#realtime").inner_text() == "1"
    pages = owner.page.locator("#panel-page tbody tr")
    assert [pages.nth(i).locator("td").first.inner_text().strip() for i in range(2)] == ["/pricing", "/products.html"]
    referrers = owner.page.locator("#panel-referrer").inner_text()
    assert e2e.NEWS_HOST in referrers
    owner.page.screenshot(path=str(e2e.ARTIFACTS / "dashboard.png"), full_page=True)
    # Clicking a row filters the whole dashboard.
    owner.page.locator("#panel-page a", has_text="/pricing").click()
    assert owner.page.locator("a.filter-chip").inner_text().startswith("Page: /pricing")
    assert owner.copy_snippet() == snippet


# --------------------------------------------------------------------------------------------
# Visitors with other browsers and settings, on one shop set up through the app
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(module_app, pages, browser, e2e):
    """An owner registered, added the shop and copied its snippet, through the app's pages."""
    context = browser.new_context()
    try:
        owner = e2e.Owner(context, module_app, name="Sam Shopkeeper", email="sam@example.org")
        owner.register()
        site_id = owner.add_site("Shop", pages.origin(e2e.SHOP_HOST))
        snippet = owner.copy_snippet()
    finally:
        context.close()
    return SimpleNamespace(app=module_app, site_id=site_id, snippet=snippet, url=pages.origin(e2e.SHOP_HOST))


def test_headless_chromium_is_stored_as_a_bot(shop, pages, new_context, e2e):
    pages.write("headless.html", e2e.shop_page(shop.snippet))
    page = new_context().new_page()  # Playwright's default: "HeadlessChrome/<version>"
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    beacons = e2e.BeaconResponses(page)
    page.goto(shop.url + "/headless.html")
    (answer,) = beacons.wait(page, 1)
    assert (answer.status, answer.headers.get("x-tracking-ignored")) == (204, "bot")
    (row,) = shop.app.wait_for_hits(shop.site_id, 1, path="/headless.html")
    assert (row["bot"], row["device"], row["browser"]) == ("headless", "bot", "HeadlessChrome")


def test_do_not_track_records_nothing(shop, pages, new_context, chrome_ua, e2e):
    pages.write("dnt.html", e2e.shop_page(shop.snippet))
    page = _visitor(new_context, chrome_ua, extra_http_headers={"DNT": "1"})
    beacons = e2e.BeaconResponses(page)
    page.goto(shop.url + "/dnt.html")
    page.click("#signup")
    answers = beacons.wait(page, 2)
    assert [(r.status, r.headers.get("x-tracking-ignored")) for r in answers] == [(204, "dnt")] * 2
    assert all(r.request.headers.get("dnt") == "1" for r in answers)

    # A later visitor without DNT is stored: the writer has passed the DNT hits, had they been kept.
    pages.write("after-dnt.html", e2e.shop_page(shop.snippet))
    _visitor(new_context, chrome_ua).goto(shop.url + "/after-dnt.html")
    shop.app.wait_for_hits(shop.site_id, 1, path="/after-dnt.html")
    assert shop.app.hits(shop.site_id, path="/dnt.html") == []


def test_without_javascript_the_pixel_records_the_visit(shop, pages, new_context, chrome_ua, e2e):
    pages.write("no-script.html", e2e.shop_page(shop.snippet))
    page = _visitor(new_context, chrome_ua, java_script_enabled=False)
    beacons = e2e.BeaconResponses(page)
    page.goto(shop.url + "/no-script.html?from=pixel")
    (answer,) = beacons.wait(page, 1)
    assert answer.request.method == "GET"
    assert answer.request.headers.get("referer") == shop.url + "/no-script.html?from=pixel"
    assert (answer.status, answer.headers.get("x-tracking-ignored")) == (204, None)
    (row,) = shop.app.wait_for_hits(shop.site_id, 1, path="/no-script.html")
    assert (row["event"], row["host"], row["query"]) == ("pageview", e2e.SHOP_HOST, "from=pixel")
    assert (row["browser"], row["device"], row["bot"]) == ("Chrome", "desktop", "")
    assert row["width"] is None and row["referrer"] == ""


#: The pre-load stub of the README: calls made before the script loads are queued.
STUB = "window.tracking = window.tracking || function () {(tracking.q = tracking.q || []).push(arguments)};"


def _two_hits_of(name: str, script: str, shop, pages, new_context, chrome_ua, e2e) -> list[dict]:
    """The two hits of a visit to a shop page that runs ``script`` before the snippet."""
    pages.write(name, e2e.shop_page(f"<script>{script}</script>\n" + shop.snippet))
    page = _visitor(new_context, chrome_ua)
    page.goto(f"{shop.url}/{name}")
    return shop.app.wait_for_hits(shop.site_id, 2, path=f"/{name}")


def test_calls_made_before_the_script_loads_are_queued(shop, pages, new_context, chrome_ua, e2e):
    rows = _two_hits_of("queued.html", STUB + "tracking('newsletter-shown', {position: 'footer'});",
                        shop, pages, new_context, chrome_ua, e2e)
    # Both beacons leave at once: the server may store them in either order.
    events = sorted((r["event"], r["props"] or {}) for r in rows)
    assert events == [("newsletter-shown", {"position": "footer"}), ("pageview", {})]


def test_a_variant_set_before_the_script_loads_labels_the_page_view_on_load(shop, pages, new_context, chrome_ua, e2e):
    script = (STUB + "tracking.variant = tracking.variant || function () {(tracking.v = tracking.v || []).push(arguments)};"
              "tracking.variant('checkout', 'B'); tracking('newsletter-shown');")
    rows = _two_hits_of("variant-early.html", script, shop, pages, new_context, chrome_ua, e2e)
    events = sorted((r["event"], r["props"]) for r in rows)
    assert events == [("newsletter-shown", {"experiment:checkout": "B"}), ("pageview", {"experiment:checkout": "B"})]


def _sent_to_beacon(page) -> list:
    """The beacon requests a page sends, as they are sent."""
    sent = []
    page.on("request", lambda request: "/hit" in request.url and sent.append(request))
    return sent


def test_hash_changes_and_replace_state_are_not_page_views(shop, pages, new_context, chrome_ua, e2e):
    pages.write("spa.html", e2e.shop_page(shop.snippet))
    page = _visitor(new_context, chrome_ua)
    sent = _sent_to_beacon(page)
    page.goto(shop.url + "/spa.html")
    page.wait_for_function("typeof tracking === 'function'")
    page.evaluate("location.hash = 'details'")  # fires popstate, then hashchange
    page.wait_for_url("**#details")
    page.evaluate("history.replaceState({}, '', '/spa.html?tab=2')")
    page.evaluate("tracking('done')")
    rows = shop.app.wait_for_hits(shop.site_id, 2, path="/spa.html")
    assert sorted((r["event"], r["query"]) for r in rows) == [("done", "tab=2"), ("pageview", "")]
    assert len(sent) == 2


def test_a_hash_change_after_replace_state_is_not_a_page_view(shop, pages, new_context, chrome_ua, e2e):
    pages.write("spa-replaced.html", e2e.shop_page(shop.snippet))
    page = _visitor(new_context, chrome_ua)
    sent = _sent_to_beacon(page)
    page.goto(shop.url + "/spa-replaced.html")
    page.wait_for_function("typeof tracking === 'function'")
    page.evaluate("history.replaceState({}, '', '/spa-replaced.html?tab=2')")
    page.evaluate("location.hash = 'details'")
    page.wait_for_url("**#details")
    page.evaluate("tracking('done')")
    rows = shop.app.wait_for_hits(shop.site_id, 2, path="/spa-replaced.html")
    page.wait_for_timeout(300)  # a third hit, if any, is on its way: it was sent before "done"
    rows = shop.app.hits(shop.site_id, path="/spa-replaced.html")
    assert sorted((r["event"], r["query"]) for r in rows) == [("done", "tab=2"), ("pageview", "")]
    assert len(sent) == 2


def test_outbound_link_clicks_are_events(shop, pages, new_context, chrome_ua, e2e):
    snippet = shop.snippet.replace("<script defer ", "<script defer data-outbound-links ", 1)
    assert snippet != shop.snippet
    away = pages.origin(e2e.NEWS_HOST) + "/elsewhere.html"
    pages.write("elsewhere.html", "<!doctype html><title>Elsewhere</title><p>Elsewhere</p>")
    pages.write("outbound.html", e2e.shop_page(snippet, body=f'<p><a id="away" href="{away}">Read the review</a></p>'))
    page = _visitor(new_context, chrome_ua)
    page.goto(shop.url + "/outbound.html")
    page.wait_for_function("typeof tracking === 'function'")
    page.click("#away")
    page.wait_for_url(away)
    rows = shop.app.wait_for_hits(shop.site_id, 2, path="/outbound.html")
    assert sorted((r["event"], r["props"] or {}) for r in rows) == [("outbound", {"url": away}), ("pageview", {})]
