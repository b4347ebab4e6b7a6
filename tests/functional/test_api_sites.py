"""``/api/v1/sites``: list, add, read, change and delete sites with a key."""

import pytest
from sqlalchemy import select

from tests.apiclient import bearer, error_of, make_key
from tracking.interfaces import ISiteDirectory
from tracking.models import Job, Site, SiteMember


@pytest.fixture
def writer(dbsession, owner):
    return make_key(dbsession, owner, scopes=("sites:write",))


def test_the_list_holds_the_users_sites_only(testapp, dbsession, owner, other, make_site, site):
    make_site(other, name="Not mine")
    second = make_site(owner, name="Another", url="https://another.example.com")
    key = make_key(dbsession, owner)
    body = testapp.get("/api/v1/sites", headers=bearer(key)).json
    assert [(s["id"], s["name"]) for s in body["results"]] == [(second.id, "Another"), (site.id, "Owner's blog")]
    assert body["results"][1] == {
        "id": site.id, "name": "Owner's blog", "url": "https://blog.example.com", "domain": "blog.example.com",
        "timezone": "UTC", "honor_dnt": True, "honor_gpc": True, "restrict_hosts": True, "umami_website_id": None,
        "created_at": site.created_at.isoformat(timespec="seconds") + "Z",
    }


def test_a_site_is_added_as_the_form_adds_it(testapp, dbsession, owner, writer):
    res = testapp.post_json("/api/v1/sites", {"name": " Shop ", "url": "Shop.Example.COM/cart?x=1", "timezone": "Europe/Berlin"},
                            headers=bearer(writer), status=201)
    site = dbsession.scalar(select(Site).where(Site.id == res.json["id"]))
    assert (site.owner_id, site.name, site.url, site.timezone) == (owner.id, "Shop", "https://shop.example.com", "Europe/Berlin")
    assert res.location == f"http://tracking.example.org/api/v1/sites/{site.id}"
    assert testapp.get(res.location, headers=bearer(writer)).json == res.json


def test_a_key_limited_to_sites_may_use_the_ones_it_adds(testapp, dbsession, owner, site):
    key = make_key(dbsession, owner, scopes=("sites:write",), sites=[site])
    new = testapp.post_json("/api/v1/sites", {"name": "New", "url": "https://new.example.com"}, headers=bearer(key)).json
    assert {s["id"] for s in testapp.get("/api/v1/sites", headers=bearer(key)).json["results"]} == {site.id, new["id"]}


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://x.example.com"}, "name"),
    ({"name": "X"}, "url"),
    ({"name": "", "url": "https://x.example.com"}, "name"),
    ({"name": "X" * 101, "url": "https://x.example.com"}, "name"),
    ({"name": 5, "url": "https://x.example.com"}, "name"),
    ({"name": "X", "url": "ftp://x.example.com"}, "url"),
    ({"name": "X", "url": "https://x.example.com", "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": "X", "url": "https://x.example.com", "honor_dnt": "yes"}, "honor_dnt"),
    ({"name": "X", "url": "https://x.example.com", "owner_id": 1}, "owner_id"),
])
def test_a_bad_site_is_a_400_naming_the_field(testapp, dbsession, writer, body, field):
    before = dbsession.scalar(select(Site.id).order_by(Site.id.desc()).limit(1))
    res = testapp.post_json("/api/v1/sites", body, headers=bearer(writer), status=400)
    assert error_of(res)["code"] == "invalid" and error_of(res)["field"] == field
    assert dbsession.scalar(select(Site.id).order_by(Site.id.desc()).limit(1)) == before


@pytest.mark.parametrize("body", [b"", b"[1]", b"{", b"\xff", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(testapp, writer, body):
    res = testapp.post("/api/v1/sites", body, headers={**bearer(writer), "Content-Type": "application/json"}, status=400)
    assert error_of(res)["code"] == "invalid_json"


def test_a_large_body_is_a_413(testapp, writer):
    res = testapp.post_json("/api/v1/sites", {"name": "x" * 5000, "url": "https://x.example.com"}, headers=bearer(writer), status=413)
    assert error_of(res)["code"] == "too_large"


def test_a_site_is_changed_and_the_beacon_forgets_it(app, testapp, dbsession, site, writer):
    directory = app.registry.getUtility(ISiteDirectory)
    forgotten = []
    directory.forget = forgotten.append
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"restrict_hosts": False, "timezone": "Asia/Tokyo"}, headers=bearer(writer))
    assert res.json["restrict_hosts"] is False and res.json["timezone"] == "Asia/Tokyo" and res.json["name"] == "Owner's blog"
    dbsession.expire_all()
    assert dbsession.get(Site, site.id).timezone == "Asia/Tokyo"
    assert forgotten == [site.id]
    # A new time zone queues the rebuild of the reports, as the settings page does.
    assert [(job.kind, job.payload) for job in dbsession.scalars(select(Job).where(Job.site_id == site.id))] == [("rebuild", "Asia/Tokyo")]
    assert error_of(testapp.patch_json(f"/api/v1/sites/{site.id}", {}, headers=bearer(writer), status=400))["field"] is None


def test_a_site_is_deleted_with_its_hits(testapp, dbsession, site, writer):
    from datetime import datetime

    from sqlalchemy import func, select

    from tests.hits import make_hit
    from tracking.ingest.store import Store
    from tracking.models import Hit

    site_id = site.id
    Store(None).write_batch(dbsession, [make_hit(site, datetime(2026, 3, 1, 12), path) for path in ("/", "/a")])
    assert dbsession.scalar(select(func.count(Hit.id)).where(Hit.site_id == site_id)) == 2
    res = testapp.delete(f"/api/v1/sites/{site_id}", headers=bearer(writer), status=204)
    assert res.body == b""
    dbsession.expunge_all()
    assert dbsession.get(Site, site_id) is None
    assert dbsession.scalar(select(func.count(Hit.id)).where(Hit.site_id == site_id)) == 0
    assert error_of(testapp.get(f"/api/v1/sites/{site_id}", headers=bearer(writer), status=404))["code"] == "not_found"


def test_adding_a_site_needs_the_scope(testapp, dbsession, owner):
    key = make_key(dbsession, owner, scopes=("stats:read", "events:write"))
    res = testapp.post_json("/api/v1/sites", {"name": "X", "url": "https://x.example.com"}, headers=bearer(key), status=403)
    assert error_of(res)["code"] == "insufficient_scope"


@pytest.mark.parametrize("role, may_change", [("viewer", False), ("admin", True)])
def test_a_members_key_lists_reads_and_changes_the_shared_site_as_the_role_allows(
    testapp, dbsession, owner, other, site, role, may_change
):
    site.members.append(SiteMember(user_id=other.id, role=role))
    dbsession.flush()
    key = make_key(dbsession, other, scopes=("stats:read", "sites:write"))
    listed = testapp.get("/api/v1/sites", headers=bearer(key)).json["results"]
    assert [s["id"] for s in listed] == [site.id]
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).json["id"] == site.id
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"name": "Renamed"}, headers=bearer(key), status="*")
    assert res.status_int == (200 if may_change else 403), res.body
    testapp.delete(f"/api/v1/sites/{site.id}", headers=bearer(key), status=403)  # only the owner deletes
    assert dbsession.get(Site, site.id) is not None


@pytest.mark.parametrize("name", ["Shop\x00", "Sh\nop", "Shop \ud800"])
def test_a_name_that_is_not_one_line_of_text_is_a_400_and_changes_nothing(testapp, dbsession, site, writer, name):
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"name": name}, headers=bearer(writer), status=400)
    assert error_of(res)["field"] == "name"
    dbsession.expire_all()
    assert dbsession.get(Site, site.id).name == "Owner's blog"
