"""Checks for the embeddable tracking script (src/tracking/static/tracker.js)."""

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

TRACKER = Path(__file__).resolve().parents[2] / "src" / "tracking" / "static" / "tracker.js"

# Runs tracker.js in a fresh vm context per scenario, with just enough of a
# fake browser (window/document/location/history/navigator/fetch/Image).
# Prints {scenario: [hits...]} where each hit is {via, url, body}.
HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const src = fs.readFileSync(process.env.TRACKER_JS, 'utf8');

function page(opts = {}) {
  const hits = [], on = {}, loc = new URL(opts.url || 'https://site.test/a?x=1');
  const add = (type, fn) => (on[type] = on[type] || []).push(fn);
  const attrs = Object.assign({'data-beacon': 'https://stats.test/sites/42/hit'}, opts.attrs);
  const ctx = {
    innerWidth: 1280,
    addEventListener: add,
    location: {
      get href() { return loc.href; }, get pathname() { return loc.pathname; },
      get search() { return loc.search; }, get host() { return loc.host; },
      get protocol() { return loc.protocol; },
    },
    history: {
      pushState(state, title, url) { loc.href = new URL(url, loc.href).href; },
      replaceState(state, title, url) { loc.href = new URL(url, loc.href).href; },
    },
    document: {
      currentScript: {getAttribute: n => n in attrs ? attrs[n] : null, hasAttribute: n => n in attrs},
      referrer: 'https://ref.test/from', visibilityState: opts.visibility || 'visible',
      addEventListener: add,
    },
    navigator: {},
    Image: class { set src(v) { hits.push({via: 'image', url: v}); } },
  };
  if (opts.beacon !== null) ctx.navigator.sendBeacon = (url, body) => {
    hits.push({via: 'beacon', url, body: JSON.parse(body)});
    return opts.beacon !== false;
  };
  if (opts.fetch !== null) ctx.fetch = (url, init) => {
    hits.push({via: 'fetch', url, body: JSON.parse(init.body), init: Object.assign({}, init, {body: undefined})});
    return Promise.resolve();
  };
  ctx.window = ctx;
  vm.createContext(ctx);
  if (opts.before) vm.runInContext(opts.before, ctx);
  vm.runInContext(src, ctx);
  const fire = (type, ev) => (on[type] || []).forEach(fn => fn(ev || {}));
  const anchor = href => { const u = new URL(href); return {href: u.href, host: u.host, protocol: u.protocol}; };
  const click = href => fire('click', {button: 0, target: {closest: () => anchor(href)}});
  return {ctx, hits, loc, fire, click, history: ctx.history};
}

const out = {};
let p;

p = page(); out.load = p.hits;

p = page(); p.history.pushState({}, '', '/b'); p.history.pushState({}, '', '/b#top');
p.history.replaceState({}, '', '/c'); out.spa = p.hits;

p = page(); p.history.pushState({}, '', '/b'); p.loc.href = 'https://site.test/a?x=1'; p.fire('popstate');
out.popstate = p.hits;

p = page(); p.ctx.tracking('signup', {plan: 'pro'}); p.ctx.tracking('nop', {}); p.ctx.tracking('', {}); p.ctx.tracking(42);
out.event = p.hits;

p = page({before: "window.tracking = window.tracking || function () {" +
                  " (window.tracking.q = window.tracking.q || []).push(arguments) };" +
                  " tracking('early', {n: 1}); tracking('early2');"});
out.queue = p.hits;

p = page({before: "window.tracking = window.tracking || function () {" +
                  " (tracking.q = tracking.q || []).push(arguments) };" +
                  " tracking.variant = tracking.variant || function () {" +
                  " (tracking.v = tracking.v || []).push(arguments) };" +
                  " tracking('early'); tracking.variant('checkout', 'B'); tracking.variant('hero', 'x'.repeat(257));" +
                  " tracking.variant('hero', 'control');"});
p.history.pushState({}, '', '/next');
out.variant_queue = p.hits;

p = page({beacon: false}); out.beacon_false = p.hits;
p = page({beacon: null, fetch: null}); p.ctx.tracking('e', {k: 'a b'}); out.image = p.hits;

p = page();
p.ctx.tracking('Purchase', {plan: 'pro'}, {revenue: {amount: '29.90', currency: 'EUR'}});
p.ctx.tracking('Refund', 0, {revenue: {amount: '5', currency: 'USD'}});
p.ctx.tracking('NoRevenue', {}, {});
out.revenue = p.hits;

p = page({beacon: null, fetch: null});
p.ctx.tracking.variant('checkout', 'B');
p.ctx.tracking('Purchase', 0, {revenue: {amount: '1.50', currency: 'EUR'}});
out.revenue_image = p.hits;

p = page();
p.ctx.tracking.variant('checkout', 'B'); p.ctx.tracking.variant('hero', 'control');
p.ctx.tracking.variant('checkout', 'A');  // the last call for a key wins
p.ctx.tracking.variant('', 'x'); p.ctx.tracking.variant('k'.repeat(54), 'x');
p.ctx.tracking.variant('v', 'x'.repeat(257)); p.ctx.tracking.variant('n', 1); p.ctx.tracking.variant(null, 'x');
p.ctx.tracking('Signup', {plan: 'pro', 'experiment:hero': 'spoofed'});
p.history.pushState({}, '', '/next');
out.variant = p.hits;

p = page({attrs: {'data-outbound-links': ''}});
p.click('https://other.test/x?y=1'); p.click('https://site.test/internal'); p.click('mailto:a@b.test');
out.outbound = p.hits;
p = page(); p.click('https://other.test/x'); out.outbound_off = p.hits;

p = page({url: 'file:///tmp/page.html'}); p.ctx.tracking('e'); out.file = p.hits;

p = page({visibility: 'prerender'}); out.prerender_before = p.hits.slice();
p.ctx.document.visibilityState = 'visible'; p.fire('visibilitychange'); p.fire('visibilitychange');
out.prerender_after = p.hits;

p = page({before: "document.prerendering = true"}); out.prerendering_before = p.hits.slice();
p.ctx.document.prerendering = false; p.fire('prerenderingchange'); p.fire('visibilitychange');
out.prerendering_after = p.hits;

p = page({attrs: {'data-beacon': null}}); p.ctx.tracking('e'); out.no_beacon = p.hits;

p = page({before: "document.currentScript = null"}); out.no_script = p.hits;

setTimeout(() => console.log(JSON.stringify(out)), 0);
"""


def test_gzipped_size_under_1kb():
    size = len(gzip.compress(TRACKER.read_bytes(), compresslevel=9))
    assert size < 1024, f"tracker.js is {size} bytes gzipped"


@pytest.mark.parametrize("word", ["cookie", "localStorage", "sessionStorage"])
def test_no_client_side_storage(word):
    assert word.lower() not in TRACKER.read_text().lower()


@pytest.fixture(scope="module")
def hits():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH; cannot execute tracker.js")
    result = subprocess.run(
        [node, "-e", HARNESS],
        env={**os.environ, "TRACKER_JS": str(TRACKER)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


BEACON = "https://stats.test/sites/42/hit"
PAGE = "https://site.test/a?x=1"


def test_pageview_on_load(hits):
    assert hits["load"] == [{
        "via": "beacon", "url": BEACON,
        "body": {"url": PAGE, "event": "pageview", "width": 1280, "referrer": "https://ref.test/from"},
    }]


def test_push_state_new_path_only(hits):
    bodies = [h["body"] for h in hits["spa"]]
    # second pageview uses the previous URL as referrer; hash-only change
    # and replaceState send nothing
    assert bodies == [
        {"url": PAGE, "event": "pageview", "width": 1280, "referrer": "https://ref.test/from"},
        {"url": "https://site.test/b", "event": "pageview", "width": 1280, "referrer": PAGE},
    ]


def test_popstate(hits):
    assert [h["body"]["url"] for h in hits["popstate"]] == [PAGE, "https://site.test/b", PAGE]
    assert hits["popstate"][2]["body"]["referrer"] == "https://site.test/b"


def test_custom_event(hits):
    assert [h["body"] for h in hits["event"][1:]] == [
        {"url": PAGE, "event": "signup", "width": 1280, "props": {"plan": "pro"}},
        {"url": PAGE, "event": "nop", "width": 1280},  # empty props are omitted
    ]


def test_queued_calls_replayed(hits):
    assert [h["body"] for h in hits["queue"]] == [
        {"url": PAGE, "event": "pageview", "width": 1280, "referrer": "https://ref.test/from"},
        {"url": PAGE, "event": "early", "width": 1280, "props": {"n": 1}},
        {"url": PAGE, "event": "early2", "width": 1280},
    ]


def test_variants_queued_before_the_script_label_the_first_page_view(hits):
    """The snippet's queue takes ``tracking.variant`` calls too: they are applied before the page
    view sent on load, so it carries the variants, and so does every later hit (queued events
    included); a variant the script would ignore is ignored from the queue as well."""
    variants = {"experiment:checkout": "B", "experiment:hero": "control"}
    assert [h["body"] for h in hits["variant_queue"]] == [
        {"url": PAGE, "event": "pageview", "width": 1280, "referrer": "https://ref.test/from", "props": variants},
        {"url": PAGE, "event": "early", "width": 1280, "props": variants},
        {"url": "https://site.test/next", "event": "pageview", "width": 1280, "referrer": PAGE, "props": variants},
    ]


def test_beacon_false_falls_back_to_fetch(hits):
    beacon, fetch = hits["beacon_false"]
    assert beacon["via"] == "beacon"
    assert fetch["via"] == "fetch" and fetch["url"] == BEACON
    assert fetch["body"] == beacon["body"]
    assert fetch["init"] == {"method": "POST", "keepalive": True, "mode": "no-cors", "credentials": "omit"}


def test_image_fallback(hits):
    assert [h["via"] for h in hits["image"]] == ["image", "image"]
    assert hits["image"][1]["url"] == (
        BEACON + "?url=https%3A%2F%2Fsite.test%2Fa%3Fx%3D1&event=e&width=1280"
        "&props=%7B%22k%22%3A%22a%20b%22%7D"
    )


def test_outbound_links(hits):
    assert [h["body"] for h in hits["outbound"][1:]] == [
        {"url": PAGE, "event": "outbound", "width": 1280, "props": {"url": "https://other.test/x?y=1"}},
    ]
    assert len(hits["outbound_off"]) == 1  # only the pageview without the attribute


def test_non_http_pages_not_tracked(hits):
    assert hits["file"] == []


@pytest.mark.parametrize("mode", ["prerender", "prerendering"])
def test_prerender_waits_until_activated(hits, mode):
    assert hits[mode + "_before"] == []
    assert [h["body"]["event"] for h in hits[mode + "_after"]] == ["pageview"]


def test_missing_current_script_or_beacon_sends_nothing(hits):
    # the harness would have exited non-zero had anything thrown
    assert hits["no_script"] == []
    assert hits["no_beacon"] == []


def test_event_with_revenue(hits):
    assert [h["body"] for h in hits["revenue"][1:]] == [
        {"url": PAGE, "event": "Purchase", "width": 1280, "props": {"plan": "pro"},
         "revenue": {"amount": "29.90", "currency": "EUR"}},
        {"url": PAGE, "event": "Refund", "width": 1280, "revenue": {"amount": "5", "currency": "USD"}},
        {"url": PAGE, "event": "NoRevenue", "width": 1280},
    ]


def test_revenue_and_variant_through_the_image(hits):
    assert hits["revenue_image"][1]["url"] == (
        BEACON + "?url=https%3A%2F%2Fsite.test%2Fa%3Fx%3D1&event=Purchase&width=1280"
        "&props=%7B%22experiment%3Acheckout%22%3A%22B%22%7D"
        "&revenue=%7B%22amount%22%3A%221.50%22%2C%22currency%22%3A%22EUR%22%7D"
    )


def test_variant_labels_every_later_hit(hits):
    load, signup, pageview = (h["body"] for h in hits["variant"])
    assert "props" not in load  # the page view sent before the call
    variants = {"experiment:checkout": "A", "experiment:hero": "control"}
    assert signup["props"] == {"plan": "pro", **variants}  # a variant outranks a property of that name
    assert pageview == {"url": "https://site.test/next", "event": "pageview", "width": 1280,
                        "referrer": PAGE, "props": variants}
