"""Error pages."""

from tracking.views.sites import SitesViews


def test_unexpected_error_is_a_500_page_without_traceback(testapp, owner, monkeypatch, caplog):
    testapp.login(owner.email)

    def explode(self):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(SitesViews, "index", explode)
    res = testapp.get("/sites/", status=500)
    assert "Something went wrong" in res.text
    assert "secret internals" not in res.text and "Traceback" not in res.text
    assert "secret internals" in caplog.text  # but it is logged
