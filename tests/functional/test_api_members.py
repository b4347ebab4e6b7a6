"""``/api/v1/sites/<id>/{members,invitations,shares}``: a site's people and share links through
the API, with the members and share pages' rules and history."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.apiclient import bearer, error_of, make_key
from tests.support import TestApp
from tracking import api_keys, members
from tracking.models import ApiKey, Invitation, ShareLink, SiteEvent, SiteMember
from tracking.models.types import utcnow

HOST = "http://tracking.example.org"


@pytest.fixture
def people(dbsession, make_user, site):
    """An admin and a viewer of ``site``."""
    admin = make_user(name="Ann Admin", email="ann@example.com")
    viewer = make_user(name="Vic Viewer", email="vic@example.com")
    site.members.append(SiteMember(user_id=admin.id, role="admin"))
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    dbsession.flush()
    return admin, viewer


@pytest.fixture
def manager(dbsession, owner):
    """The owner's key that reads and changes."""
    return make_key(dbsession, owner, scopes=("stats:read", "sites:write"))


@pytest.fixture
def fresh(app):
    """A browser with no account and no cookie."""
    return lambda: TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "198.51.100.4"})


def history(dbsession, site) -> list[str]:
    dbsession.expire_all()
    return [event.what for event in members.history(dbsession, site.id)]


def test_the_members_are_listed_with_their_roles_and_the_pending_invitations(testapp, dbsession, owner, site, people,
                                                                             manager):
    admin, viewer = people
    members.invite(dbsession, site, "new@example.com", "admin", owner, utcnow())
    members.invite(dbsession, site, "old@example.com", "viewer", owner, utcnow() - timedelta(days=8))  # expired
    body = testapp.get(f"/api/v1/sites/{site.id}/members", headers=bearer(manager)).json
    assert body["results"] == [
        {"user_id": owner.id, "name": "Olivia Owner", "email": "owner@example.com", "role": "owner"},
        {"user_id": admin.id, "name": "Ann Admin", "email": "ann@example.com", "role": "admin"},
        {"user_id": viewer.id, "name": "Vic Viewer", "email": "vic@example.com", "role": "viewer"},
    ]
    [invitation] = body["invitations"]
    assert (invitation["email"], invitation["role"]) == ("new@example.com", "admin")
    assert invitation["expires_at"].endswith("Z") and "url" not in invitation and "token_hash" not in invitation
    listed = testapp.get(f"/api/v1/sites/{site.id}/invitations", headers=bearer(manager)).json["results"]
    assert listed == body["invitations"]


def test_an_invitation_answers_its_link_once_and_the_link_lets_the_address_join(testapp, dbsession, owner, other, site,
                                                                               manager):
    res = testapp.post_json(f"/api/v1/sites/{site.id}/invitations", {"email": " OTHER@Example.com ", "role": "admin"},
                            headers=bearer(manager), status=201)
    body = res.json
    assert (body["email"], body["role"]) == ("other@example.com", "admin")
    match = re.fullmatch(re.escape(HOST) + r"/invitations/([A-Za-z0-9_-]{43})", body["url"])
    assert match, body["url"]
    token = match.group(1)
    row = dbsession.get(Invitation, body["id"])
    assert row.token_hash == members.secret_hash(token) and token not in row.token_hash
    assert res.location == f"{HOST}/api/v1/sites/{site.id}/invitations/{row.id}"
    assert testapp.get(res.location, headers=bearer(manager)).json == {k: v for k, v in body.items() if k != "url"}
    assert "url" not in testapp.get(f"/api/v1/sites/{site.id}/members", headers=bearer(manager)).json["invitations"][0]
    assert history(dbsession, site)[0] == "invited other@example.com as admin"
    # The link is the page's: the invited address accepts it there.
    testapp.login(other.email)
    testapp.get(body["url"][len(HOST):]).forms["accept"].submit("submit")
    dbsession.expire_all()
    assert members.role_of(site, other.id) == "admin"


def test_an_invitation_is_revoked_and_its_link_opens_nothing(testapp, dbsession, owner, site, manager):
    body = testapp.post_json(f"/api/v1/sites/{site.id}/invitations", {"email": "x@example.com"}, headers=bearer(manager)).json
    assert body["role"] == "viewer"
    res = testapp.delete(f"/api/v1/sites/{site.id}/invitations/{body['id']}", headers=bearer(manager), status=204)
    assert res.body == b""
    dbsession.expire_all()
    assert dbsession.get(Invitation, body["id"]) is None
    assert history(dbsession, site)[0] == "revoked the invitation of x@example.com"
    testapp.get(body["url"][len(HOST):], status=404)
    error = error_of(testapp.delete(f"/api/v1/sites/{site.id}/invitations/{body['id']}", headers=bearer(manager), status=404))
    assert error["code"] == "not_found"


def test_a_members_role_is_changed_and_a_member_removed(testapp, dbsession, site, people, manager):
    admin, viewer = people
    res = testapp.patch_json(f"/api/v1/sites/{site.id}/members/{viewer.id}", {"role": "admin"}, headers=bearer(manager))
    assert res.json == {"user_id": viewer.id, "name": "Vic Viewer", "email": "vic@example.com", "role": "admin"}
    assert history(dbsession, site)[0] == "made vic@example.com admin"
    testapp.delete(f"/api/v1/sites/{site.id}/members/{admin.id}", headers=bearer(manager), status=204)
    assert history(dbsession, site)[0] == "removed ann@example.com"
    assert [(m.user_id, m.role) for m in site.members] == [(viewer.id, "admin")]
    testapp.delete(f"/api/v1/sites/{site.id}/members/{admin.id}", headers=bearer(manager), status=404)


def test_an_admin_may_manage_too_but_not_touch_the_owner(testapp, dbsession, owner, site, people):
    admin, viewer = people
    key = make_key(dbsession, admin, scopes=("stats:read", "sites:write"))
    testapp.patch_json(f"/api/v1/sites/{site.id}/members/{viewer.id}", {"role": "admin"}, headers=bearer(key))
    for res in (testapp.patch_json(f"/api/v1/sites/{site.id}/members/{owner.id}", {"role": "viewer"}, headers=bearer(key),
                                   status=400),
                testapp.delete(f"/api/v1/sites/{site.id}/members/{owner.id}", headers=bearer(key), status=400)):
        assert error_of(res)["code"] == "invalid" and error_of(res)["field"] == "user_id"
    dbsession.expire_all()
    assert site.owner_id == owner.id and members.role_of(site, owner.id) == "owner"
    assert history(dbsession, site) == ["made vic@example.com admin"]


def test_a_share_link_answers_its_address_once_and_opens_the_dashboard(testapp, fresh, dbsession, site, manager):
    expires = (utcnow() + timedelta(days=3)).date()
    res = testapp.post_json(f"/api/v1/sites/{site.id}/shares", {
        "label": " For the board ", "expires": expires.isoformat(), "include_visits": True,
        "origins": ["https://Intranet.example.com/"]}, headers=bearer(manager), status=201)
    body = res.json
    match = re.fullmatch(re.escape(HOST) + r"/share/([A-Za-z0-9_-]{43})/", body["url"])
    assert match, body["url"]
    assert body == {"id": body["id"], "label": "For the board", "password": False,
                    "expires_at": f"{expires.isoformat()}T00:00:00Z", "include_visits": True,
                    "origins": ["https://intranet.example.com"], "created_at": body["created_at"], "url": body["url"]}
    link = dbsession.get(ShareLink, body["id"])
    assert link.secret_hash == members.secret_hash(match.group(1))
    assert history(dbsession, site)[0] == "created the share link “For the board”"
    listed = testapp.get(f"/api/v1/sites/{site.id}/shares", headers=bearer(manager)).json["results"]
    assert listed == [{name: value for name, value in body.items() if name != "url"}]
    assert testapp.get(res.location, headers=bearer(manager)).json == listed[0]
    browser = fresh()
    assert browser.get(body["url"][len(HOST):]).status_code == 200
    testapp.delete(f"/api/v1/sites/{site.id}/shares/{body['id']}", headers=bearer(manager), status=204)
    assert history(dbsession, site)[0] == "revoked the share link “For the board”"
    browser.get(body["url"][len(HOST):], status=404)
    assert testapp.get(f"/api/v1/sites/{site.id}/shares", headers=bearer(manager)).json["results"] == []


def test_a_share_link_with_a_password_asks_for_it(testapp, fresh, dbsession, site, manager):
    body = testapp.post_json(f"/api/v1/sites/{site.id}/shares", {"label": "Locked", "password": "correct horse battery"},
                             headers=bearer(manager), status=201).json
    assert body["password"] is True and body["expires_at"] is None and body["include_visits"] is False
    link = dbsession.get(ShareLink, body["id"])
    assert members.check_link_password(link, "correct horse battery")
    res = fresh().get(body["url"][len(HOST):], status="*")
    assert res.status_code == 303 and res.location.endswith("/unlock")


# Who may


ENDPOINTS = [  # (method, path under the site, body, whether it reads)
    ("GET", "members", None, True),
    ("GET", "invitations", None, True),
    ("GET", "shares", None, True),
    ("GET", "invitations/{invitation}", None, True),
    ("GET", "shares/{share}", None, True),
    ("POST", "invitations", {"email": "z@example.com"}, False),
    ("POST", "shares", {"label": "L"}, False),
    ("PATCH", "members/{viewer}", {"role": "admin"}, False),
    ("DELETE", "members/{viewer}", None, False),
    ("DELETE", "invitations/{invitation}", None, False),
    ("DELETE", "shares/{share}", None, False),
]


@pytest.fixture
def call(testapp, dbsession, owner, site, people):
    """``call(key, method, path, body, status)``: a request on ``site``'s endpoints ({viewer},
    {invitation}, {share}: a member, an invitation, a link of it)."""
    members.invite(dbsession, site, "someone@example.com", "viewer", owner, utcnow())
    members.create_link(dbsession, site, label="Shared", password=None, expires_at=None, include_visits=False,
                        origins=[], by=owner)
    names = {"viewer": people[1].id,
             "invitation": dbsession.scalar(select(Invitation.id).where(Invitation.site_id == site.id)),
             "share": dbsession.scalar(select(ShareLink.id).where(ShareLink.site_id == site.id))}

    def request(key, method, path, body, status):
        url = f"/api/v1/sites/{site.id}/{path.format(**names)}"
        if body is None:
            return testapp.request(url, method=method, headers=bearer(key), status=status)
        return testapp.request(url, method=method, headers={**bearer(key), "Content-Type": "application/json"},
                               body=json.dumps(body).encode(), status=status)

    return request


def _events(dbsession, site) -> int:
    dbsession.expire_all()
    return len(dbsession.scalars(select(SiteEvent).where(SiteEvent.site_id == site.id)).all())


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_an_admins_key_may(call, dbsession, people, method, path, body, reads):
    key = make_key(dbsession, people[0], scopes=("stats:read", "sites:write"))
    res = call(key, method, path, body, "*")
    assert res.status_code == {"GET": 200, "POST": 201, "PATCH": 200, "DELETE": 204}[method], res.body


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_a_viewers_key_may_not(call, dbsession, site, people, method, path, body, reads):
    key = make_key(dbsession, people[1], scopes=("stats:read", "sites:write"))
    before = _events(dbsession, site)
    assert error_of(call(key, method, path, body, 403))["code"] == "insufficient_scope"
    assert _events(dbsession, site) == before


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_another_users_key_finds_nothing(call, dbsession, other, site, method, path, body, reads):
    key = make_key(dbsession, other, scopes=("stats:read", "sites:write"))
    before = _events(dbsession, site)
    assert error_of(call(key, method, path, body, 404))["code"] == "not_found"
    assert _events(dbsession, site) == before


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_a_key_limited_to_another_site_finds_nothing(call, dbsession, owner, make_site, site, method, path, body, reads):
    key = make_key(dbsession, owner, scopes=("stats:read", "sites:write"), sites=[make_site(owner, name="Other")])
    before = _events(dbsession, site)
    assert error_of(call(key, method, path, body, 404))["code"] == "not_found"
    assert _events(dbsession, site) == before


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_a_key_without_the_scope_may_not(call, dbsession, owner, site, method, path, body, reads):
    key = make_key(dbsession, owner, scopes=("events:write", "sites:write") if reads else ("stats:read", "events:write"))
    assert error_of(call(key, method, path, body, 403))["code"] == "insufficient_scope"


@pytest.mark.parametrize(("method", "path", "body", "reads"), ENDPOINTS)
def test_a_revoked_key_opens_nothing(call, dbsession, owner, site, method, path, body, reads):
    key = make_key(dbsession, owner, scopes=("stats:read", "sites:write"))
    row = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    assert api_keys.revoke(dbsession, owner.id, row.id, utcnow())
    before = _events(dbsession, site)
    assert error_of(call(key, method, path, body, 401))["code"] == "unauthorized"
    assert _events(dbsession, site) == before


@pytest.mark.parametrize("path", ["members/0", "members/x", "members/99999999999999999999", "invitations/12345",
                                  "shares/12345", "shares/-1", "nothing"])
def test_unknown_ids_are_404(testapp, site, manager, path):
    res = testapp.delete(f"/api/v1/sites/{site.id}/{path}", headers=bearer(manager), status=404)
    assert error_of(res)["code"] == "not_found"


# Bad input


@pytest.mark.parametrize(("body", "field"), [
    ({}, "email"),
    ({"email": "not an address"}, "email"),
    ({"email": 5}, "email"),
    ({"email": ["a@example.com"]}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"email": "a@example.com", "role": "owner"}, "role"),
    ({"email": "a@example.com", "role": None}, "role"),
    ({"email": "a@example.com", "site_id": 3}, "site_id"),
])
def test_a_bad_invitation_is_a_400_naming_the_field(testapp, dbsession, site, manager, body, field):
    res = testapp.post_json(f"/api/v1/sites/{site.id}/invitations", body, headers=bearer(manager), status=400)
    assert error_of(res)["code"] == "invalid" and error_of(res)["field"] == field
    assert dbsession.scalar(select(Invitation.id).where(Invitation.site_id == site.id)) is None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "label"),
    ({"label": ""}, "label"),
    ({"label": "L" * 101}, "label"),
    ({"label": "a\nb"}, "label"),
    ({"label": "a\ud800"}, "label"),
    ({"label": 3}, "label"),
    ({"label": "L", "password": "short"}, "password"),
    ({"label": "L", "password": 1234567890123}, "password"),
    ({"label": "L", "password": "pass\ud800word-long"}, "password"),
    ({"label": "L", "expires": "2000-01-01"}, "expires"),
    ({"label": "L", "expires": "tomorrow"}, "expires"),
    ({"label": "L", "include_visits": "yes"}, "include_visits"),
    ({"label": "L", "include_visits": 1}, "include_visits"),
    ({"label": "L", "origins": "https://a.example.com"}, "origins"),
    ({"label": "L", "origins": [1]}, "origins"),
    ({"label": "L", "origins": ["https://a.example.com/path"]}, "origins"),
    ({"label": "L", "origins": [f"https://{n}.example.com" for n in range(11)]}, "origins"),
    ({"label": "L", "secret": "x"}, "secret"),
])
def test_a_bad_share_link_is_a_400_naming_the_field(testapp, dbsession, site, manager, body, field):
    res = testapp.post_json(f"/api/v1/sites/{site.id}/shares", body, headers=bearer(manager), status=400)
    assert error_of(res)["code"] == "invalid" and error_of(res)["field"] == field
    assert dbsession.scalar(select(ShareLink.id).where(ShareLink.site_id == site.id)) is None


@pytest.mark.parametrize(("body", "field"), [({}, "role"), ({"role": "owner"}, "role"), ({"role": "remove"}, "role"),
                                             ({"role": ["admin"]}, "role"), ({"role": "admin", "x": 1}, "x")])
def test_a_bad_role_is_a_400_naming_the_field(testapp, dbsession, site, people, manager, body, field):
    viewer = people[1]
    res = testapp.patch_json(f"/api/v1/sites/{site.id}/members/{viewer.id}", body, headers=bearer(manager), status=400)
    assert error_of(res)["field"] == field
    dbsession.expire_all()
    assert members.role_of(site, viewer.id) == "viewer"


@pytest.mark.parametrize("body", [b"", b"[1]", b"{", b"\xff"])
def test_a_body_that_is_not_a_json_object_is_a_400(testapp, site, manager, body):
    for path in ("invitations", "shares"):
        res = testapp.post(f"/api/v1/sites/{site.id}/{path}", body, headers={**bearer(manager), "Content-Type": "application/json"},
                           status=400)
        assert error_of(res)["code"] == "invalid_json"


def test_a_large_body_is_a_413(testapp, site, manager):
    res = testapp.post_json(f"/api/v1/sites/{site.id}/shares", {"label": "x" * 5000}, headers=bearer(manager), status=413)
    assert error_of(res)["code"] == "too_large"


@pytest.mark.parametrize("path", ["members", "members/{member}", "members/12345", "invitations/12345", "shares"])
def test_without_a_key_nothing_is_looked_up(testapp, site, people, path):
    path = path.format(member=people[0].id)
    for method in ("GET", "DELETE"):
        res = testapp.request(f"/api/v1/sites/{site.id}/{path}", method=method, status=401)
        assert error_of(res)["code"] == "unauthorized"
