"""The beacon pipeline: parse → filter → enrich → store.

* :mod:`.hit` turns request fields into a validated :class:`~.hit.RawHit` (or a 400),
* :mod:`.pipeline` filters (DNT, GPC, foreign hosts) and enriches it into an
  :class:`~.pipeline.EnrichedHit`, using the pure functions of :mod:`.enrich` (geo, user agent,
  bots, referrer, UTM),
* :mod:`.buffer` holds the acknowledged hits, :mod:`.store` writes them in batches (the visits
  of :mod:`.visits`, the statements of :mod:`.statements`), from a writer process of its own
  (:mod:`.writer`, the default) or a thread of the server's,
* :mod:`.sites` caches what the beacon needs to know about each site,
* :mod:`.limits` limits the hits of one client to one site (the beacon answers ``429`` beyond),
* :mod:`.ignored` counts the hits it ignored, per site and reason, for the site's owner.

Nothing here imports Pyramid; ``includeme`` only registers the parts as services
(:mod:`tracking.interfaces`), and :func:`start`, called by the server's entry point, starts them.
"""

import re

from ..interfaces import (
    IBeaconLimiter,
    IDatabase,
    IDropInSites,
    IHitPipeline,
    IHitStore,
    IIgnoredHits,
    ISettings,
    ISiteDirectory,
)
from ..settings import Settings
from .enrich import GeoLocator, VisitorKeys
from .ignored import IgnoredCounter
from .limits import UNLIMITED, RateLimiter
from .pipeline import Pipeline
from .sites import SiteDirectory
from .store import Store
from .writer import WriterProcess

#: The beacon's view names under a site: ``hit`` (``/sites/<id>/hit``, the path the snippet
#: gives), and ``visit``, the path of the snippets of earlier versions: they are on customers'
#: pages, so it stays for good, served by the same view.
BEACON_NAMES = ("hit", "visit")
#: ``/sites/<id>/hit`` or ``/sites/<id>/visit``: the beacon's paths, whatever the id.
BEACON_PATH = re.compile(r"/sites/[^/]*/(?:hit|visit)(?:/|\Z)")


#: ``/api/event`` and ``/api/send``: the endpoints that take the peers' trackers' hits
#: (:mod:`tracking.views.dropins`), public and written through the store as the beacon's are.
DROPIN_PATH = re.compile(r"/api/(?:event|send)\Z")
#: Every path a visitor's hit comes in by: the beacon's and the drop-ins'.
HIT_PATH = re.compile(f"{BEACON_PATH.pattern}|{DROPIN_PATH.pattern}")


def is_beacon(request) -> bool:
    """Whether ``request`` is a visitor's hit: the beacon's, or one of the peers' trackers'."""
    # The raw PATH_INFO: the pattern is ASCII, so decoding it first (``request.path_info``)
    # would change nothing but the cost, paid twice per request (transaction and retry hooks).
    return HIT_PATH.match(request.environ.get("PATH_INFO", "")) is not None


def tm_activate(request) -> bool:
    """``tm.activate_hook``: no transaction for a visitor's hit, which is written through the
    store (and whose site is looked up in a short session of its own)."""
    return not is_beacon(request)


#: Where a back end sends hits (``POST /api/v1/events``), which go to the buffer as the beacon's do.
EVENTS_PATH = "/api/v1/events"


def retry_attempts(request) -> int | None:
    """``retry.activate_hook``: one attempt for visitors' hits and the API's (they write to the
    buffer, never meeting a database race), which also spares copying their bodies for a retry
    (up to 4 MB for the API's, into a temporary file)."""
    return 1 if is_beacon(request) or request.environ.get("PATH_INFO", "").startswith(EVENTS_PATH) else None


def make_store(settings: Settings, database) -> Store | WriterProcess:
    """The hit store ``tracking.writer`` asks for, not started."""
    if settings.writer == "process":
        return WriterProcess(settings.store())
    return Store(
        database.session_factory,
        max_pending=settings.buffer_size,
        interval=settings.flush_seconds,
        shutdown_timeout=settings.shutdown_seconds,
        spool_dir=settings.spool_dir,
    )


def includeme(config) -> None:
    """Register the beacon's services; nothing is started or loaded here (see :func:`start`)."""
    registry = config.registry
    settings = registry.getUtility(ISettings)
    # Read when the transaction tween and the execution policy are set up, at commit.
    config.add_settings({"tm.activate_hook": tm_activate, "retry.activate_hook": retry_attempts})
    limiter = RateLimiter(settings.beacon_rate, settings.beacon_burst) if settings.beacon_limited else UNLIMITED
    registry.registerUtility(limiter, IBeaconLimiter)
    registry.registerUtility(SiteDirectory(ttl=settings.site_cache_seconds), ISiteDirectory)
    registry.registerUtility(SiteDirectory(ttl=settings.site_cache_seconds), IDropInSites)
    pipeline = Pipeline(
        GeoLocator(settings.geoip_city_db),
        store_ip=settings.store_ip,
        # Keyed with the server secret: a spooled visitor key cannot be traced back to an address.
        visitor_keys=VisitorKeys(settings.secret),
    )
    registry.registerUtility(pipeline, IHitPipeline)
    registry.registerUtility(make_store(settings, registry.getUtility(IDatabase)), IHitStore)
    registry.registerUtility(IgnoredCounter(registry.getUtility(IDatabase).session_factory), IIgnoredHits)


def start(registry) -> Store | WriterProcess | None:
    """Start the beacon's background work in this process: load the lookup data (user agents,
    bots, networks) and start the hit store's writer, a process or a thread (after claiming the
    spool files left by earlier runs). Returns the store to close at exit, or ``None`` when
    ``tracking.writer`` is ``off``. For the server's entry point (:mod:`tracking.server`)."""
    registry.getUtility(IHitPipeline).warm_up()
    settings = registry.getUtility(ISettings)
    if settings.writer == "off":
        return None
    store = registry.getUtility(IHitStore)
    if settings.writer == "thread":
        store.load_spool()
    store.start()
    return store
