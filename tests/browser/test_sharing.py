"""A site seen by more than its owner, in a real browser: an invited viewer, and a share link."""

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def test_a_viewer_is_invited_and_a_share_link_opens_the_dashboard_until_revoked(app, new_context, e2e):
    owner = e2e.Owner(new_context(), app)
    owner.register()
    site_id = owner.add_site("Team shop", "https://team-shop.example")
    page = owner.page

    # The owner invites a viewer and copies the invitation's link.
    page.goto(f"{app.url}/sites/{site_id}/members")
    form = page.locator("form#invite")
    form.locator('input[name="email"]').fill("vera@example.org")
    form.locator('select[name="role"]').select_option("viewer")
    form.locator('button[name="submit"]').click()
    invitation = page.locator("#invitation-link input").input_value()
    assert invitation.startswith(app.url + "/invitations/")

    # The viewer opens it in a browser of their own, creates the account with that address, accepts.
    viewer = new_context().new_page()
    viewer.goto(invitation)
    viewer.get_by_role("link", name="Create the account").click()
    form = viewer.locator("form#register")
    assert form.locator('input[name="email"]').input_value() == "vera@example.org"
    form.locator('input[name="name"]').fill("Vera Viewer")
    form.locator('input[name="password"]').fill(PASSWORD)
    form.locator('input[name="password-confirm"]').fill(PASSWORD)
    form.locator('button[name="submit"]').click()
    viewer.wait_for_url(invitation)
    viewer.locator("form#accept button[name='submit']").click()
    viewer.wait_for_url(f"{app.url}/sites/{site_id}/")
    assert viewer.locator("h1").inner_text() == "Team shop"
    assert viewer.locator("#headline").is_visible()
    actions = viewer.locator("#site-actions")
    assert actions.get_by_role("link", name="Visits", exact=True).is_visible()
    assert actions.get_by_role("link", name="Settings", exact=True).count() == 0
    assert viewer.goto(f"{app.url}/sites/{site_id}/edit").status == 403

    # The owner sees the new member and the history.
    page.goto(f"{app.url}/sites/{site_id}/members")
    assert "vera@example.org" in page.locator("#members").inner_text()
    assert "vera@example.org (Vera Viewer) accepted the invitation as viewer" in page.locator("#history").inner_text()

    # A share link opens the dashboard in a fresh browser with no account.
    page.goto(f"{app.url}/sites/{site_id}/share")
    form = page.locator("form#share-link")
    form.locator('input[name="label"]').fill("Board meeting")
    form.locator('button[name="submit"]').click()
    link = page.locator("#new-share-link input").input_value()
    assert link.startswith(app.url + "/share/")
    stranger = new_context().new_page()
    response = stranger.goto(link)
    assert response.status == 200
    assert stranger.locator("h1").inner_text() == "Team shop"
    assert stranger.locator("#headline").is_visible()
    assert stranger.locator("#site-actions a").count() == 0

    # Revoked, it is a 404.
    page.goto(f"{app.url}/sites/{site_id}/share")
    form = page.locator("form#revoke-link")
    form.locator('select[name="link"]').select_option(label="Board meeting")
    form.locator('button[name="submit"]').click()
    assert "revoked" in page.locator("main").inner_text()
    response = new_context().new_page().goto(link)
    assert response.status == 404
    assert stranger.reload().status == 404
