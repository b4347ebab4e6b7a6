"""``POST /api/v1/events``: hits a back end sends, up to 1,000 a request.

The hits go the beacon's way (:mod:`tracking.ingest`): each is checked as the beacon checks one
(:func:`tracking.schemas.api.server_hits`), then filtered and enriched by the same pipeline
(DNT and GPC as the site honours them, foreign hosts, bots; the visitor's address and user agent
come from the body, and are dropped as the beacon drops them), then buffered for the writer. The
hits it ignores are counted for the sites' owners as the beacon's are (the dashboard says why),
once the batch is taken. The
durability contract is the beacon's: a ``202`` means every hit of the request is in the server's
buffer. A request is taken whole or not at all: one wrong hit is a ``400`` naming it
(``hits[3].url``), and when the buffer has no room for all of them the answer is ``503`` with
``Retry-After`` and none is kept.

Only a key with ``events:write`` sends hits, and only to sites its user may change and the key
covers: the address and user agent in the body are taken on trust, which is why the beacon
cannot be used for this.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from pyramid.view import exception_view_config, view_config

from ...api_resources import ApiEvents
from ...ingest.pipeline import Ignored
from ...ingest.sites import SiteUnavailable
from ...interfaces import IHitPipeline, IHitStore, IIgnoredHits
from ...models.types import utcnow
from ...schemas.api import InvalidInput, server_hits
from ...security import Permission
from . import API_PATH, ApiError, error_response, invalid, json_response, limited, read_json

#: A thousand hits of a few hundred bytes each, with room to spare.
MAX_BODY = 4 * 1024 * 1024
RETRY_AFTER = "10"


@view_config(context=ApiEvents, name="", request_method="POST", permission=Permission.WRITE_EVENTS,
             decorator=limited, require_csrf=False)
def send_events(context, request):
    try:
        hits = server_hits(read_json(request, MAX_BODY))
    except InvalidInput as error:
        raise invalid(error.field, error.message) from None
    api_sites = request.root["api"]["v1"]["sites"]
    sites = {}
    for n, hit in enumerate(hits):
        if hit.site_id not in sites:
            try:
                site = api_sites[str(hit.site_id)]
            except KeyError:
                site = None
            if site is None or not request.has_permission(Permission.WRITE_EVENTS, site):
                raise invalid(f"hits[{n}].site_id", "There is no such site, or this key may not send it hits.")
            sites[hit.site_id] = site.site_resource.info
    registry = request.registry
    process = registry.getUtility(IHitPipeline).process
    now = utcnow()
    enriched = []
    refused = {}  # what the pipeline ignored: (site id, reason) → [how many, the last one's page host]
    bots = 0
    for site_id, raw, ip, user_agent, dnt, gpc in hits:
        try:
            stored = process(sites[site_id], raw, ip=ip, user_agent=user_agent, dnt=dnt, gpc=gpc, now=now)
        except Ignored as ignored:
            entry = refused.setdefault((site_id, ignored.reason), [0, ""])
            entry[0] += 1
            entry[1] = raw.page.host
            continue
        enriched.append(stored)
        if stored.bot:
            bots += 1
    if enriched and not registry.getUtility(IHitStore).submit_batch(enriched):
        raise ApiError(503, "unavailable", "Too many hits wait to be stored; send them again later.",
                       headers={"Retry-After": RETRY_AFTER})
    if refused:
        request.tm.get().addAfterCommitHook(partial(_count_ignored, registry.getUtility(IIgnoredHits), refused, now))
    reasons = Counter()
    for (_, reason), (count, _) in refused.items():
        reasons[reason] += count
    if bots:
        reasons["bot"] = bots
    return json_response({"accepted": len(hits) - reasons.total(), "ignored": dict(reasons)}, 202)


def _count_ignored(counter, refused: dict[tuple[int, str], list], now, committed: bool) -> None:
    """Count the batch's ignored hits for the sites' owners as the beacon counts its own
    (``views.beacon.enrich``): one call per site and reason.

    Once the batch is taken (a refused one is sent again, and counted then), and once the
    request's transaction has ended: the counter writes in a transaction of its own, and the
    request's, which wrote nothing, ends in a rollback. Where the two share a connection (a
    test's, each session in a savepoint), a write made inside the request's transaction
    would be rolled back with it."""
    if committed:
        for (site_id, reason), (count, host) in refused.items():
            counter.add(site_id, reason, now, host if reason == "foreign-host" else "", count=count)


@exception_view_config(SiteUnavailable, path_info=API_PATH)
def site_unavailable(exc, request):
    """The database is unreachable and a site was never loaded: it cannot be checked yet."""
    return error_response(ApiError(503, "unavailable", "The database is unreachable; retry later.",
                                   headers={"Retry-After": RETRY_AFTER}))

