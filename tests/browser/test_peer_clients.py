"""The peers' own clients, unmodified, against the drop-in endpoints (``views/dropins.py``).

* Plausible's npm tracker, ``@plausible-analytics/tracker``, in headless Chromium: a page on
  another origin (``shop.example.test``, served by ``PageServer``) imports the package's file
  byte for byte and calls ``init({domain, endpoint})`` with this server's ``/api/event``.
* Umami's Node client, ``@umami/node``, run by ``node`` with ``umami.init({websiteId, hostUrl})``
  against this server's ``/api/send``, the site's *Umami website id* set by its owner on the
  settings page.

Both are installed by ``make browser-deps`` (``npm ci --prefix tests/browser``, pinned in
``package.json``); without them, or without ``node``, the tests skip saying so (and fail where
``REQUIRE_BROWSER`` is set). The owner checks the numbers on the dashboard in Chromium.
"""

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.conftest import HERE, unavailable
from tracking.models import Engagement

pytestmark = pytest.mark.browser

NODE_MODULES = HERE / "node_modules"
PLAUSIBLE = NODE_MODULES / "@plausible-analytics" / "tracker"
UMAMI = NODE_MODULES / "@umami" / "node"
NODE = Path(os.environ.get("TRACKING_TEST_NODE", "/usr/bin/node"))
UMAMI_ID = "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b"
#: The site's domain, as it was known on Plausible: the owner adds the site with it here.
DOMAIN = "shop.example.test"


def _package(path: Path) -> dict:
    manifest = path / "package.json"
    if not manifest.is_file():
        unavailable(f"{path.relative_to(HERE)} is not installed: run `make browser-deps` (npm ci --prefix tests/browser)")
    return json.loads(manifest.read_text())


@pytest.fixture(scope="module")
def plausible_tracker() -> Path:
    """The browser build of ``@plausible-analytics/tracker`` (an ES module)."""
    package = _package(PLAUSIBLE)
    assert package["version"] == json.loads((HERE / "package.json").read_text())["devDependencies"][package["name"]]
    return PLAUSIBLE / package["exports"]["."]["default"]


@pytest.fixture(scope="module")
def umami_node() -> Path:
    _package(UMAMI)
    if not os.access(NODE, os.X_OK):
        unavailable(f"no Node.js at {NODE}: install it (apt-get install nodejs) or set TRACKING_TEST_NODE")
    return UMAMI


def _visitor_page(new_context, chrome_ua):
    """A visitor's page. Playwright's Chromium says ``navigator.webdriver = true``, as every
    automated browser must; Plausible's tracker then sends nothing (it ignores test robots). A
    person's browser says false: so does this one, before any script of the page runs."""
    context = new_context(user_agent=chrome_ua)
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false})")
    return context.new_page()


def _dashboard(owner, app, site_id: int) -> dict:
    page = owner.page
    page.goto(f"{app.url}/sites/{site_id}/?period=today")
    metric = {name: page.locator(f"#metric-{name} .metric-value").inner_text() for name in ("visitors", "pageviews")}
    panels = {dim: page.locator(f"#panel-{dim}").text_content() for dim in ("page", "event", "prop")}
    return {**metric, **panels}


def test_plausibles_npm_tracker_counts_page_views_and_events(app, pages, new_context, chrome_ua, plausible_tracker, e2e):
    owner = e2e.Owner(new_context(), app)
    owner.register()
    site_id = owner.add_site("Shop", DOMAIN)

    # The shop's page imports the package's file as it is published, and points it at this server.
    shutil.copyfile(plausible_tracker, pages.directory / "plausible.js")
    assert (pages.directory / "plausible.js").read_bytes() == plausible_tracker.read_bytes()
    endpoint = f"{app.url}/api/event"
    pages.write("plausible.html", f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop</title>
<script type="module">
import {{ init, track }} from "/plausible.js";
init({{ domain: "{DOMAIN}", endpoint: "{endpoint}" }});
document.getElementById("pricing").addEventListener("click", function (e) {{
  e.preventDefault();
  history.pushState({{}}, "", "/pricing");
}});
document.getElementById("buy").addEventListener("click", function () {{
  track("Purchase", {{
    props: {{ plan: "pro" }},
    revenue: {{ amount: 29.90, currency: "EUR" }},
    callback: function (result) {{ window.purchaseAnswer = result; }},
  }});
}});
</script>
</head>
<body>
<h1>Shop</h1>
<p><a id="pricing" href="/pricing">Pricing</a></p>
<p><button id="buy" type="button">Buy</button></p>
</body>
</html>
""")

    page = _visitor_page(new_context, chrome_ua)
    sent, answers = [], []
    page.on("request", lambda r: r.url == endpoint and sent.append(json.loads(r.post_data)))
    page.on("response", lambda r: r.url == endpoint and answers.append(r))
    page.goto(pages.origin(DOMAIN) + "/plausible.html")
    app.wait_for_hits(site_id, 1)
    page.click("#pricing")  # a single-page-app navigation: the tracker's own pushState hook
    app.wait_for_hits(site_id, 2)
    page.click("#buy")
    page.wait_for_function("window.purchaseAnswer !== undefined")
    # The tracker reads the answer across origins (CORS): Plausible's own status.
    assert page.evaluate("window.purchaseAnswer") == {"status": 202}

    rows = app.wait_for_hits(site_id, 3)
    page.wait_for_timeout(300)  # anything else the tracker sent has arrived by now
    rows = app.hits(site_id)
    assert [(r["event"], r["host"], r["path"], r["props"]) for r in rows] == [
        ("pageview", DOMAIN, "/plausible.html", None),
        ("pageview", DOMAIN, "/pricing", None),
        ("Purchase", DOMAIN, "/pricing", {"plan": "pro"}),
    ]
    # Its revenue is the event's revenue, exact: what a revenue goal counts.
    assert [(r["revenue_amount"], r["revenue_currency"]) for r in rows][2] == (Decimal("29.9"), "EUR")
    assert {(r["browser"], r["bot"], r["visitor"]) for r in rows} == {("Chrome", "", rows[0]["visitor"])}
    assert len({r["visit_id"] for r in rows}) == 1

    # What the tracker sent, in order: its compact keys (v: its version), and before the second
    # page view an "engagement" for the first page (scroll depth sd in %, engaged time e in ms),
    # answered with 202.
    assert [body["n"] for body in sent] == ["pageview", "engagement", "pageview", "Purchase"]
    first, engagement, second, purchase = sent
    assert first == {"n": "pageview", "v": first["v"], "u": pages.origin(DOMAIN) + "/plausible.html", "d": DOMAIN, "r": None}
    assert set(engagement) == {"n", "sd", "d", "u", "e", "v"} and engagement["u"] == first["u"]
    assert 0 <= engagement["sd"] <= 100 and engagement["e"] >= 0
    # ... kept as a measurement of the first page view, in its visit: no hit, no page view.
    with app.engine.connect() as conn:
        measured = conn.execute(select(Engagement.path, Engagement.visit_id, Engagement.scroll_depth)
                                .where(Engagement.site_id == site_id)).all()
    assert measured == [("/plausible.html", rows[0]["visit_id"], min(engagement["sd"], 100))]
    assert second["u"] == pages.origin(DOMAIN) + "/pricing"
    assert (purchase["p"], purchase["$"]) == ({"plan": "pro"}, {"amount": 29.9, "currency": "EUR"})
    # (The bodies of keepalive fetches are not readable through Playwright; the functional tests
    # check the "ok".)
    assert [(a.status, a.headers.get("access-control-allow-origin")) for a in answers] == [(202, "*")] * 4
    assert page.context.cookies() == []

    # The owner sees them on the dashboard.
    seen = _dashboard(owner, app, site_id)
    assert (seen["visitors"], seen["pageviews"]) == ("1", "2")
    assert "/plausible.html" in seen["page"] and "/pricing" in seen["page"]
    assert "Purchase" in seen["event"]
    assert "plan: pro" in seen["prop"]


UMAMI_SCRIPT = r"""
// Runs @umami/node as a back end would: the package resolved from tests/browser/package.json.
const { createRequire } = require("node:module");
const umami = createRequire(process.env.PACKAGE_JSON)("@umami/node").default;
const { hostUrl, websiteId, userAgent, calls } = JSON.parse(process.env.UMAMI_TEST);

(async () => {
  umami.init(userAgent ? { websiteId, hostUrl, userAgent } : { websiteId, hostUrl });
  const answers = [];
  for (const [method, ...args] of calls) {
    const response = await umami[method](...args);
    answers.push([response.status, await response.text()]);
  }
  process.stdout.write(JSON.stringify(answers));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def _run_umami(umami_node: Path, tmp_path: Path, **options) -> list:
    script = tmp_path / "umami-client.cjs"
    script.write_text(UMAMI_SCRIPT)
    env = {**os.environ, "PACKAGE_JSON": str(HERE / "package.json"), "UMAMI_TEST": json.dumps(options)}
    result = subprocess.run([str(NODE), str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_umamis_node_client_counts_page_views_and_events(app, new_context, chrome_ua, umami_node, tmp_path, e2e):
    owner = e2e.Owner(new_context(), app)
    owner.register()
    site_id = owner.add_site("Shop", DOMAIN)
    # The owner enters the Umami website id on the site's settings page.
    owner.page.goto(f"{app.url}/sites/{site_id}/edit")
    form = owner.page.locator("form#edit-site")
    form.locator('input[name="umami_website_id"]').fill(UMAMI_ID.upper())
    form.locator('button[name="submit"]').click()
    owner.page.wait_for_url(f"{app.url}/sites/{site_id}/")
    assert "Settings saved." in owner.page.locator("main").inner_text()

    # A back end reports its visitor's page views and a sign-up, with the visitor's user agent.
    calls = [
        ["track", {"hostname": DOMAIN, "url": "/pricing?utm_campaign=launch", "referrer": "https://www.google.com/",
                   "title": "Pricing", "language": "en-US", "screen": "1920x1080"}],
        ["track", {"url": "/home"}],  # the package's own example: a path, no hostname
        ["track", {"hostname": DOMAIN, "url": "/signup", "name": "signup", "data": {"plan": "pro", "seats": 3}}],
        ["identify", {"account": "a-1"}],
    ]
    answers = _run_umami(umami_node, tmp_path, hostUrl=app.url, websiteId=UMAMI_ID, userAgent=chrome_ua, calls=calls)
    assert answers == [[200, "{}"]] * 4
    rows = app.wait_for_hits(site_id, 3)
    assert [(r["event"], r["host"], r["path"], r["query"], r["props"]) for r in rows] == [
        ("pageview", DOMAIN, "/pricing", "", None),
        ("pageview", DOMAIN, "/home", "", None),
        ("signup", DOMAIN, "/signup", "", {"plan": "pro", "seats": "3"}),
    ]
    assert (rows[0]["utm_campaign"], rows[0]["source"], rows[0]["width"]) == ("launch", "search", 1920)
    assert {(r["browser"], r["bot"], r["visitor"]) for r in rows} == {("Chrome", "", rows[0]["visitor"])}

    # Without a userAgent the package says "Mozilla/5.0 Umami/<node version>": no browser, so the
    # hit is kept as a bot's, out of the reports (README: pass the visitor's user agent).
    answers = _run_umami(umami_node, tmp_path, hostUrl=app.url, websiteId=UMAMI_ID, calls=[["track", {"url": "/robot"}]])
    assert answers == [[200, "{}"]]
    (robot,) = app.wait_for_hits(site_id, 1, path="/robot")
    assert (robot["bot"], robot["device"]) == ("no-browser", "bot")

    seen = _dashboard(owner, app, site_id)
    assert (seen["visitors"], seen["pageviews"]) == ("1", "2")
    assert "/pricing" in seen["page"] and "/home" in seen["page"] and "/robot" not in seen["page"]
    assert "signup" in seen["event"]
    assert "plan: pro" in seen["prop"] and "seats: 3" in seen["prop"]
