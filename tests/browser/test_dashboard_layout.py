"""The dashboard's layout in a real browser, with demo data (``tracking-demo``'s generator): no
horizontal overflow on a 390 px phone (dashboard, a panel's details, the visits and a visit),
labels that keep a readable size, a 1280 px dashboard no taller than 2,400 px, tabs and a
chart that the script refreshes, and dark mode.

Each test also leaves screenshots in ``artifacts/screenshots/`` (those in ``docs/`` are copies
of them, made with ``--database=sqlite``).
"""

import json
import urllib.request

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracking.models import Visit, get_engine
from tracking.scripts.demo.load import generate

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: The tallest a 1280 px dashboard of the demo site may be (a screen and a half, about).
MAX_HEIGHT = 2400


@pytest.fixture(scope="module")
def demo(module_app, browser, e2e):
    """An owner and a site with 20,000 demo hits over 60 days, logged in."""
    app = module_app
    context = browser.new_context()
    try:
        owner = e2e.Owner(context, app)
        owner.register()
        site_id = owner.add_site("Demo shop", "https://shop.example.com")
        state = context.storage_state()
    finally:
        context.close()
    engine = get_engine({"sqlalchemy.url": app.db_url})
    try:
        with Session(engine) as session, session.begin():
            generate(session, site_id, 20_000, 60, seed=7)
        with Session(engine) as session:
            visit_id = session.scalar(select(Visit.id).where(Visit.site_id == site_id, Visit.pageviews > 2).limit(1))
    finally:
        engine.dispose()
    return app, site_id, visit_id, state


def _page(new_context, demo, viewport, scheme="light"):
    app, site_id, visit_id, state = demo
    page = new_context(storage_state=state, viewport=viewport, color_scheme=scheme).new_page()
    return page, app.url + f"/sites/{site_id}/", visit_id


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _shot(page, e2e, name):
    folder = e2e.ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_pages_do_not_overflow(new_context, demo, e2e, scheme):
    page, base, visit_id = _page(new_context, demo, PHONE, scheme)
    for name, path in [
        ("dashboard", ""), ("details", "panel?dim=page"), ("visits", "visits/"), ("visit", f"visits/{visit_id}"),
    ]:
        assert page.goto(base + path).status == 200
        page.wait_for_load_state("load")
        assert _overflow(page) <= 0, f"{name} at 390 px is {_overflow(page)} px too wide"
        if name == "dashboard":
            sizes = page.eval_on_selector_all(".chart-labels span, .chart-ticks span", "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
            assert sizes and min(sizes) >= 11
            _shot(page, e2e, f"dashboard-390-{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_desktop_dashboard_fits_a_screen_and_a_half(new_context, demo, e2e, scheme):
    page, base, _ = _page(new_context, demo, DESKTOP, scheme)
    page.goto(base)
    page.wait_for_load_state("load")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= MAX_HEIGHT
    tops = page.eval_on_selector_all("#headline .metric", "els => els.map(e => e.getBoundingClientRect().top)")
    assert len(tops) == 7 and len(set(tops)) == 1  # one row
    groups = page.eval_on_selector_all(".panel-group", "els => els.slice(0, 2).map(e => e.getBoundingClientRect().top)")
    assert groups[0] == groups[1]  # side by side
    _shot(page, e2e, f"dashboard-1280-{scheme}")


def test_tabs_switch_lists_with_the_keyboard(new_context, demo):
    page, base, _ = _page(new_context, demo, DESKTOP)
    page.goto(base)
    tab = page.locator("#tab-panel-page")
    assert tab.get_attribute("aria-selected") == "true"
    assert page.locator("#panel-entry").is_hidden()
    tab.focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#tab-panel-entry").get_attribute("aria-selected") == "true"
    assert page.locator("#panel-entry").is_visible() and page.locator("#panel-page").is_hidden()
    assert page.evaluate("document.activeElement.id") == "tab-panel-entry"


def test_choosing_a_period_shows_it_without_a_click_on_show(new_context, demo):
    page, base, _ = _page(new_context, demo, DESKTOP)
    page.goto(base + "?period=custom&from=2026-01-01&to=2026-01-31")
    with page.expect_navigation():
        page.select_option("#period", "7d")
    assert page.url.endswith("?period=7d")


def test_a_new_site_takes_the_browser_time_zone(new_context, demo):
    app, _, _, state = demo
    page = new_context(storage_state=state, timezone_id="America/Sao_Paulo").new_page()
    page.goto(app.url + "/sites/")
    form = page.locator("form#add-site")
    assert form.locator("select[name=timezone]").input_value() == "America/Sao_Paulo"
    form.locator('input[name="name"]').fill("Loja")
    form.locator('input[name="url"]').fill("https://loja.example.com.br")
    form.locator('button[name="submit"]').click()
    page.wait_for_load_state()
    assert "America/Sao_Paulo" in page.locator("main").inner_text()


def test_a_new_site_waits_for_its_first_hit_and_its_snippet_copies(new_context, demo, chrome_ua):
    app, _, _, state = demo
    context = new_context(storage_state=state)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = context.new_page()
    page.goto(app.url + "/sites/")
    form = page.locator("form#add-site")
    form.locator('input[name="name"]').fill("Waiting")
    form.locator('input[name="url"]').fill("https://waiting.example.org")
    form.locator('button[name="submit"]').click()
    page.wait_for_selector("#setup")
    site_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.locator("#copy-snippet").click()
    # The clipboard answers asynchronously; the label changes when it has (2 s at most here).
    page.locator("#copy-snippet", has_text="Copied").wait_for(timeout=2000)
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#snippet").text_content()
    page.locator("#check-install").click()
    assert "Watching for the first hit" in page.locator("#install-status").inner_text()
    body = json.dumps({"url": "https://waiting.example.org/hello"}).encode()
    request = urllib.request.Request(f"{app.url}/sites/{site_id}/hit", data=body,
                                     headers={"User-Agent": chrome_ua, "Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204 and "X-Tracking-Ignored" not in response.headers
    app.wait_for_hits(site_id, 1)
    page.wait_for_selector("#setup", state="detached", timeout=20_000)  # reloaded by itself
    assert page.locator("#metric-visitors .metric-value").inner_text() == "1"
    assert page.locator("#realtime").inner_text() == "1"
