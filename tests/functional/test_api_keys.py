"""API keys: made and revoked on the account page, shown once, kept as a hash; the bearer
identity, its scopes and sites; the per-key rate limit."""

import hashlib
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.apiclient import bearer, error_of, make_key
from tracking import api_keys
from tracking.api_keys import KeyLimiter
from tracking.interfaces import IApiKeyLimiter
from tracking.models import ApiKey


def create_key_on_page(testapp, user, label="CI", scopes=("stats:read",), sites=(), expires=""):
    page = testapp.get(f"/users/{user.id}/keys")
    form = page.forms["api-key"]
    form["label"] = label
    for checkbox in form.fields.get("checkbox", []):
        if checkbox._value in scopes or checkbox._value in {str(site.id) for site in sites}:
            checkbox.checked = True
    form["expires"] = expires
    return form.submit("submit")


def test_a_key_is_shown_once_and_stored_as_a_hash(testapp, dbsession, owner, site):
    testapp.login(owner.email)
    res = create_key_on_page(testapp, owner, label="Grafana", scopes=("stats:read", "sites:write"))
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    key = re.search(r"trk_[A-Za-z0-9_-]{43}", res.text).group(0)
    row = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.label == "Grafana" and row.scope_set == {"stats:read", "sites:write"} and row.site_ids is None
    assert key not in repr(dbsession.execute(select(ApiKey.__table__)).all())
    again = testapp.get(f"/users/{owner.id}/keys")
    assert key not in again.text and row.prefix in again.text and "Grafana" in again.text
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).json["id"] == site.id


def test_the_form_says_what_is_wrong_beside_the_field(testapp, dbsession, owner):
    testapp.login(owner.email)
    res = create_key_on_page(testapp, owner, label="", scopes=(), expires="2001-01-01")
    assert res.status_code == 200
    assert "Required" in res.text  # the label
    assert "Choose at least one scope." in res.text
    assert "An expiry lies in the future." in res.text
    assert dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id)) is None


def test_a_label_with_a_control_character_is_a_form_error(testapp, dbsession, owner):
    testapp.login(owner.email)
    res = create_key_on_page(testapp, owner, label="deploy\x00bot")
    assert res.status_code == 200
    assert "Remove the control characters" in res.text
    assert dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id)) is None


def test_a_key_limited_to_a_site_sees_only_it(testapp, dbsession, owner, make_site, site):
    other_site = make_site(owner, name="Shop", url="https://shop.example.com")
    testapp.login(owner.email)
    res = create_key_on_page(testapp, owner, sites=(other_site,))
    key = re.search(r"trk_[A-Za-z0-9_-]{43}", res.text).group(0)
    testapp.reset()
    assert testapp.get(f"/api/v1/sites/{other_site.id}", headers=bearer(key)).status_code == 200
    assert error_of(testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key), status=404))["code"] == "not_found"
    assert [s["id"] for s in testapp.get("/api/v1/sites", headers=bearer(key)).json["results"]] == [other_site.id]


def test_a_revoked_key_opens_nothing(testapp, dbsession, owner, site):
    key = make_key(dbsession, owner)
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).status_code == 200
    row = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    testapp.login(owner.email)
    page = testapp.get(f"/users/{owner.id}/keys")
    page.forms["keys"].submit("key", value=str(row.id))
    testapp.reset()
    res = testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key), status=401)
    assert error_of(res)["code"] == "unauthorized" and res.headers["WWW-Authenticate"] == "Bearer"


def test_a_disabled_accounts_keys_open_nothing_until_it_is_enabled(testapp, dbsession, admin, owner, site):
    key = make_key(dbsession, owner, scopes=("stats:read", "events:write"))
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).status_code == 200
    testapp.login(admin.email)
    page = testapp.get(f"/users/{owner.id}/manage")
    assert page.forms["state"].submit("submit").status_code == 303
    testapp.reset()
    res = testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key), status=401)
    assert error_of(res)["code"] == "unauthorized"
    hits = {"hits": [{"site_id": site.id, "url": "https://example.com/", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}]}
    assert error_of(testapp.post_json("/api/v1/events", hits, headers=bearer(key), status=401))["code"] == "unauthorized"
    testapp.login(admin.email)
    assert testapp.get(f"/users/{owner.id}/manage").forms["state"].submit("submit").status_code == 303
    testapp.reset()
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).status_code == 200


def test_nobody_else_revokes_my_key(testapp, dbsession, owner, other):
    key = make_key(dbsession, owner)
    row = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    testapp.login(other.email)
    token = testapp.csrf_token(f"/users/{other.id}/keys")
    testapp.post(f"/users/{other.id}/revoke-key", {"csrf_token": token, "key": str(row.id)})
    assert testapp.post(f"/users/{owner.id}/revoke-key", {"csrf_token": token, "key": str(row.id)}, status="*").status_code == 404
    dbsession.expire_all()
    assert api_keys.resolve(dbsession, key, api_keys.now()) is not None


def test_an_expired_key_opens_nothing(testapp, dbsession, owner, site, monkeypatch):
    key = make_key(dbsession, owner, expires_at=api_keys.now() + timedelta(days=1))
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).status_code == 200
    monkeypatch.setattr(api_keys, "now", lambda: datetime.utcnow() + timedelta(days=2))
    assert error_of(testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key), status=401))["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer ", "Bearer trk_nope", "Bearer " + "trk_" + "x" * 500, "Basic dXNlcjpwYXNz"])
def test_a_wrong_key_is_a_401(testapp, owner, site, header):
    res = testapp.get(f"/api/v1/sites/{site.id}", headers={"Authorization": header}, status=401)
    assert error_of(res)["code"] == "unauthorized"


def test_the_session_cookie_does_not_open_the_api(testapp, owner, site):
    testapp.login(owner.email)
    assert error_of(testapp.get(f"/api/v1/sites/{site.id}", status=401))["code"] == "unauthorized"
    # Nor can a form on another site use it to change anything.
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"name": "Forged"}, status=401)
    assert error_of(res)["code"] == "unauthorized"


def test_a_key_needs_no_csrf_token_and_sets_no_cookie(testapp, dbsession, owner, site):
    key = make_key(dbsession, owner, scopes=("sites:write",))
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"name": "Renamed"}, headers=bearer(key))
    assert res.json["name"] == "Renamed" and "Set-Cookie" not in res.headers


def test_a_key_opens_no_page(testapp, dbsession, admin, make_site):
    """Keys are for the API: the pages (an admin's included) ask for a log-in."""
    key = make_key(dbsession, admin, scopes=("stats:read", "sites:write", "events:write"))
    own = make_site(admin)
    for path in ("/users/", f"/sites/{own.id}/", f"/users/{admin.id}/keys"):
        assert testapp.get(path, headers=bearer(key), status=303).location.startswith("http://tracking.example.org/login")


def test_a_scope_missing_is_a_403(testapp, dbsession, owner, site):
    key = make_key(dbsession, owner, scopes=("stats:read",))
    res = testapp.delete(f"/api/v1/sites/{site.id}", headers=bearer(key), status=403)
    assert error_of(res)["code"] == "insufficient_scope"
    key = make_key(dbsession, owner, scopes=("sites:write",))
    res = testapp.get(f"/api/v1/sites/{site.id}/aggregate", headers=bearer(key), status=403)
    assert error_of(res)["code"] == "insufficient_scope"


def test_another_users_site_is_not_found(testapp, dbsession, other, site):
    key = make_key(dbsession, other, scopes=("stats:read", "sites:write"))
    for path in ("", "/aggregate"):
        assert error_of(testapp.get(f"/api/v1/sites/{site.id}{path}", headers=bearer(key), status=404))["code"] == "not_found"
    assert error_of(testapp.delete(f"/api/v1/sites/{site.id}", headers=bearer(key), status=404))["code"] == "not_found"


def test_last_use_is_recorded(testapp, dbsession, owner, site):
    key = make_key(dbsession, owner)
    testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key))
    dbsession.expire_all()
    row = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    assert row.last_used_at is not None and api_keys.now() - row.last_used_at < timedelta(minutes=1)


def test_the_rate_limit_answers_429_with_its_headers(app, testapp, dbsession, owner, site):
    clock = [1000.0]
    app.registry.registerUtility(KeyLimiter(3, clock=lambda: clock[0]), IApiKeyLimiter)
    key = make_key(dbsession, owner)
    other_key = make_key(dbsession, owner)
    remaining = []
    for _ in range(3):
        res = testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key))
        assert res.headers["RateLimit-Limit"] == "3" and res.headers["RateLimit-Reset"] == "60"
        remaining.append(res.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    clock[0] += 15
    res = testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key), status=429)
    assert error_of(res)["code"] == "rate_limited"
    assert res.headers["Retry-After"] == "45" and res.headers["RateLimit-Remaining"] == "0"
    # Refused before anything else: a scope the key lacks changes nothing.
    assert testapp.delete(f"/api/v1/sites/{site.id}", headers=bearer(key), status=429)
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(other_key)).status_code == 200
    clock[0] += 45
    assert testapp.get(f"/api/v1/sites/{site.id}", headers=bearer(key)).headers["RateLimit-Remaining"] == "2"


def test_the_rate_limit_is_a_setting(app_settings, db_service):
    from tracking import make_app

    app = make_app({**app_settings, "tracking.api_rate": "0"}, database=db_service)
    assert app.registry.getUtility(IApiKeyLimiter).check(1) is None
    assert KeyLimiter(600).check(1).limit == 600
