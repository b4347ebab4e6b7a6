"""Form errors a person can act on: each names its field and sits beside it, the box above the
form lists them with links to the fields, and no stock text is left."""

import pytest

from tracking.models import Site


def errors_box(res, formid):
    box = res.html.select_one(f"#{formid}-errors")
    return [" ".join(li.get_text(" ").split()) for li in box.select("li")], box


def beside(res, oid_name):
    """The message shown under the field named ``oid_name`` (its ``mb-3`` item)."""
    field = res.html.select_one(f"[name={oid_name}]")
    item = field.find_parent(class_="mb-3")
    feedback = item.select_one(".invalid-feedback")
    return " ".join(feedback.text.split()) if feedback else None


def test_deleting_a_site_without_the_box_ticked_says_so_beside_the_box(testapp, owner, dbsession, site):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/delete")
    assert "btn-danger" in page.html.select_one("#delete-sitesubmit")["class"]  # the red action is red
    res = page.forms["delete-site"].submit("submit")
    listed, box = errors_box(res, "delete-site")
    assert listed == ["Confirmation : Tick the box to confirm."]
    assert box.select_one("a")["href"] == "#" + res.html.select_one("[name=confirm][type=checkbox]")["id"]
    assert "highlighted below" not in res.text
    assert beside(res, "confirm") == "Tick the box to confirm."
    checkbox = res.html.select_one("[name=confirm][type=checkbox]")
    assert "is-invalid" in checkbox["class"] and checkbox["aria-invalid"] == "true"
    assert dbsession.get(Site, site.id) is not None


def test_a_wrong_password_at_login_is_shown_beside_the_password(testapp, owner):
    form = testapp.get("/login").forms["login"]
    form["email"] = owner.email
    form["password"] = "not the password"
    res = form.submit("submit")
    assert beside(res, "password") == "Unknown e-mail address or wrong password."
    listed, _ = errors_box(res, "login")
    assert listed == ["Password : Unknown e-mail address or wrong password."]
    assert "highlighted below" not in res.text


@pytest.mark.parametrize(
    ("fields", "listed"),
    [
        ({"name": "", "email": ""}, ["Name : Enter your name.", "E-mail : Enter your e-mail address."]),
        ({"email": "nope"}, ["E-mail : Enter an e-mail address such as ada@example.org."]),
    ],
)
def test_registration_errors_name_their_fields(testapp, fields, listed):
    form = testapp.get("/register").forms["register"]
    values = {"name": "Ada", "email": "ada@example.org", **fields}
    for name, value in values.items():
        form[name] = value
    form["password"] = form["password-confirm"] = "correct horse battery staple"
    res = form.submit("submit")
    assert errors_box(res, "register")[0] == listed
    assert "Required" not in res.text and "Invalid email address" not in res.text


def test_the_account_deletion_button_is_red(testapp, owner):
    testapp.login(owner.email)
    page = testapp.get(f"/users/{owner.id}/delete")
    assert "btn-danger" in page.html.select_one("#delete-accountsubmit")["class"]
