"""A shop's checkout in a real browser: the real snippet sends an event with revenue and a
variant, and the owner makes goals, a funnel and an experiment in the browser and sees the visitor."""

from decimal import Decimal

import pytest

pytestmark = pytest.mark.browser

CHECKOUT_BODY = """
<p><button id="buy" type="button">Buy</button></p>
<script>
window.addEventListener('load', function () { tracking.variant('checkout', 'B'); });
document.getElementById('buy').addEventListener('click', function () {
  tracking('Purchase', {plan: 'pro'}, {revenue: {amount: '29.90', currency: 'EUR'}});
});
</script>
"""


def test_revenue_and_a_variant_reach_the_funnel_and_the_experiment(app, pages, new_context, chrome_ua, e2e):
    owner = e2e.Owner(new_context(), app)
    owner.register()
    shop = pages.origin(e2e.SHOP_HOST)
    site_id = owner.add_site("Shop", shop)
    pages.write("checkout.html", e2e.shop_page(owner.copy_snippet(), "Checkout", CHECKOUT_BODY))

    # A visitor opens the checkout (a page view sent before the variant is known), goes on to
    # the pricing (a single-page-app page view, with the variant) and buys.
    page = new_context(user_agent=chrome_ua).new_page()
    page.goto(shop + "/checkout.html", wait_until="load")
    app.wait_for_hits(site_id, 1)
    page.click("#pricing")
    app.wait_for_hits(site_id, 2)
    page.click("#buy")
    opened, pricing, purchase = app.wait_for_hits(site_id, 3)
    assert opened["props"] is None
    assert pricing["props"] == {"experiment:checkout": "B"}
    assert (purchase["event"], purchase["props"]) == ("Purchase", {"plan": "pro", "experiment:checkout": "B"})
    assert (purchase["revenue_amount"], purchase["revenue_currency"]) == (Decimal("29.90"), "EUR")

    # The owner adds a page goal and an event goal with revenue on the goals page.
    for fields in ({"name": "Checkout page", "kind": "page", "pattern": "/checkout.html"},
                   {"name": "Purchase", "kind": "event", "event": "Purchase", "currency": "EUR"}):
        owner.page.goto(f"{app.url}/sites/{site_id}/goals/")
        form = owner.page.locator("form#add-goal")
        form.locator('select[name="kind"]').select_option(fields.pop("kind"))
        for name, value in fields.items():
            form.locator(f'input[name="{name}"]').fill(value)
        form.locator('button[name="submit"]').click()
        owner.page.wait_for_load_state()
    assert "Purchase" in owner.page.locator("main").inner_text()

    # The owner makes a funnel of the two goals and sees the visitor pass both steps.
    owner.page.goto(f"{app.url}/sites/{site_id}/funnels")
    form = owner.page.locator("form#funnel-add")
    form.locator('input[name="name"]').fill("Checkout")
    form.locator('select[name="step"]').nth(0).select_option(label="Checkout page")
    form.locator('select[name="step"]').nth(1).select_option(label="Purchase")
    form.locator('button[name="submit"]').click()
    owner.page.wait_for_url(f"{app.url}/sites/{site_id}/funnels?funnel=*")
    rows = owner.page.locator("#funnel-steps tbody tr")
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(2)] == ["1", "1"]
    assert owner.page.locator("svg.chart rect.funnel-step").count() == 2

    # And an experiment on the purchase: variant B has one exposed, converting visitor.
    owner.page.goto(f"{app.url}/sites/{site_id}/experiments")
    form = owner.page.locator("form#experiment-add")
    form.locator('input[name="name"]').fill("Checkout button")
    form.locator('input[name="key"]').fill("checkout")
    form.locator('input[name="control"]').fill("A")
    form.locator('select[name="goal"]').select_option(label="Purchase")
    form.locator('button[name="submit"]').click()
    owner.page.wait_for_url(f"{app.url}/sites/{site_id}/experiments?experiment=*")
    cells = owner.page.locator("#variants tbody tr").nth(1).locator("td")
    assert [cells.nth(i).inner_text() for i in range(3)] == ["B", "1", "1"]
    assert "Too early to tell" in owner.page.locator("#too-early").inner_text()
