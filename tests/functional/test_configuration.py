"""Every row of README.md's configuration table is honoured: its ini setting, and its environment
variable over the ini setting. The table is read from the README itself, so a row added there
without a check here fails."""

import re
from pathlib import Path

import pytest
from _maxminddb_geolite2 import geolite2_database

from tests.support import TestApp
from tracking import make_app
from tracking.ingest.enrich import VisitorKeys
from tracking.ingest.store import Store
from tracking.ingest.writer import WriterProcess
from tracking.interfaces import (
    IApiKeyLimiter,
    IBeaconLimiter,
    IDatabase,
    IHitPipeline,
    IHitStore,
    ISettings,
    ISiteDirectory,
)
from tracking.settings import ENVIRONMENT, TRUSTED_PROXY_VARIABLE, server_options

README = Path(__file__).parents[2] / "README.md"
SECRET = "a-secret-of-the-configuration-test-" + "z" * 8


def table_rows() -> list[tuple[str, str]]:
    """(environment variable or "", ini setting) of each row of the table under "## Configuration"."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[1].startswith("`"):
            continue
        variable = cells[0].strip("`")
        setting = re.match(r"`([^`]+)`", cells[1]).group(1)
        rows.append((variable, setting))
    return rows


ROWS = table_rows()


def build(tmp_path, monkeypatch, values=None, environ=None):
    """An application of the test database's settings with ``values`` (ini) and ``environ``."""
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in (environ or {}).items():
        monkeypatch.setenv(variable, value)
    settings = {
        "sqlalchemy.url": f"sqlite:///{tmp_path}/ini.sqlite",
        "tracking.secret": SECRET,
        "tracking.writer": "thread",
        **(values or {}),
    }
    return make_app(settings)


def test_the_table_is_read():
    assert ("TRACKING_DATABASE_URL", "sqlalchemy.url") in ROWS
    assert ("", "tracking.beacon_rate") in ROWS and ("", "retry.attempts") in ROWS
    assert len(ROWS) >= 15


#: For each setting of the table: a value that is not its default, and how the application shows
#: it took it (from the application, or for ``[server:main]`` from the server's options).
def _database(app):
    return app.registry.getUtility(IDatabase).engine.url.database


def _pipeline(app):
    return app.registry.getUtility(IHitPipeline)


def _store(app):
    return app.registry.getUtility(IHitStore)


def _flush_seconds(app):
    store = _store(app)
    return store.settings.flush_seconds if isinstance(store, WriterProcess) else store.interval


def _hsts(app):
    return "Strict-Transport-Security" in TestApp(app).get("/login").headers


def _visitor_key(app):
    return _pipeline(app).visitor_key(1, "203.0.113.7", "UA")


CITY_DB = geolite2_database()

CHECKS = {
    "sqlalchemy.url": (lambda tmp: f"sqlite:///{tmp}/chosen.sqlite", _database, lambda tmp: f"{tmp}/chosen.sqlite"),
    "tracking.secret": (lambda tmp: "chosen-" + "s" * 40, _visitor_key,
                        lambda tmp: VisitorKeys("chosen-" + "s" * 40)(1, "203.0.113.7", "UA")),
    "tracking.store_ip": (lambda tmp: "none", lambda app: _pipeline(app).store_ip, lambda tmp: "none"),
    "tracking.geoip_city_db": (lambda tmp: CITY_DB, lambda app: _pipeline(app).geo._reader is not None, lambda tmp: True),
    "tracking.spool_dir": (lambda tmp: f"{tmp}/chosen-spool", lambda app: str(_store(app).spool_dir),
                           lambda tmp: f"{tmp}/chosen-spool"),
    "tracking.writer": (lambda tmp: "process", lambda app: type(_store(app)), lambda tmp: WriterProcess),
    "tracking.buffer_size": (lambda tmp: "17", lambda app: _store(app).max_pending, lambda tmp: 17),
    "tracking.flush_seconds": (lambda tmp: "0.7", _flush_seconds, lambda tmp: 0.7),
    "tracking.shutdown_seconds": (lambda tmp: "3", lambda app: _store(app).shutdown_timeout, lambda tmp: 3.0),
    "tracking.site_cache_seconds": (lambda tmp: "9", lambda app: app.registry.getUtility(ISiteDirectory).ttl,
                                    lambda tmp: 9.0),
    "tracking.beacon_rate": (lambda tmp: "7", lambda app: app.registry.getUtility(IBeaconLimiter).rate, lambda tmp: 7.0),
    "tracking.beacon_burst": (lambda tmp: "11", lambda app: app.registry.getUtility(IBeaconLimiter).burst,
                              lambda tmp: 11),
    "tracking.api_rate": (lambda tmp: "60", lambda app: app.registry.getUtility(IApiKeyLimiter).limit, lambda tmp: 60),
    "tracking.production": (lambda tmp: "true", _hsts, lambda tmp: True),
    "tracking.registration": (lambda tmp: "closed", lambda app: TestApp(app).get("/register", status="*").status_code,
                              lambda tmp: 404),
    "retry.attempts": (lambda tmp: "5", lambda app: app.registry.settings["retry.attempts"], lambda tmp: 5),
}


@pytest.mark.parametrize(("variable", "setting"), [row for row in ROWS if row[1] != "trusted_proxy"], ids=lambda v: v)
def test_each_ini_setting_is_honoured(variable, setting, tmp_path, monkeypatch):
    assert setting in CHECKS, f"README's configuration table has {setting}: add its check here"
    value, observe, expected = CHECKS[setting]
    default = build(tmp_path, monkeypatch)
    chosen = build(tmp_path, monkeypatch, {setting: value(tmp_path)})
    assert observe(chosen) == expected(tmp_path)
    assert observe(default) != expected(tmp_path)  # the check can tell the value from the default


@pytest.mark.parametrize(("variable", "setting"), [row for row in ROWS if row[0] and row[1] != "trusted_proxy"], ids=lambda v: v)
def test_each_environment_variable_wins_over_the_ini(variable, setting, tmp_path, monkeypatch):
    assert ENVIRONMENT[variable] == setting
    value, observe, expected = CHECKS[setting]
    ini = build(tmp_path, monkeypatch, {setting: value(tmp_path)})
    assert observe(ini) == expected(tmp_path)
    default = build(tmp_path, monkeypatch).registry.getUtility(ISettings)
    # The variable brings back the default over the ini's chosen value ("" and unset are ignored).
    back = {
        "sqlalchemy.url": f"sqlite:///{tmp_path}/ini.sqlite",
        "tracking.secret": SECRET,
        "tracking.store_ip": default.store_ip,
        "tracking.spool_dir": default.spool_dir,
    }
    if setting in back:
        overridden = build(tmp_path, monkeypatch, {setting: value(tmp_path)}, {variable: back[setting]})
        assert observe(overridden) != expected(tmp_path)
    chosen = build(tmp_path, monkeypatch, environ={variable: value(tmp_path)})
    assert observe(chosen) == expected(tmp_path)


def test_the_trusted_proxy_row(tmp_path):
    assert (TRUSTED_PROXY_VARIABLE, "trusted_proxy") in ROWS
    options = {"trusted_proxy": "127.0.0.1", "threads": "8"}
    assert server_options({}, options, environ={})["trusted_proxy"] == "127.0.0.1"
    assert server_options({}, options, environ={TRUSTED_PROXY_VARIABLE: "10.0.0.5"})["trusted_proxy"] == "10.0.0.5"
    assert server_options({"http_port": "8081"}, {"default_host": "127.0.0.1", "default_port": "8080"}, environ={}) == {
        "listen": "127.0.0.1:8081"
    }


def test_the_store_of_each_writer(tmp_path, monkeypatch):
    assert isinstance(_store(build(tmp_path, monkeypatch, {"tracking.writer": "off"})), Store)
    assert isinstance(_store(build(tmp_path, monkeypatch, {"tracking.writer": "thread"})), Store)
