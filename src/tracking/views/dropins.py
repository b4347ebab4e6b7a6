"""Drop-in endpoints for the trackers of Plausible and Umami: a site moves here by pointing the
tracker it already has at this server, without editing its pages otherwise.

``POST /api/event`` takes what Plausible's tracker sends: the long form of its Events API
(``name``, ``url``, ``domain``, ``referrer``, ``props``, ``revenue``) and the compact keys its
current script posts as ``text/plain`` (``n``, ``u``, ``d``, ``r``, ``p``, ``$``). The site is
the one whose host is ``domain`` (a comma-separated list sends the hit to each; when several
accounts added the same host, the first site added gets it, as a domain belongs to whoever added
it first on Plausible). It answers as Plausible does: ``202`` and ``ok``. Its ``engagement``
events (time on the page, scroll depth) are measurements of a page view, not page views: they
are answered ``202`` and not stored as hits (this version keeps no engagement measurements).

``POST /api/send`` takes what Umami's tracker and clients send (``{"type": "event", "payload":
{website, hostname, url, referrer, title, screen, language, name, data}}``); the site is the one
whose owner set that *Umami website id* in its settings. A ``url`` that is a path without a
``hostname`` (what ``@umami/node`` sends from a back end) is a page of that site. ``identify``
calls are answered and ignored. It answers ``200`` with ``{}``.

Both go the beacon's way: the per-client limit, the same checks (the URL, the event name, the
properties), the same filters (DNT and GPC as the site honours them, foreign hosts, bots), the
same enrichment, buffer and durability. They are public, like the beacon, and read no cookie.
Errors are the beacon's: ``{"errors": {field: message}}``.
"""

from __future__ import annotations

import json
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
from ..interfaces import IBeaconLimiter, IDatabase, IDropInSites, IHitStore
from ..models import Site
from ..models.types import utcnow
from ..resources import is_disconnect
from .beacon import CORS, _error, _retry_later, _too_many, enrich

log = logging.getLogger(__name__)

#: Plausible's compact keys and the long names they stand for.
COMPACT = {"n": "name", "u": "url", "d": "domain", "r": "referrer", "p": "props", "$": "revenue"}
MAX_DOMAINS = 10
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


def _store(request, sites, fields: dict) -> Response | None:
    """Check ``fields`` as the beacon does and send the hit to each of ``sites``; a response when
    the hit cannot be taken (429, 400, 503), else ``None``."""
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
        try:
            hit = enrich(registry, site, raw, ip=address, user_agent=environ.get("HTTP_USER_AGENT", ""),
                         dnt=environ.get("HTTP_DNT") == "1", gpc=environ.get("HTTP_SEC_GPC") == "1", now=now)
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


def plausible_fields(data: dict) -> tuple[list[str], dict | None]:
    """The domains and the beacon's fields of a Plausible event (``None``: an engagement)."""
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
        return domains, None
    props = _props(data.get("props"))
    revenue = data.get("revenue")
    if isinstance(revenue, dict) and revenue:
        if props is None:
            props = {}
        if isinstance(props, str):
            try:
                props = json.loads(props)
            except (ValueError, RecursionError):
                raise BadHit({"props": "must be a JSON object"}) from None
        if isinstance(props, dict):
            props = {**props, "revenue": f"{revenue.get('amount', '')} {revenue.get('currency', '')}".strip()}
    fields = {"url": data.get("url"), "event": name, "referrer": data.get("referrer"), "props": props}
    return domains, {key: value for key, value in fields.items() if value is not None}


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


def _lookup(request, key: str, query):
    """The site that ``query`` finds, cached per process like the beacon's sites."""
    directory = request.registry.getUtility(IDropInSites)

    def load(_):
        # A short session of its own, as the beacon's site lookups (outside the transaction).
        try:
            with request.registry.getUtility(IDatabase).session_factory() as session:
                site = session.scalars(query.order_by(Site.id).limit(1)).first()
                return None if site is None else SiteInfo.from_row(site)
        except DBAPIError as error:
            if not is_disconnect(error):
                raise
            raise SiteUnavailable(str(error.orig)[:200]) from error

    return directory.get(key, load)


@view_config(context=Api, name="event", request_method="POST", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def plausible_event(context, request):
    try:
        domains, fields = plausible_fields(_body(request))
        sites = []
        for domain in domains:
            hosts = (f"https://{domain}", f"http://{domain}")
            site = _lookup(request, "plausible:" + domain, select(Site).where(Site.url.in_(hosts)))
            if site is not None:
                sites.append(site)
        if not sites:
            return _error(404, {"domain": "no site has this domain"})
        if fields is None:  # an engagement: not a page view
            return _accepted(202, "ok")
        refused = _store(request, sites, fields)
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
        if kind == "identify":
            return _accepted(200, "{}", "application/json")
        if kind != "event":
            raise BadHit({"type": "must be event or identify"})
        website, fields = umami_fields(payload)
        if len(website) > 36:
            return _error(404, {"website": "no site has this Umami website id"})
        site = _lookup(request, "umami:" + website, select(Site).where(Site.umami_website_id == website))
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
    response = Response(status=204, headerlist=[("Cache-Control", "no-store"), *CORS.items()])
    response.headers.update({"Access-Control-Allow-Methods": "POST, OPTIONS",
                             "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"})
    return response


def _accepted(status: int, text: str, content_type: str = "text/plain") -> Response:
    response = Response(status=status, body=text.encode(), content_type=content_type, charset=None)
    response.headers.update({"Cache-Control": "no-store", **CORS})
    return response
