"""Settings are parsed once, into one frozen object; start-up refuses unsafe or unusable values
with one clear line."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tracking.security import includeme as security_includeme
from tracking.settings import DEVELOPMENT_SECRET, ISettings, Settings, UnsafeSettings

ROOT = Path(__file__).parents[2]


def production(**extra):
    return {"sqlalchemy.url": "sqlite://", "tracking.production": "true", **extra}


def parse(values, environ=None):
    return Settings.from_ini(values, environ=environ or {})


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "TRACKING_SECRET is not set"),
        (DEVELOPMENT_SECRET, "TRACKING_SECRET is the development default"),
        ("short-secret", "TRACKING_SECRET is shorter than 32 characters"),
    ],
)
def test_production_refuses_weak_secrets(secret, message):
    with pytest.raises(UnsafeSettings) as info:
        parse(production(**{"tracking.secret": secret}))
    assert str(info.value) == f"tracking: refusing to start: {message}"


def test_production_accepts_a_strong_secret():
    settings = parse(production(**{"tracking.secret": "s" * 40}))
    assert settings.production is True
    assert settings.store_ip == "truncated"


def test_the_settings_are_frozen():
    settings = parse({"sqlalchemy.url": "sqlite://", "tracking.secret": "x"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.secret = "y"
    with pytest.raises(TypeError):
        settings.database["sqlalchemy.url"] = "postgresql:///elsewhere"


def test_store_ip_must_be_known():
    with pytest.raises(UnsafeSettings, match="tracking.store_ip must be one of none, truncated, full"):
        parse({"sqlalchemy.url": "sqlite://", "tracking.secret": "x", "tracking.store_ip": "everything"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tracking.production", "perhaps", "tracking.production must be true or false, not 'perhaps'"),
        ("tracking.writer", "fork", "tracking.writer must be one of process, thread, off, not 'fork'"),
        ("tracking.buffer_size", "lots", "tracking.buffer_size must be a number, 0 or more, not 'lots'"),
        ("tracking.buffer_size", "0", "tracking.buffer_size must be a whole number of hits, 1 or more, not '0'"),
        ("tracking.flush_seconds", "0", "tracking.flush_seconds must be more than 0, not '0'"),
        ("tracking.shutdown_seconds", "-1", "tracking.shutdown_seconds must be a number, 0 or more, not '-1'"),
        ("tracking.site_cache_seconds", "nan", "tracking.site_cache_seconds must be a number, 0 or more, not 'nan'"),
        ("tracking.beacon_rate", "inf", "tracking.beacon_rate must be a number, 0 or more, not 'inf'"),
        ("tracking.beacon_burst", "2.5", "tracking.beacon_burst must be a whole number of hits, not '2.5'"),
        ("retry.attempts", "0", "retry.attempts must be a whole number, 1 or more, not '0'"),
        ("tracking.api_rate", "1.5", "tracking.api_rate must be a whole number of requests, not '1.5'"),
        ("tracking.api_rate", "-1", "tracking.api_rate must be a number, 0 or more, not '-1'"),
    ],
)
def test_an_unusable_value_is_one_clear_line(key, value, message):
    with pytest.raises(UnsafeSettings) as info:
        parse({"sqlalchemy.url": "sqlite://", "tracking.secret": "x", key: value})
    assert str(info.value) == f"tracking: refusing to start: {message}"


def test_environment_overrides_the_ini():
    settings = parse(
        {"sqlalchemy.url": "sqlite://", "tracking.secret": "", "sqlalchemy.pool_size": "7"},
        {"TRACKING_DATABASE_URL": "postgresql+psycopg:///prod", "TRACKING_SECRET": "from-env", "TRACKING_STORE_IP": ""},
    )
    assert dict(settings.database) == {"sqlalchemy.url": "postgresql+psycopg:///prod", "sqlalchemy.pool_size": "7"}
    assert settings.secret == "from-env"
    assert settings.store_ip == "truncated"  # an empty variable overrides nothing


def test_a_writer_process_is_given_only_what_it_needs():
    settings = parse({
        "sqlalchemy.url": "sqlite:///x.sqlite", "sqlalchemy.pool_pre_ping": "true", "tracking.secret": "s" * 40,
        "tracking.flush_seconds": "0.5", "tracking.spool_dir": "/var/spool/tracking", "pyramid.reload_templates": "true",
    })
    store = settings.store()
    assert dataclasses.asdict(store) == {
        "database": {"sqlalchemy.url": "sqlite:///x.sqlite", "sqlalchemy.pool_pre_ping": "true"},
        "buffer_size": 100_000,
        "flush_seconds": 0.5,
        "shutdown_seconds": 30.0,
        "spool_dir": "/var/spool/tracking",
    }


def test_pserve_production_ini_without_secret_prints_one_line(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "TRACKING_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "pserve"), str(ROOT / "production.ini")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    # (Pyramid may warn about pkg_resources first; our message is one line, with no traceback.)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "tracking: refusing to start: TRACKING_SECRET is not set"


def test_production_cookie_is_secure():
    from pyramid.config import Configurator

    config = Configurator(settings={})
    config.registry.registerUtility(parse(production(**{"tracking.secret": "s" * 40})), ISettings)
    security_includeme(config)
    config.commit()
    from pyramid.interfaces import ISessionFactory
    from pyramid.testing import DummyRequest

    request = DummyRequest()
    session = config.registry.getUtility(ISessionFactory)(request)
    session["x"] = 1
    response = request.response
    for callback in request.response_callbacks:
        callback(request, response)
    cookie = response.headers["Set-Cookie"]
    assert "secure" in cookie.lower() and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_api_rate_is_600_a_minute_unless_set():
    assert parse({"sqlalchemy.url": "sqlite://", "tracking.secret": "x"}).api_rate == 600
    assert parse({"sqlalchemy.url": "sqlite://", "tracking.secret": "x", "tracking.api_rate": "60"}).api_rate == 60
