"""What an owner pastes into their pages: the snippet on the site's page, and the script it loads."""

import pytest


@pytest.fixture
def logged_in(testapp, owner):
    testapp.login(owner.email)
    return testapp


def test_snippet_on_the_site_page(logged_in, site):
    page = logged_in.get(f"/sites/{site.id}/")
    snippet = page.html.select_one("#snippet").text
    assert f'data-beacon="http://tracking.example.org/sites/{site.id}/hit"' in snippet
    assert 'src="http://tracking.example.org/tracker.js"' in snippet
    assert f'<noscript><img src="http://tracking.example.org/sites/{site.id}/hit"' in snippet
    assert "/visit" not in snippet  # the old path keeps working (test_beacon_paths.py), new snippets use /hit


def test_tracker_script_is_served_publicly(testapp):
    res = testapp.get("/tracker.js")
    assert res.content_type == "text/javascript"
    assert b"sendBeacon" in res.body
    assert "Set-Cookie" not in res.headers
