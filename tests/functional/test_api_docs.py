"""The API's contract, served as OpenAPI 3.1 and as a page of the app; the suite holds every
API answer to it (``tests/openapi_check.py``)."""

import json
import re
from types import SimpleNamespace

import pytest
from webob import Response

from tests import openapi_check
from tracking.summaries.dimensions import DIMENSIONS


def test_the_document_is_served_to_anyone(testapp):
    res = testapp.get("/api/v1/openapi.json")
    doc = res.json
    assert doc["openapi"] == "3.1.0" and res.headers["Access-Control-Allow-Origin"] == "*"
    assert set(doc["paths"]) == {"/sites", "/sites/{site_id}", "/sites/{site_id}/aggregate", "/sites/{site_id}/timeseries",
                                 "/sites/{site_id}/breakdown", "/sites/{site_id}/realtime", "/events",
                                 "/sites/{site_id}/goals", "/sites/{site_id}/goals/{goal_id}",
                                 "/sites/{site_id}/members", "/sites/{site_id}/members/{user_id}",
                                 "/sites/{site_id}/invitations", "/sites/{site_id}/invitations/{invitation_id}",
                                 "/sites/{site_id}/shares", "/sites/{site_id}/shares/{share_id}"}
    dimension = next(p for p in doc["paths"]["/sites/{site_id}/breakdown"]["get"]["parameters"] if p["name"] == "dimension")
    assert dimension["schema"]["enum"] == [*DIMENSIONS, "goal"]  # goal: the goals panel's rows


def test_the_reference_page_is_the_apps_own(testapp):
    res = testapp.get("/api/v1/reference")
    assert res.content_type == "text/html" and "Content-Security-Policy" in res.headers
    for path in ("/api/v1/sites/{site_id}/breakdown", "/api/v1/events", "/api/v1/sites/{site_id}"):
        assert path in res.text
    assert "prop_event" in res.text and "Authorization: Bearer" in res.text
    # No script, no style attribute, nothing from another origin.
    assert "<script" not in res.text and " style=" not in res.text
    assert not re.search(r'(?:src|href)="https?://(?!tracking\.example\.org)', res.text)


def test_the_account_page_links_to_the_keys_and_the_keys_page_to_the_reference(testapp, owner):
    testapp.login(owner.email)
    keys = testapp.get(f"/users/{owner.id}/").click("Manage your API keys")
    assert keys.click("API", href="reference").status_code == 200


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    ("GET", "/api/v1/sites/1/realtime", 200, {"site_id": 1, "visitors": "3"}),  # a string where a number is due
    ("GET", "/api/v1/sites/1/realtime", 418, {"site_id": 1, "visitors": 3}),  # an undocumented status
    ("GET", "/api/v1/sites/1", 404, {"error": "not found"}),  # not the error form
    ("POST", "/api/v1/events", 202, {"accepted": 1}),  # a required field missing
])
def test_the_check_catches_an_answer_the_document_does_not_describe(method, path, status, body):
    response = Response(status=status, body=json.dumps(body).encode(), content_type="application/json", charset=None)
    with pytest.raises(AssertionError):
        openapi_check.check(method, path, response)


def test_the_check_catches_a_204_with_a_body():
    response = SimpleNamespace(status_int=204, body=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(AssertionError):
        openapi_check.check("DELETE", "/api/v1/sites/1", response)
