"""Settings: ini values, overridden by environment variables, checked before the app serves.

Environment variables win over the ini file, so a deployment can keep its secrets and
database URL out of files:

=========================  ==========================  ======================================
variable                   setting                     meaning
=========================  ==========================  ======================================
TRACKING_DATABASE_URL      sqlalchemy.url              SQLAlchemy database URL
TRACKING_SECRET            tracking.secret             signs the session cookie, keys visitor
                                                       keys (≥ 32 chars)
TRACKING_STORE_IP          tracking.store_ip           none | truncated | full
TRACKING_GEOIP_CITY_DB     tracking.geoip_city_db      path of a MaxMind/DB-IP city ``.mmdb``
TRACKING_SPOOL_DIR         tracking.spool_dir          where hits wait if the database is down
                                                       at shutdown (unset: var/spool under the
                                                       working directory)
=========================  ==========================  ======================================
"""

import os

from pyramid.settings import asbool

ENVIRONMENT = {
    "TRACKING_DATABASE_URL": "sqlalchemy.url",
    "TRACKING_SECRET": "tracking.secret",
    "TRACKING_STORE_IP": "tracking.store_ip",
    "TRACKING_GEOIP_CITY_DB": "tracking.geoip_city_db",
    "TRACKING_SPOOL_DIR": "tracking.spool_dir",
}

#: The secret ``development.ini`` ships with; production refuses it.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
STORE_IP_MODES = ("none", "truncated", "full")


class UnsafeSettings(SystemExit):
    """Raised at start-up; being a ``SystemExit`` it prints one clear line, not a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"tracking: refusing to start: {message}")


def apply_environment(settings: dict, environ: os._Environ | dict = os.environ) -> dict:
    for variable, key in ENVIRONMENT.items():
        value = environ.get(variable)
        if value:
            settings[key] = value
    return settings


def check(settings: dict) -> None:
    """Refuse settings that would be unsafe in production."""
    if not settings.get("sqlalchemy.url"):
        raise UnsafeSettings("no database URL: set TRACKING_DATABASE_URL")
    secret = settings.get("tracking.secret") or ""
    production = asbool(settings.get("tracking.production", False))
    if production:
        if not secret:
            raise UnsafeSettings("TRACKING_SECRET is not set")
        if secret == DEVELOPMENT_SECRET:
            raise UnsafeSettings("TRACKING_SECRET is the development default")
        if len(secret) < MIN_SECRET_LENGTH:
            raise UnsafeSettings(f"TRACKING_SECRET is shorter than {MIN_SECRET_LENGTH} characters")
    elif not secret:
        raise UnsafeSettings("tracking.secret is not set")
    mode = settings.setdefault("tracking.store_ip", "truncated")
    if mode not in STORE_IP_MODES:
        raise UnsafeSettings(f"tracking.store_ip must be one of {', '.join(STORE_IP_MODES)}, not {mode!r}")


def includeme(config) -> None:
    settings = config.get_settings()
    apply_environment(settings)
    check(settings)
