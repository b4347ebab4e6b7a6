"""Ids in the path: a number its column cannot hold is an unknown id (404) that never reaches the
database, and only a database that cannot be reached counts as an outage for the beacon's sites."""

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError

from tests.hits import CHROME
from tracking.interfaces import IDatabase
from tracking.models import Database

UA = {"User-Agent": CHROME}
BEYOND_32_BITS = 2**31  # users.id and sites.id are INTEGER on PostgreSQL
BEYOND_64_BITS = 2**63  # visits.id (and hits.id) is BIGINT


@pytest.mark.parametrize(
    "path",
    [
        f"/sites/{BEYOND_32_BITS}/",
        f"/sites/{BEYOND_32_BITS}/visits/",
        f"/sites/{BEYOND_32_BITS}/bots/",
        f"/sites/{BEYOND_32_BITS}/export.csv?dim=visits",
        f"/sites/{BEYOND_32_BITS}/export.csv?dim=hits",
        "/users/3000000000/",
        f"/users/{BEYOND_32_BITS}/delete",
        "/users/2147483647/",  # the largest id the column holds, with no row: an ordinary 404
    ],
)
@pytest.mark.parametrize("signed_in", [False, True])
def test_an_id_beyond_its_column_is_not_found(testapp, owner, path, signed_in):
    if signed_in:
        testapp.login(owner.email)
    assert testapp.get(path, status="*").status_code == 404


@pytest.mark.parametrize("visit_id", [BEYOND_64_BITS, BEYOND_64_BITS - 1, 10**19 + 1])
def test_a_visit_id_beyond_64_bits_is_not_found(testapp, owner, site, visit_id):
    testapp.login(owner.email)
    assert testapp.get(f"/sites/{site.id}/visits/{visit_id}", status="*").status_code == 404


def test_the_beacon_of_an_id_beyond_the_column_is_a_404_and_not_an_outage(testapp, owner, site, make_site):
    """A hit for site 2147483648 once made PostgreSQL refuse the query; the refusal was taken for
    an outage, and for 5 s every site the process had not loaded yet answered 503."""
    shop = make_site(owner, name="Shop", url="https://shop.example.com")
    res = testapp.get(f"/sites/{BEYOND_32_BITS}/hit", params={"url": "https://blog.example.com/"}, headers=UA, status="*")
    assert (res.status_code, res.json) == (404, {"errors": {"site": "no such site"}})
    # Neither site was loaded by this process before: both are read from the database now.
    assert testapp.get(f"/sites/{shop.id}/hit", params={"url": "https://shop.example.com/"}, headers=UA).status_code == 204
    testapp.login(owner.email)
    assert testapp.get(f"/sites/{site.id}/").status_code == 200


class _Failing:
    """A database whose sessions fail every lookup with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.session_factory = lambda: _FailingSession(error)


class _FailingSession:
    """A session whose every lookup fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def get(self, *args, **kwargs):
        raise self.error


def test_a_failing_query_is_not_an_outage(app, testapp, owner, site, monkeypatch, caplog):
    """A query the database refuses (a DataError, say) is a 500 for that request only; the next
    site the process has not loaded yet is read from the database as usual."""
    shop_url = {"url": "https://blog.example.com/"}
    refused = DataError("SELECT sites ...", {}, Exception("integer out of range"))
    working = app.registry.getUtility(IDatabase)
    app.registry.registerUtility(_Failing(refused), IDatabase)
    res = testapp.get(f"/sites/{site.id}/hit", params=shop_url, headers=UA, status="*")
    assert (res.status_code, res.json) == (500, {"errors": {"server": "internal error"}})
    assert "sites cannot be loaded" not in caplog.text
    app.registry.registerUtility(working, IDatabase)
    assert testapp.get(f"/sites/{site.id}/hit", params=shop_url, headers=UA).status_code == 204
    testapp.login(owner.email)
    assert testapp.get(f"/sites/{site.id}/").status_code == 200


def test_an_unreachable_database_is_still_an_outage(app, testapp, site, monkeypatch, tmp_path, caplog):
    """The other side of the line: a connection that cannot be made marks the database away for
    the retry interval, and a site not loaded yet answers 503 (retry later)."""
    engine = create_engine(f"sqlite:///{tmp_path}/missing-directory/tracking.sqlite")
    working = app.registry.getUtility(IDatabase)
    app.registry.registerUtility(Database(engine), IDatabase)
    params = {"url": "https://blog.example.com/"}
    res = testapp.get(f"/sites/{site.id}/hit", params=params, headers=UA, status="*")
    assert (res.status_code, res.json) == (503, {"errors": {"server": "the database is unreachable; retry later"}})
    assert "sites cannot be loaded" in caplog.text
    app.registry.registerUtility(working, IDatabase)
    # Within the retry interval the database is not asked again.
    assert testapp.get(f"/sites/{site.id}/hit", params=params, headers=UA, status="*").status_code == 503
    engine.dispose()


def test_the_visits_of_a_site_deleted_by_another_process_are_not_found(testapp, dbsession, owner, site):
    """This process still has the site in its directory (cached for the beacon); the row is gone."""
    testapp.login(owner.email)
    assert testapp.get(f"/sites/{site.id}/").status_code == 200  # the directory holds it now
    dbsession.delete(site)
    dbsession.flush()
    assert testapp.get(f"/sites/{site.id}/visits/1", status="*").status_code == 404
