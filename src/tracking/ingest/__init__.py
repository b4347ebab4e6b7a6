"""The beacon pipeline: parse → filter → enrich → store.

* :mod:`.hit` turns request fields into a validated :class:`~.hit.RawHit` (or a 400),
* :mod:`.pipeline` filters (DNT, GPC, foreign hosts) and enriches it into a :class:`~.pipeline.Hit`,
  using the pure functions of :mod:`.enrich` (geo, user agent, bots, referrer, UTM),
* :mod:`.store` buffers hits and writes them in batches from one thread per process,
* :mod:`.sites` caches what the beacon needs to know about each site.

Nothing here imports Pyramid; ``includeme`` only wires the parts into the registry.
"""

import atexit
import signal
import threading

from pyramid.settings import asbool

from .enrich import GeoLocator
from .pipeline import Pipeline
from .sites import SiteDirectory
from .store import Store


def _exit_on_sigterm(signum, frame):
    # waitress stops serving on SystemExit and finishes its requests; atexit then flushes.
    raise SystemExit(0)


def includeme(config) -> None:
    settings = config.get_settings()
    registry = config.registry
    registry["site_directory"] = SiteDirectory(ttl=float(settings.get("tracking.site_cache_seconds", 30)))
    registry["ingest_pipeline"] = Pipeline(
        GeoLocator(settings.get("tracking.geoip_city_db") or None), store_ip=settings["tracking.store_ip"]
    )
    store = Store(
        registry["dbsession_factory"],
        max_pending=int(settings.get("tracking.buffer_size", 100_000)),
        interval=float(settings.get("tracking.flush_seconds", 0.2)),
        shutdown_timeout=float(settings.get("tracking.shutdown_seconds", 30)),
        spool_dir=settings.get("tracking.spool_dir") or None,
    )
    registry["ingest_store"] = store
    if asbool(settings.get("tracking.store_thread", True)):
        store.start()
        atexit.register(store.close)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL,
            None,
        ):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
