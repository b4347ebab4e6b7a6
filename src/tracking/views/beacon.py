"""The beacon: ``/sites/<id>/hit``, the only public write.

``/sites/<id>/visit`` is the same view under the path of earlier snippets, which are on
customers' pages: a permanent alias that answers exactly as ``hit`` does (every status, header
and error below; the log and the transaction hooks treat both alike, see
:data:`tracking.ingest.BEACON_PATH`).

``GET`` (query string: the no-JavaScript pixel) and ``POST`` (a JSON object, as
``navigator.sendBeacon`` sends it with ``text/plain``, or a form) answer ``204 No Content`` with
no cookie and ``Cache-Control: no-store``. A hit that is valid but not counted still gets
``204`` with ``X-Tracking-Ignored: dnt | gpc | foreign-host | bot`` so an owner can see why.
Errors are JSON ``{"errors": {field: message}}``: 400 bad input, 404 unknown site, 405 other
methods (``HEAD`` included: a link checker's probe is not a hit), 413 body over 8 KB, 414 query
over 8 KB, 429 with ``Retry-After`` when one client sends a site more hits than
:mod:`~tracking.ingest.limits` allows (checked first: a refused hit is neither parsed
nor stored; ``OPTIONS`` preflights are not limited), 503 with ``Retry-After`` when the buffer is full
or the database is unreachable and the site was not loaded before (a site loaded before keeps
being counted through an outage).
"""

import json
import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote_plus

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import (
    exception_view_config,
    notfound_view_config,
    view_config,
    view_defaults,
)

from ..ingest import BEACON_NAMES
from ..ingest import BEACON_PATH as beacon_path
from ..ingest.hit import FIELDS, MAX_BODY, BadHit, RawHit, decode_json_body, parse
from ..ingest.limits import RateLimiter
from ..ingest.pipeline import EnrichedHit, Ignored
from ..ingest.sites import SiteInfo, SiteUnavailable
from ..interfaces import IBeaconLimiter, IHitPipeline, IHitStore, IIgnoredHits
from ..models.types import utcnow
from ..resources import Root, SiteResource

log = logging.getLogger(__name__)

MAX_QUERY = 8192
MAX_FIELDS = 20
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Tracking-Ignored",
}


HEADERS = (("Cache-Control", "no-store"), *CORS.items())


def _answer(status: int, **headers) -> Response:
    """An empty answer (204) with the beacon's headers."""
    return Response(status=status, headerlist=[*HEADERS, *headers.items()])


def _error(status: int, errors: dict[str, str], **headers) -> Response:
    response = Response(status=status, json_body={"errors": errors}, content_type="application/json", charset=None)
    response.headers.update({"Cache-Control": "no-store", **CORS, **headers})
    return response


def _fields(request) -> dict:
    """The hit's fields from the query string, a form body or a JSON body."""
    if len(request.query_string) > MAX_QUERY:
        raise _Refused(_error(414, {"query": f"longer than {MAX_QUERY} bytes"}))
    query = _parse_qs(request.query_string)
    if request.method != "POST":
        return query
    if (request.content_length or 0) > MAX_BODY:
        raise _Refused(_error(413, {"body": f"larger than {MAX_BODY} bytes"}))
    body = request.body_file.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise _Refused(_error(413, {"body": f"larger than {MAX_BODY} bytes"}))
    if not body.strip():
        return query
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        return _parse_qs(body.decode("latin-1"))
    if content_type == "multipart/form-data":
        raise BadHit({"body": "send JSON, a query string or an url-encoded form"})
    return decode_json_body(body)


def _parse_qs(text: str) -> dict:
    """The beacon's fields in a query string (or an url-encoded form), the first of each name.

    What ``urllib.parse.parse_qsl(text, keep_blank_values=True, errors="replace",
    max_num_fields=MAX_FIELDS)`` gives (a test compares them on arbitrary strings), with each
    name and value decoded through a small cache: the same pages, referrers and widths come
    back hit after hit, and decoding them again was the beacon's costliest step (figures in
    BENCHMARKS.md)."""
    pairs = text.split("&")
    if len(pairs) > MAX_FIELDS:
        raise BadHit({"query": f"more than {MAX_FIELDS} fields"})
    fields = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = _unquote(name)
        if name in FIELDS and name not in fields:
            fields[name] = _unquote(value)
    return fields


#: Decoded values up to this length are cached (2048 of them: at most ~1 MB, whatever visitors send).
CACHED_VALUE = 256


@lru_cache(maxsize=2048)
def _unquote_cached(text: str) -> str:
    return unquote_plus(text, errors="replace")


def _unquote(text: str) -> str:
    if len(text) > CACHED_VALUE:
        return unquote_plus(text, errors="replace")
    return _unquote_cached(text)


def _retry_later(message: str) -> Response:
    return _error(503, {"server": message}, **{"Retry-After": "10"})


#: The 429's body: the same for every refused hit; it names no address and no limit.
TOO_MANY = json.dumps({"errors": {"rate": "too many hits; retry later"}}).encode()


def _too_many(wait: float) -> Response:
    return Response(
        status=429,
        body=TOO_MANY,
        headerlist=[
            ("Content-Type", "application/json"),
            *HEADERS,
            ("Retry-After", str(RateLimiter.retry_after(wait))),
        ],
    )


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def enrich(
    registry, site: SiteInfo, raw: RawHit, *, ip: str, user_agent: str, dnt: bool, gpc: bool, now
) -> EnrichedHit:
    """The hit to store, as the pipeline makes it; a hit it ignores (:class:`Ignored`, raised
    again) is counted for the site's owner first (``IIgnoredHits``). The one way a hit goes in,
    from the beacon, the peers' trackers' endpoints and the API alike."""
    try:
        return registry.getUtility(IHitPipeline).process(
            site, raw, ip=ip, user_agent=user_agent, dnt=dnt, gpc=gpc, now=now
        )
    except Ignored as ignored:
        host = raw.page.host if ignored.reason == "foreign-host" else ""
        registry.getUtility(IIgnoredHits).add(site.id, ignored.reason, now, host)
        raise


def beacon_view(**settings):
    """``view_config`` for each of the beacon's names (:data:`~tracking.ingest.BEACON_NAMES`)."""

    def register(wrapped):
        for name in BEACON_NAMES:
            # One frame below the class body: venusian must see the class (``_depth``).
            wrapped = view_config(name=name, _depth=1, **settings)(wrapped)
        return wrapped

    return register


@view_defaults(context=SiteResource, permission=NO_PERMISSION_REQUIRED, require_csrf=False)
class Beacon:
    def __init__(self, context, request):
        self.context = context
        self.request = request

    @beacon_view(request_method=("GET", "POST"))
    def hit(self):
        request = self.request
        if request.method == "HEAD":  # Pyramid routes HEAD to GET views
            return self.other_methods()
        registry = request.registry
        # Headers straight from the environ: WebOb's header mapping is dearer (BENCHMARKS.md).
        environ = request.environ
        address = environ.get("REMOTE_ADDR") or ""
        wait = registry.getUtility(IBeaconLimiter).check(address, self.context.info.id)
        if wait:
            return _too_many(wait)
        try:
            fields = _fields(request)
            raw = parse(fields, referer_header=environ.get("HTTP_REFERER", ""))
        except _Refused as refused:
            return refused.response
        except BadHit as bad:
            return _error(400, bad.errors)
        try:
            hit = enrich(
                registry,
                self.context.info,
                raw,
                ip=address,
                user_agent=environ.get("HTTP_USER_AGENT", ""),
                dnt=environ.get("HTTP_DNT") == "1",
                gpc=environ.get("HTTP_SEC_GPC") == "1",
                now=utcnow(),
            )
        except Ignored as ignored:
            return _answer(204, **{"X-Tracking-Ignored": ignored.reason})
        if not registry.getUtility(IHitStore).submit(hit):
            return _retry_later("too many hits waiting to be stored; retry later")
        if hit.bot:
            return _answer(204, **{"X-Tracking-Ignored": "bot"})
        return _answer(204)

    @beacon_view(request_method="OPTIONS")
    def preflight(self):
        return _answer(
            204,
            **{
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "86400",
            },
        )

    @beacon_view()
    def other_methods(self):
        return _error(405, {"method": f"{self.request.method} is not allowed"}, Allow="GET, POST, OPTIONS")


BEACON_PATH = "^" + beacon_path.pattern


@notfound_view_config(path_info=BEACON_PATH)
def unknown_site(request):
    return _error(404, {"site": "no such site"})


@exception_view_config(SiteUnavailable, path_info=BEACON_PATH)
def site_unavailable(exc, request):
    """The database is unreachable and the site was never loaded: it cannot be checked yet."""
    return _retry_later("the database is unreachable; retry later")


@exception_view_config(Exception, path_info=BEACON_PATH, retryable_error=False)
@exception_view_config(Exception, path_info=BEACON_PATH, last_retry_attempt=True)
def beacon_failure(exc, request):
    """A fault on our side (the database, say) answers JSON too, and never opens a session."""
    log.exception("beacon failure on %s", request.path)
    return _error(500, {"server": "internal error"})


TRACKER = (Path(__file__).parent.parent / "static" / "tracker.js").read_bytes()


@view_config(context=Root, name="tracker.js", permission=NO_PERMISSION_REQUIRED)
def tracker_script(request):
    """The script the snippet loads: the same for every site and visitor, cached an hour."""
    response = Response(body=TRACKER, content_type="text/javascript", charset="utf-8")
    response.headers.update({"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})
    return response
