"""Drop-in endpoints for the trackers of Plausible and Umami: a site moves here by pointing the
tracker it already has at this server, without editing its pages otherwise.

``POST /api/event`` takes what Plausible's tracker sends: the long form of its Events API
(``name``, ``url``, ``domain``, ``referrer``, ``props``, ``revenue`` — an amount and an ISO 4217
currency, stored as the event's revenue as the beacon's ``revenue`` is) and the compact keys its
current script posts as ``text/plain`` (``n``, ``u``, ``d``, ``r``, ``p``, ``$``). The site is
the one whose host is ``domain`` (a comma-separated list sends the hit to each; when several
accounts added the same host, the first site added gets it, as a domain belongs to whoever added
it first on Plausible). It answers as Plausible does: ``202`` and ``ok``.

Its ``engagement`` events are measurements of the page view before them, not page views. The
script sends one when the page is hidden, loses focus or is left (and before the next page
view of a single-page app), if the page was engaged for 3 s more or scrolled deeper since the
last: ``e``, the milliseconds the page was visible and focused since the previous engagement
(the script starts again from zero after each: they add up), ``sd``, the deepest point scrolled
so far in percent of the page's height, and ``u``, the page. They take the way of the hits —
the per-client limit, the site's filters (DNT, GPC, foreign hosts; an ignored engagement is not
counted among the owner's ignored hits: it is not a hit), bots, the visitor key, the buffer,
the writer and its durability — and the writer stores each as a row of ``engagements`` beside
its visit (:func:`tracking.ingest.visits.record_engagements`). They change no count of page
views, visits, visitors or events; they keep their visit going, so its duration covers the
time on its last page; and the details of the Pages panel show each page's time on page and
scroll depth from them (:mod:`tracking.reports.engagement`).

Bounds: ``e`` a whole number of milliseconds from 0 to one day (``MAX_ENGAGED_MS``; a script
cannot measure more between two reports of one page view without its visitor id changing);
``sd`` a whole number from 0, where more than 100 counts as 100 (the script divides by a page
height it reads again only when the page scrolls, so a page that shrank reports more: it was
read to its end). Either may be missing (the other is measured), not both; any other value,
a fraction, a string or a boolean is a ``400`` naming the field.

``POST /api/send`` takes what Umami's tracker and clients send (``{"type": "event", "payload":
{website, hostname, url, referrer, title, screen, language, name, data}}``); the site is the one
whose owner set that *Umami website id* in its settings. A ``url`` that is a path without a
``hostname`` (what ``@umami/node`` sends from a back end) is a page of that site. ``identify``,
``performance`` (web vitals) and ``error`` payloads are answered and not kept. It answers ``200`` with ``{}``.

Both go the beacon's way: the per-client limit, the same checks (the URL, the event name, the
properties), the same filters (DNT and GPC as the site honours them, foreign hosts, bots), the
same enrichment, buffer and durability. They are public, like the beacon, and read no cookie.
Errors are the beacon's: ``{"errors": {field: message}}``.
"""

from __future__ import annotations

import logging
import re

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ..api_resources import Api
from ..ingest.hit import MAX_BODY, MAX_URL, BadHit, decode_json_body, parse
from ..ingest.pipeline import Ignored
from ..ingest.sites import SiteInfo, SiteUnavailable
from ..interfaces import IBeaconLimiter, IDatabase, IDropInSites, IHitPipeline, IHitStore
from ..models import Site
from ..models.types import utcnow
from ..resources import is_disconnect
from .beacon import CORS, _error, _retry_later, _too_many, enrich

log = logging.getLogger(__name__)

#: Plausible's compact keys and the long names they stand for.
COMPACT = {"n": "name", "u": "url", "d": "domain", "r": "referrer", "p": "props", "$": "revenue"}
MAX_DOMAINS = 10
#: The most engaged time one engagement may report: one day, in milliseconds.
MAX_ENGAGED_MS = 86_400_000
#: Umami's payloads that are not hits, answered and not kept: ``identify`` (a visitor's
#: session data), ``performance`` (web vitals) and ``error`` (the page's script errors).
NOT_HITS = frozenset({"identify", "performance", "error"})
#: A preflight's ``Access-Control-Request-Headers`` that is echoed: header names only, bounded.
MAX_ASKED_HEADERS = 256
_HEADER_NAMES = re.compile(r"[A-Za-z0-9-]+(?:[ \t]*,[ \t]*[A-Za-z0-9-]+)*\Z")
_SCREEN = re.compile(r"([0-9]{1,6})x[0-9]{1,6}\Z")


def _body(request) -> dict:
    if (request.content_length or 0) > MAX_BODY:
        raise _Answer(_error(413, {"body": f"larger than {MAX_BODY} bytes"}))
    body = request.body_file.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise _Answer(_error(413, {"body": f"larger than {MAX_BODY} bytes"}))
    return decode_json_body(body)


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _store(request, sites, fields: dict, measured: Measured | None = None) -> Response | None:
    """Check ``fields`` as the beacon does and send the hit to each of ``sites``; a response when
    the hit cannot be taken (429, 400, 503), else ``None``. With ``measured``, an engagement of
    the page in ``fields`` instead: filtered and keyed as a hit, stored as a measurement."""
    environ = request.environ
    address = environ.get("REMOTE_ADDR") or ""
    registry = request.registry
    limiter = registry.getUtility(IBeaconLimiter)
    for site in sites:
        wait = limiter.check(address, site.id)
        if wait:
            return _too_many(wait)
    raw = parse(fields)
    store = registry.getUtility(IHitStore)
    now = utcnow()
    for site in sites:
        options = {"ip": address, "user_agent": environ.get("HTTP_USER_AGENT", ""),
                   "dnt": environ.get("HTTP_DNT") == "1", "gpc": environ.get("HTTP_SEC_GPC") == "1", "now": now}
        try:
            if measured is None:
                hit = enrich(registry, site, raw, **options)
            else:  # not a hit: not counted among the ignored hits either
                hit = registry.getUtility(IHitPipeline).process(site, raw, **options)._replace(
                    event="engagement", referrer="", props=None,
                    engaged_ms=measured.engaged_ms, scroll_depth=measured.scroll_depth,
                )
        except Ignored:
            continue
        if not store.submit(hit):
            return _retry_later("too many hits waiting to be stored; retry later")
    return None


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadHit({name: "must be a string"})
    return value


def _props(value):
    """Plausible sends ``p`` as an object, or as a JSON string of one."""
    return value if value not in (None, "", {}) else None


class Measured:
    """An engagement's numbers: engaged milliseconds, scroll depth in percent (or ``None``)."""

    __slots__ = ("engaged_ms", "scroll_depth")

    def __init__(self, engaged_ms: int, scroll_depth: int | None) -> None:
        self.engaged_ms = engaged_ms
        self.scroll_depth = scroll_depth


def _whole(value, name: str, high: int | None) -> int | None:
    """A whole number from 0 (to ``high``, else any: the caller caps it), ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (high is not None and value > high):
        bound = f"from 0 to {high}" if high is not None else "from 0"
        raise BadHit({name: f"must be a whole number {bound}"})
    return value


def engagement_of(data: dict) -> Measured:
    """The numbers of a Plausible engagement (compact keys ``e`` and ``sd``), bounded."""
    engaged = _whole(data.get("e"), "e", MAX_ENGAGED_MS)
    depth = _whole(data.get("sd"), "sd", None)
    if engaged is None and depth is None:
        raise BadHit({"e": "an engagement needs e (engaged milliseconds) or sd (scroll depth)"})
    return Measured(engaged or 0, None if depth is None else min(depth, 100))


def plausible_fields(data: dict) -> tuple[list[str], dict, Measured | None]:
    """The domains and the beacon's fields of a Plausible event, and for an engagement its
    numbers (its fields are its page's)."""
    data = {COMPACT.get(key, key): value for key, value in data.items()}
    name = _text(data.get("name"), "name")
    if not name:
        raise BadHit({"name": "required"})
    domains = [d.strip().lower() for d in _text(data.get("domain"), "domain").split(",") if d.strip()]
    if not domains:
        raise BadHit({"domain": "required"})
    if len(domains) > MAX_DOMAINS:
        raise BadHit({"domain": f"at most {MAX_DOMAINS} domains"})
    if name == "engagement":
        measured = engagement_of(data)
        url = data.get("url")
        return domains, ({} if url is None else {"url": url}), measured
    # Revenue (``$``) is the beacon's own ``revenue`` field: an exact amount in an ISO 4217
    # currency, kept as the event's revenue (goals count it), checked as the beacon checks it.
    revenue = data.get("revenue")
    fields = {"url": data.get("url"), "event": name, "referrer": data.get("referrer"),
              "props": _props(data.get("props")), "revenue": revenue or None}
    return domains, {key: value for key, value in fields.items() if value is not None}, None


def umami_fields(payload: dict) -> tuple[str, dict]:
    """The website id and the beacon's fields of an Umami ``event`` payload."""
    website = _text(payload.get("website"), "website")
    if not website:
        raise BadHit({"website": "required"})
    url = _text(payload.get("url"), "url")
    hostname = _text(payload.get("hostname"), "hostname")
    if url.startswith("/") and hostname and len(hostname) <= 253:
        url = f"https://{hostname}{url}"
    fields: dict[str, object] = {"url": url, "referrer": _text(payload.get("referrer"), "referrer")[:MAX_URL]}
    name = _text(payload.get("name"), "name")
    if name:
        fields["event"] = name
    data = payload.get("data")
    if data not in (None, {}):
        fields["props"] = data
    match = _SCREEN.match(_text(payload.get("screen"), "screen"))
    if match:
        fields["width"] = int(match.group(1))
    return website, fields


def _lookup(request, key: str, condition):
    """The site that ``condition()`` (a WHERE clause, made only when the site is not cached: an
    SQL expression costs more to build than the rest of a hit) finds, cached per process like
    the beacon's sites."""
    directory = request.registry.getUtility(IDropInSites)

    def load(_):
        # A short session of its own, as the beacon's site lookups (outside the transaction).
        try:
            with request.registry.getUtility(IDatabase).session_factory() as session:
                site = session.scalars(select(Site).where(condition()).order_by(Site.id).limit(1)).first()
                return None if site is None else SiteInfo.from_row(site)
        except DBAPIError as error:
            if not is_disconnect(error):
                raise
            raise SiteUnavailable(str(error.orig)[:200]) from error

    return directory.get(key, load)


@view_config(context=Api, name="event", request_method="POST", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def plausible_event(context, request):
    try:
        domains, fields, measured = plausible_fields(_body(request))
        sites = []
        for domain in domains:
            site = _lookup(request, "plausible:" + domain,
                           lambda domain=domain: Site.url.in_((f"https://{domain}", f"http://{domain}")))
            if site is not None:
                sites.append(site)
        if not sites:
            return _error(404, {"domain": "no site has this domain"})
        refused = _store(request, sites, fields, measured)
    except _Answer as answer:
        return answer.response
    except BadHit as bad:
        return _error(400, bad.errors)
    return refused or _accepted(202, "ok")


@view_config(context=Api, name="send", request_method="POST", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def umami_send(context, request):
    try:
        data = _body(request)
        kind = data.get("type", "event")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise BadHit({"payload": "must be a JSON object"})
        if kind in NOT_HITS:
            return _accepted(200, "{}", "application/json")
        if kind != "event":
            raise BadHit({"type": "must be event, identify, performance or error"})
        website, fields = umami_fields(payload)
        if len(website) > 36:
            return _error(404, {"website": "no site has this Umami website id"})
        site = _lookup(request, "umami:" + website, lambda: Site.umami_website_id == website)
        if site is None:
            return _error(404, {"website": "no site has this Umami website id"})
        if fields["url"].startswith("/") and not payload.get("hostname"):
            # A path without a hostname (``umami.track({url: "/home"})``, @umami/node's own
            # example): a page of the site, as Umami reads it.
            fields["url"] = f"https://{site.domain}{fields['url']}"
        refused = _store(request, [site], fields)
    except _Answer as answer:
        return answer.response
    except BadHit as bad:
        return _error(400, bad.errors)
    return refused or _accepted(200, "{}", "application/json")


@view_config(context=Api, name="event", request_method="OPTIONS", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
@view_config(context=Api, name="send", request_method="OPTIONS", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def preflight(context, request):
    """A browser's CORS preflight. The headers a tracker asks to send are allowed when they are
    plain header names (Umami's script sends its own ``x-umami-*``): the endpoints read none of
    them, take no credentials, and answer every origin alike, so naming them grants nothing."""
    asked = request.environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
    allowed = asked if len(asked) <= MAX_ASKED_HEADERS and _HEADER_NAMES.match(asked) else "Content-Type"
    response = Response(status=204, headerlist=[("Cache-Control", "no-store"), *CORS.items()])
    response.headers.update({"Access-Control-Allow-Methods": "POST, OPTIONS",
                             "Access-Control-Allow-Headers": allowed, "Access-Control-Max-Age": "86400"})
    return response


def _accepted(status: int, text: str, content_type: str = "text/plain") -> Response:
    # The header list made at once, as the beacon's: WebOb's header mapping costs more than
    # the rest of the answer.
    body = text.encode()
    return Response(status=status, app_iter=[body], headerlist=[
        ("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
        *CORS.items()])
