"""Settings: the ini values and the environment's overrides, parsed and checked once.

:meth:`Settings.from_ini` is the only reader of ``tracking.*`` and ``sqlalchemy.*`` values and
of the ``TRACKING_*`` variables: it coerces and checks every value and answers with a frozen
:class:`Settings`, which :func:`includeme` registers as the :class:`~tracking.interfaces.ISettings`
service (``request.registry.getUtility(ISettings)``). A value that cannot be used stops the
start with one line on stderr and no traceback (:class:`UnsafeSettings`).

Environment variables win over the ini file, so a deployment can keep its secrets and
database URL out of files (README.md, "Configuration", has the whole table):

=========================  ==========================  ======================================
variable                   setting                     meaning
=========================  ==========================  ======================================
TRACKING_DATABASE_URL      sqlalchemy.url              SQLAlchemy database URL
TRACKING_SECRET            tracking.secret             signs the session cookie, keys visitor
                                                       keys (≥ 32 chars in production)
TRACKING_STORE_IP          tracking.store_ip           none | truncated | full
TRACKING_GEOIP_CITY_DB     tracking.geoip_city_db      path of a MaxMind/DB-IP city ``.mmdb``
TRACKING_SPOOL_DIR         tracking.spool_dir          where hits wait if the database is down
                                                       at shutdown (unset: var/spool under the
                                                       working directory)
TRACKING_REGISTRATION      tracking.registration       open | invite | closed (production
                                                       default: invite)
TRACKING_TRUSTED_PROXY     trusted_proxy               ``[server:main]``: the reverse proxy
                                                       waitress believes (:func:`server_options`)
=========================  ==========================  ======================================
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zope.interface import implementer

from .interfaces import ISettings

#: Environment variables and the ini settings they override (``[app:main]``).
ENVIRONMENT = {
    "TRACKING_DATABASE_URL": "sqlalchemy.url",
    "TRACKING_SECRET": "tracking.secret",
    "TRACKING_STORE_IP": "tracking.store_ip",
    "TRACKING_GEOIP_CITY_DB": "tracking.geoip_city_db",
    "TRACKING_SPOOL_DIR": "tracking.spool_dir",
    "TRACKING_REGISTRATION": "tracking.registration",
}
#: The environment variable that overrides ``trusted_proxy`` of ``[server:main]``.
TRUSTED_PROXY_VARIABLE = "TRACKING_TRUSTED_PROXY"

#: The secret ``development.ini`` ships with; production refuses it.
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
STORE_IP_MODES = ("none", "truncated", "full")
#: ``tracking.writer``: a writer process of the server's own, a thread of the server, or none
#: (``off``: the buffer is left to its owner; tests and bulk tools call ``Store.drain``).
WRITERS = ("process", "thread", "off")
#: ``tracking.registration``: anyone may create an account; only with an invitation (and
#: ``tracking-admin create-user``); or only with ``tracking-admin create-user``.
REGISTRATION_MODES = ("open", "invite", "closed")
#: ``tracking.spool_dir`` when it is not set, under the working directory: hits are never lost
#: at shutdown for want of a setting.
DEFAULT_SPOOL_DIR = os.path.join("var", "spool")
#: Hits a second, sustained, one client may send one site (``tracking.beacon_rate``), and at once
#: (``tracking.beacon_burst``): see :mod:`tracking.ingest.limits`.
DEFAULT_BEACON_RATE = 50.0
DEFAULT_BEACON_BURST = 500
#: Requests a minute one API key may make, per server process (``tracking.api_rate``).
DEFAULT_API_RATE = 600

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


class UnsafeSettings(SystemExit):
    """Raised at start-up; being a ``SystemExit`` it prints one clear line, not a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"tracking: refusing to start: {message}")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """What a hit writer needs: all that a writer process is sent (pickled, as it is)."""

    #: The ``sqlalchemy.*`` values, the URL included (:func:`tracking.models.get_engine`).
    database: dict[str, str]
    buffer_size: int = 100_000
    flush_seconds: float = 0.2
    shutdown_seconds: float = 30.0
    #: Absolute.
    spool_dir: str = field(default_factory=lambda: os.path.abspath(DEFAULT_SPOOL_DIR))


@implementer(ISettings)
@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the application, each of its type (README.md, "Configuration")."""

    #: ``sqlalchemy.url`` (or ``TRACKING_DATABASE_URL``) and the other ``sqlalchemy.*`` values.
    database: Mapping[str, str]
    secret: str
    #: ``tracking.production``: refuse unsafe settings, ``Secure`` cookies, HSTS.
    production: bool = False
    store_ip: str = "truncated"
    geoip_city_db: str | None = None
    #: Absolute (a relative one is taken from the working directory).
    spool_dir: str = field(default_factory=lambda: os.path.abspath(DEFAULT_SPOOL_DIR))
    writer: str = "process"
    buffer_size: int = 100_000
    flush_seconds: float = 0.2
    shutdown_seconds: float = 30.0
    site_cache_seconds: float = 30.0
    #: 0 (either) turns the beacon's per-client limit off.
    beacon_rate: float = DEFAULT_BEACON_RATE
    beacon_burst: int = DEFAULT_BEACON_BURST
    #: Requests a minute per API key; 0 turns the limit off (:mod:`tracking.api_keys`).
    api_rate: int = DEFAULT_API_RATE
    #: ``retry.attempts``, which pyramid_retry reads (as this number).
    retry_attempts: int = 3
    #: Who may create an account on the register page (:data:`REGISTRATION_MODES`).
    registration: str = "open"

    @property
    def beacon_limited(self) -> bool:
        return self.beacon_rate > 0 and self.beacon_burst > 0

    def store(self) -> StoreSettings:
        return StoreSettings(
            database=dict(self.database),
            buffer_size=self.buffer_size,
            flush_seconds=self.flush_seconds,
            shutdown_seconds=self.shutdown_seconds,
            spool_dir=self.spool_dir,
        )

    @classmethod
    def from_ini(cls, values: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings of ``values`` (an ``[app:main]`` section), overridden by ``environ``'s
        ``TRACKING_*`` variables; raises :class:`UnsafeSettings` on the first unusable value."""
        values = {**values, **{key: environ[name] for name, key in ENVIRONMENT.items() if environ.get(name)}}
        database = {
            key: value for key, value in values.items() if key.startswith("sqlalchemy.") and isinstance(value, str)
        }
        if not database.get("sqlalchemy.url"):
            raise UnsafeSettings("no database URL: set TRACKING_DATABASE_URL")
        production = _boolean(values, "tracking.production", False)
        secret = _text(values, "tracking.secret")
        if production:
            if not secret:
                raise UnsafeSettings("TRACKING_SECRET is not set")
            if secret == DEVELOPMENT_SECRET:
                raise UnsafeSettings("TRACKING_SECRET is the development default")
            if len(secret) < MIN_SECRET_LENGTH:
                raise UnsafeSettings(f"TRACKING_SECRET is shorter than {MIN_SECRET_LENGTH} characters")
        elif not secret:
            raise UnsafeSettings("tracking.secret is not set")
        beacon_burst = _number(values, "tracking.beacon_burst", DEFAULT_BEACON_BURST)
        if beacon_burst != int(beacon_burst):
            raise UnsafeSettings(f"tracking.beacon_burst must be a whole number of hits, not {values['tracking.beacon_burst']!r}")
        buffer_size = _number(values, "tracking.buffer_size", 100_000)
        if buffer_size < 1 or buffer_size != int(buffer_size):
            raise UnsafeSettings(f"tracking.buffer_size must be a whole number of hits, 1 or more, not {values['tracking.buffer_size']!r}")
        flush_seconds = _number(values, "tracking.flush_seconds", 0.2)
        if flush_seconds <= 0:
            raise UnsafeSettings(f"tracking.flush_seconds must be more than 0, not {values['tracking.flush_seconds']!r}")
        api_rate = _number(values, "tracking.api_rate", DEFAULT_API_RATE)
        if api_rate != int(api_rate):
            raise UnsafeSettings(f"tracking.api_rate must be a whole number of requests, not {values['tracking.api_rate']!r}")
        retry_attempts = _number(values, "retry.attempts", 3)
        if retry_attempts < 1 or retry_attempts != int(retry_attempts):
            raise UnsafeSettings(f"retry.attempts must be a whole number, 1 or more, not {values['retry.attempts']!r}")
        return cls(
            database=MappingProxyType(database),
            secret=secret,
            production=production,
            store_ip=_choice(values, "tracking.store_ip", STORE_IP_MODES, "truncated"),
            geoip_city_db=_text(values, "tracking.geoip_city_db") or None,
            spool_dir=os.path.abspath(_text(values, "tracking.spool_dir") or DEFAULT_SPOOL_DIR),
            writer=_choice(values, "tracking.writer", WRITERS, "process"),
            buffer_size=int(buffer_size),
            flush_seconds=flush_seconds,
            shutdown_seconds=_number(values, "tracking.shutdown_seconds", 30.0),
            site_cache_seconds=_number(values, "tracking.site_cache_seconds", 30.0),
            beacon_rate=_number(values, "tracking.beacon_rate", DEFAULT_BEACON_RATE),
            beacon_burst=int(beacon_burst),
            api_rate=int(api_rate),
            retry_attempts=int(retry_attempts),
            registration=_choice(values, "tracking.registration", REGISTRATION_MODES, "invite" if production else "open"),
        )


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UnsafeSettings(f"{key} must be text, not {value!r}")
    return value


def _boolean(values: Mapping[str, Any], key: str, default: bool) -> bool:
    value = values.get(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UnsafeSettings(f"{key} must be true or false, not {value!r}")


def _number(values: Mapping[str, Any], key: str, default: float) -> float:
    """A finite number, 0 or more."""
    value = values.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise UnsafeSettings(f"{key} must be a number, 0 or more, not {value!r}")
    return number


def _choice(values: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = _text(values, key) or default
    if value not in choices:
        raise UnsafeSettings(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def database_settings(values: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The ``sqlalchemy.*`` values of an ini section with ``TRACKING_DATABASE_URL`` applied: for
    the tools that need the database and nothing else (migrations, the demo data)."""
    values = dict(values)
    if environ.get("TRACKING_DATABASE_URL"):
        values["sqlalchemy.url"] = environ["TRACKING_DATABASE_URL"]
    if not values.get("sqlalchemy.url"):
        raise UnsafeSettings("no database URL: set TRACKING_DATABASE_URL")
    return {key: value for key, value in values.items() if key.startswith("sqlalchemy.") and isinstance(value, str)}


def server_options(global_conf: Mapping[str, str], options: dict[str, str],
                   environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """waitress's options from ``[server:main]`` (``options``) and the command line
    (``global_conf``): ``http_host``/``http_port`` over ``default_host``/``default_port``, and
    ``TRACKING_TRUSTED_PROXY`` over ``trusted_proxy``. Every other key goes to waitress as it is."""
    options = dict(options)
    host = global_conf.get("http_host") or options.pop("default_host", "localhost")
    port = global_conf.get("http_port") or options.pop("default_port", "6543")
    options.pop("default_host", None)
    options.pop("default_port", None)
    options.setdefault("listen", f"{host}:{port}")
    proxy = environ.get(TRUSTED_PROXY_VARIABLE) or global_conf.get("trusted_proxy")
    if proxy:
        options["trusted_proxy"] = proxy
    return options


def includeme(config) -> None:
    """Parse the settings (unless the application was given its own) and register them."""
    registry = config.registry
    settings = registry.queryUtility(ISettings)
    if settings is None:
        settings = Settings.from_ini(config.get_settings())
        registry.registerUtility(settings, ISettings)
    config.add_settings({"retry.attempts": settings.retry_attempts})
