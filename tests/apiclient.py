"""Helpers of the API's tests: keys, and requests made with them."""

from tracking import api_keys


def make_key(dbsession, user, scopes=("stats:read",), sites=None, **kw) -> str:
    """A live key of ``user`` (the key itself)."""
    _, key = api_keys.create(dbsession, user.id, "test", set(scopes), [site.id for site in sites] if sites else None, **kw)
    dbsession.flush()
    return key


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def error_of(res) -> dict:
    """The error of an API answer, checked to have the documented shape."""
    assert res.content_type == "application/json"
    body = res.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "field", "message"}
    return body["error"]
