"""The services the parts of the application offer each other.

Each is a :class:`zope.interface.Interface`, provided by one object per application: the part
that makes it registers it in its ``includeme`` (``config.registry.registerUtility(obj, IFoo)``),
and whoever needs it asks the registry (``request.registry.getUtility(IFoo)``). This is the
component registry Pyramid itself keeps its own parts in; a test swaps a service by registering
another object for its interface on an application of its own.

Why not ``pyramid_services``: it builds a container for every request, which the beacon cannot
afford (BENCHMARKS.md, "Services").
"""

from zope.interface import Attribute, Interface


class ISettings(Interface):
    """The application's settings, parsed and checked once: a frozen
    :class:`tracking.settings.Settings`."""


class IDatabase(Interface):
    """The database: its engine and the factory of its sessions."""

    engine = Attribute("the SQLAlchemy engine")
    session_factory = Attribute("a sessionmaker bound to the engine (or, in tests, to a connection)")


class ISiteDirectory(Interface):
    """What the beacon knows of each site, cached per process (:mod:`tracking.ingest.sites`)."""

    def get(site_id, load):
        """The site's ``SiteInfo`` (``None``: no such site), from the cache or ``load(site_id)``."""

    def forget(site_id):
        """Drop the cached info of the site (it was changed or deleted)."""


class IDropInSites(Interface):
    """The sites the drop-in endpoints find by a Plausible domain or an Umami website id, cached
    per process (a :class:`tracking.ingest.sites.SiteDirectory` keyed by those)."""

    def get(key, load):
        """The site's ``SiteInfo`` (``None``: no such site), from the cache or ``load(key)``."""


class IHitPipeline(Interface):
    """Filters and enriches a validated hit (:class:`tracking.ingest.pipeline.Pipeline`)."""

    def process(site, raw, *, ip, user_agent, dnt, gpc, now):
        """The ``EnrichedHit`` to store; raises ``Ignored`` for a hit not to be stored."""

    def warm_up():
        """Load the lookup data (user agents, bots, networks) now rather than on the first hit."""


class IHitStore(Interface):
    """Where the beacon's hits go: a bounded buffer written to the database in batches, by a
    thread of the server (:class:`tracking.ingest.store.Store`) or a process of its own
    (:class:`tracking.ingest.writer.WriterProcess`)."""

    pending = Attribute("hits acknowledged and not yet committed (``/healthz``)")

    def submit(hit):
        """Buffer ``hit``; ``False`` when the buffer is full (the beacon answers 503)."""

    def submit_batch(hits):
        """Buffer all of ``hits``, or none (``False``) when they do not all fit."""

    def flush(timeout=30.0):
        """Wait until every hit submitted so far is committed; ``False`` on time-out."""

    def start():
        """Start writing (a thread, or a process)."""

    def close():
        """Write what is buffered (or spool it), then stop."""


class IIgnoredHits(Interface):
    """The counts of the hits the beacon ignored, per site and reason (:mod:`tracking.ingest.ignored`)."""

    def add(site_id, reason, now, host="", count=1):
        """Count ``count`` hits ignored for ``reason`` (``host``: the last one's page's, for
        ``foreign-host``)."""

    def flush():
        """Write the pending counts now."""


class IBeaconLimiter(Interface):
    """The beacon's per-client limit (:mod:`tracking.ingest.limits`)."""

    def check(address, site_id):
        """``0.0`` when the hit may go on (it is counted), else the seconds to wait."""


class IApiKeyLimiter(Interface):
    """The API's per-key limit (:class:`tracking.api_keys.KeyLimiter`)."""

    def check(key_id):
        """Count a request of the key: an ``Allowance``, or ``None`` when there is no limit."""
