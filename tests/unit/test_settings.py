"""Start-up refuses unsafe production settings with one clear line."""

import subprocess
import sys
from pathlib import Path

import pytest

from tracking.settings import DEVELOPMENT_SECRET, UnsafeSettings, apply_environment, check
from tracking.security import includeme as security_includeme

ROOT = Path(__file__).parents[2]


def production(**extra):
    return {"sqlalchemy.url": "sqlite://", "tracking.production": "true", **extra}


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
        check(production(**{"tracking.secret": secret}))
    assert str(info.value) == f"tracking: refusing to start: {message}"


def test_production_accepts_a_strong_secret():
    settings = production(**{"tracking.secret": "s" * 40})
    check(settings)
    assert settings["tracking.store_ip"] == "truncated"


def test_store_ip_must_be_known():
    with pytest.raises(UnsafeSettings, match="tracking.store_ip must be one of none, truncated, full"):
        check({"sqlalchemy.url": "sqlite://", "tracking.secret": "x", "tracking.store_ip": "everything"})


def test_environment_overrides_the_ini():
    settings = apply_environment(
        {"sqlalchemy.url": "sqlite://", "tracking.secret": ""},
        {"TRACKING_DATABASE_URL": "postgresql+psycopg:///prod", "TRACKING_SECRET": "from-env", "TRACKING_STORE_IP": ""},
    )
    assert settings == {"sqlalchemy.url": "postgresql+psycopg:///prod", "tracking.secret": "from-env"}


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

    config = Configurator(settings=production(**{"tracking.secret": "s" * 40}))
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
