"""The application's services: each registered for its interface and providing it, the two hit
stores interchangeable, and no part reaching into the registry or the settings another way."""

import re
from pathlib import Path

import pytest
from zope.interface.verify import verifyObject

from tests.support import store_settings
from tracking.ingest.store import Store
from tracking.ingest.writer import WriterProcess
from tracking.interfaces import IBeaconLimiter, IDatabase, IHitPipeline, IHitStore, ISettings, ISiteDirectory
from tracking.settings import Settings

ROOT = Path(__file__).parents[2]
SERVICES = (ISettings, IDatabase, ISiteDirectory, IHitPipeline, IHitStore, IBeaconLimiter)


@pytest.mark.parametrize("iface", SERVICES, ids=lambda iface: iface.__name__)
def test_each_service_is_registered_and_provides_its_interface(app, iface):
    assert verifyObject(iface, app.registry.getUtility(iface))


def test_the_settings_service_is_the_settings(app):
    assert isinstance(app.registry.getUtility(ISettings), Settings)


def test_both_hit_stores_provide_the_hit_store_interface(tmp_path):
    assert verifyObject(IHitStore, Store(None, spool_dir=str(tmp_path)))
    assert verifyObject(IHitStore, WriterProcess(store_settings("sqlite://", **{"tracking.spool_dir": str(tmp_path)})))


def test_the_limit_turned_off_is_a_limiter_too(app_settings, db_service):
    from tracking import make_app

    app = make_app({**app_settings, "tracking.beacon_rate": "0"}, database=db_service)
    limiter = app.registry.getUtility(IBeaconLimiter)
    assert verifyObject(IBeaconLimiter, limiter) and limiter.check("203.0.113.7", 1) == 0.0


def sources(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_code_reaches_into_the_registry_as_a_dictionary():
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sources("src", "tests", "bench")
             for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"registry\[", line)]
    assert found == []


def test_only_the_settings_module_reads_the_settings():
    """No module but ``tracking.settings`` parses a ``tracking.*`` key or calls ``asbool``: they
    ask for the :class:`~tracking.interfaces.ISettings` service."""
    keys = re.compile(r"""["']tracking\.(secret|production|store_ip|geoip_city_db|spool_dir|writer|buffer_size|"""
                      r"""flush_seconds|shutdown_seconds|site_cache_seconds|beacon_rate|beacon_burst)["']|\basbool\b""")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sources("src")
             if path.name != "settings.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if keys.search(line)]
    assert found == []
