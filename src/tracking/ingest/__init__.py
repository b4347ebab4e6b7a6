"""The beacon pipeline: parse → filter → enrich → store.

* :mod:`.hit` turns request fields into a validated :class:`~.hit.RawHit` (or a 400),
* :mod:`.pipeline` filters (DNT, GPC, foreign hosts) and enriches it into an
  :class:`~.pipeline.EnrichedHit`, using the pure functions of :mod:`.enrich` (geo, user agent,
  bots, referrer, UTM),
* :mod:`.store` buffers hits and writes them in batches, from a writer process of its own
  (:mod:`.writer`, the default) or a thread of the server's,
* :mod:`.sites` caches what the beacon needs to know about each site,
* :mod:`.limits` limits the hits of one client to one site (the beacon answers ``429`` beyond).

Nothing here imports Pyramid; ``includeme`` only wires the parts into the registry.
"""

import atexit
import re
import signal
import threading

from pyramid.exceptions import ConfigurationError

from . import limits
from .enrich import GeoLocator, VisitorKeys, warm_up
from .pipeline import Pipeline
from .sites import SiteDirectory
from .store import Store, store_options
from .writer import WriterProcess

#: ``tracking.writer``: where hits are written (see :mod:`.writer`); ``off`` leaves the buffer to
#: its owner (tests and bulk tools call ``Store.drain``).
WRITERS = ("process", "thread", "off")


#: The beacon's view names under a site: ``hit`` (``/sites/<id>/hit``, the path the snippet
#: gives), and ``visit``, the path of the snippets of earlier versions: they are on customers'
#: pages, so it stays for good, served by the same view.
BEACON_NAMES = ("hit", "visit")
#: ``/sites/<id>/hit`` or ``/sites/<id>/visit``: the beacon's paths, whatever the id.
BEACON_PATH = re.compile(r"/sites/[^/]*/(?:hit|visit)(?:/|\Z)")


def is_beacon(request) -> bool:
    # The raw PATH_INFO: the pattern is ASCII, so decoding it first (``request.path_info``)
    # would change nothing but the cost, paid twice per request (transaction and retry hooks).
    return BEACON_PATH.match(request.environ.get("PATH_INFO", "")) is not None


def tm_activate(request) -> bool:
    """``tm.activate_hook``: no transaction for the beacon, which writes through the store."""
    return not is_beacon(request)


def retry_attempts(request) -> int | None:
    """``retry.activate_hook``: one attempt for the beacon (it never meets a database race),
    which also spares copying its body for a retry."""
    return 1 if is_beacon(request) else None


def _exit_on_sigterm(signum, frame):
    # waitress stops serving on SystemExit and finishes its requests; atexit then flushes.
    raise SystemExit(0)


def includeme(config) -> None:
    settings = config.get_settings()
    registry = config.registry
    # Read when the transaction tween and the execution policy are set up, at commit.
    settings.setdefault("tm.activate_hook", tm_activate)
    settings.setdefault("retry.activate_hook", retry_attempts)
    warm_up()  # the user-agent parser and crawler patterns, once, before the first hit
    try:
        # ``None`` when ``tracking.beacon_rate`` or ``tracking.beacon_burst`` is 0: no limit.
        registry["beacon_limiter"] = limits.from_settings(settings)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    registry["site_directory"] = SiteDirectory(ttl=float(settings.get("tracking.site_cache_seconds", 30)))
    registry["ingest_pipeline"] = Pipeline(
        GeoLocator(settings.get("tracking.geoip_city_db") or None),
        store_ip=settings["tracking.store_ip"],
        # Keyed with the server secret: a spooled visitor key cannot be traced back to an address.
        visitor_keys=VisitorKeys(settings["tracking.secret"]),
    )
    writer = settings.get("tracking.writer", "process")
    if writer not in WRITERS:
        raise ConfigurationError(f"tracking.writer must be one of {', '.join(WRITERS)}, not {writer!r}")
    if writer == "process":
        store = WriterProcess(settings)
    else:
        store = Store(registry["dbsession_factory"], **store_options(settings))
    registry["ingest_store"] = store
    if writer == "off":
        return
    if writer == "thread":
        store.load_spool()
    store.start()
    atexit.register(store.close)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
