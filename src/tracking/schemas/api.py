"""What the API takes: the stats endpoints' query parameters, the sites' bodies, hits sent by a
back end. Each check raises :class:`InvalidInput` naming the field at fault and saying why.

The stats endpoints speak the dashboard's language: its period (``period=today | yesterday | 7d
| 30d | month | lastmonth | 12mo | custom`` with ``from`` and ``to``) and its filters (one
parameter per dimension: ``country=DE&page=/pricing``), with the same meaning and checks. Where
the dashboard falls back to a default, the API refuses: a period it cannot use is a 400, so a
program never reads other numbers than those it asked for. Unknown and repeated parameters are
400s too.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import NamedTuple

import colander

from ..ingest.enrich import clean_text
from ..ingest.hit import FIELDS, MAX_WIDTH, BadHit, RawHit, parse
from ..models.accounts import normalize_email
from ..models.members import MEMBER_ROLES
from ..reports.api import SERIES_METRICS
from ..reports.intervals import COARSE
from ..reports.periods import DEFAULT_PERIOD, PERIODS, Period, period_from
from ..reports.query import DETAILS, FILTERABLE, InvalidQuery, SiteRef, StatsQuery, filters_from
from ..summaries.dimensions import DIMENSIONS
from . import no_control_characters
from .members import InviteSchema, ShareLinkSchema
from .sites import normalize_site_url, timezones, umami_website_id

#: Intervals of a time series.
INTERVALS = ("hour", "day", *COARSE)
#: Series by the hour cover at most this many days (744 points).
MAX_HOURLY_DAYS = 31
#: Rows of a breakdown per request.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000
PERIOD_PARAMS = ("period", "from", "to")


class InvalidInput(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StatsRequest:
    """A stats endpoint's question: the query value, and the interval asked for."""

    query: StatsQuery
    interval: str = "day"
    #: A breakdown by goal (``dimension=goal``): the goals panel's rows, not a dimension's,
    #: with these metrics.
    by_goal: bool = False
    metrics: tuple[str, ...] = ()


#: The metrics of a breakdown by goal (the goals panel's), in order; revenue comes with each row.
GOAL_METRICS = ("visitors", "conversions", "conversion_rate")


def _single(params, allowed: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in params.items():
        if name not in allowed:
            raise InvalidInput(name, f"There is no parameter {name!r} here.")
        if name in values:
            raise InvalidInput(name, f"The parameter {name!r} is given twice.")
        values[name] = value
    return values


def _period(values: dict[str, str], today: date) -> Period:
    key = values.get("period", DEFAULT_PERIOD)
    if key not in PERIODS:
        raise InvalidInput("period", f"There is no period {key!r}: one of {', '.join(PERIODS)}.")
    if key != "custom" and ("from" in values or "to" in values):
        field = "from" if "from" in values else "to"
        raise InvalidInput(field, "Only a custom period (period=custom) takes from and to.")
    period = period_from(values, today)
    if period.corrected:
        field = "from" if key == "custom" else "period"
        raise InvalidInput(field, period.corrected.partition(":")[0] + ".")
    return period


def _filters(values: dict[str, str]):
    for dim in FILTERABLE:
        if dim in values:
            try:
                filters_from({dim: values[dim]})
            except InvalidQuery as error:
                raise InvalidInput(dim, str(error)) from None
    return filters_from(values)


def _boolean(values: dict[str, str], name: str) -> bool:
    value = values.get(name, "false")
    if value not in ("true", "false"):
        raise InvalidInput(name, f"{name} is true or false.")
    return value == "true"


def _integer(values: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = values.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not low <= int(text) <= high:
        raise InvalidInput(name, f"{name} is a whole number from {low} to {high}.")
    return int(text)


def stats_request(kind: str, params, site, today: date) -> StatsRequest:
    """The question of a stats endpoint (``aggregate``, ``timeseries``, ``breakdown`` or
    ``realtime``) from its query parameters, for ``site`` (whose local date is ``today``)."""
    extra = {
        "aggregate": ("compare",),
        "timeseries": ("compare", "interval", "metrics"),
        "breakdown": ("dimension", "metrics", "limit", "offset", "prop_event"),
        "realtime": (),
    }[kind]
    values = _single(params, (*PERIOD_PARAMS, *FILTERABLE, *extra) if kind != "realtime" else ())
    period = _period(values, today)
    filters = _filters(values)
    ref = SiteRef.of(site)
    if kind == "breakdown":
        dim = values.get("dimension")
        if dim is None:
            raise InvalidInput("dimension", "A breakdown needs a dimension.")
        if dim == "goal":
            metrics = tuple(values["metrics"].split(",")) if "metrics" in values else GOAL_METRICS
            if any(metric not in GOAL_METRICS for metric in metrics) or len(set(metrics)) != len(metrics):
                raise InvalidInput("metrics", f"A breakdown by goal has the metrics {', '.join(GOAL_METRICS)}, each once.")
            if "prop_event" in values:
                raise InvalidInput("prop_event", "Only a breakdown by prop takes prop_event.")
            query = StatsQuery(ref, period, filters, limit=_integer(values, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
                               offset=_integer(values, "offset", 0, 0, MAX_OFFSET))
            return StatsRequest(query, by_goal=True, metrics=metrics)
        if dim not in DIMENSIONS:
            raise InvalidInput("dimension", f"There is no dimension {dim!r}: one of {', '.join(DIMENSIONS)}.")
        metrics = tuple(values["metrics"].split(",")) if "metrics" in values else DETAILS[dim]
        wrong = [metric for metric in metrics if metric not in DETAILS[dim]]
        if wrong or len(set(metrics)) != len(metrics):
            raise InvalidInput("metrics", f"A breakdown by {dim} has the metrics {', '.join(DETAILS[dim])}, each once.")
        if "prop_event" in values and dim != "prop":
            raise InvalidInput("prop_event", "Only a breakdown by prop takes prop_event.")
        query = StatsQuery(ref, period, filters, (dim,), metrics,
                           limit=_integer(values, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
                           offset=_integer(values, "offset", 0, 0, MAX_OFFSET),
                           prop_event=values.get("prop_event", ""))
        return StatsRequest(query)
    interval = values.get("interval", "hour" if period.hourly else "day")
    if interval not in INTERVALS:
        raise InvalidInput("interval", f"There is no interval {interval!r}: one of {', '.join(INTERVALS)}.")
    if interval == "hour" and period.days > MAX_HOURLY_DAYS:
        raise InvalidInput("interval", f"A series by the hour covers at most {MAX_HOURLY_DAYS} days.")
    metrics = tuple(values["metrics"].split(",")) if "metrics" in values else SERIES_METRICS
    if any(metric not in SERIES_METRICS for metric in metrics) or len(set(metrics)) != len(metrics):
        raise InvalidInput("metrics", f"A time series has the metrics {', '.join(SERIES_METRICS)}, each once.")
    query = StatsQuery(ref, period, filters, metrics=metrics, interval=interval if interval == "hour" else "day",
                       compare=_boolean(values, "compare"))
    return StatsRequest(query, interval)


# Sites


def _site_url(node, value):
    try:
        normalize_site_url(value)
    except ValueError as exc:
        raise colander.Invalid(node, str(exc)) from None


def _strict_string():
    return colander.String(allow_empty=False)


class _StrictBoolean(colander.SchemaType):
    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if not isinstance(cstruct, bool):
            raise colander.Invalid(node, "Must be true or false.")
        return cstruct


class _Text(colander.String):
    def deserialize(self, node, cstruct):
        if cstruct is not colander.null and not isinstance(cstruct, str):
            raise colander.Invalid(node, "Must be a string.")
        return super().deserialize(node, cstruct)


def _one_line(node, value: str) -> None:
    """A name is one line of text that a database can store: no control character (NUL among
    them) and no lone surrogate (which JSON's ``\\uD800`` escapes can carry)."""
    no_control_characters(node, value)
    if any(unicodedata.category(char) == "Cs" for char in value):
        raise colander.Invalid(node, "Must be valid Unicode text.")


def _site_schema(partial: bool) -> colander.SchemaNode:
    missing = colander.drop if partial else colander.required
    schema = colander.SchemaNode(colander.Mapping(unknown="raise"))
    schema.add(colander.SchemaNode(_Text(), name="name", missing=missing,
                                   preparer=lambda v: v.strip() if isinstance(v, str) else v,
                                   validator=colander.All(colander.Length(min=1, max=100), _one_line)))
    schema.add(colander.SchemaNode(_Text(), name="url", missing=missing,
                                   validator=colander.All(colander.Length(max=300), _site_url)))
    schema.add(colander.SchemaNode(_Text(), name="timezone", missing=colander.drop if partial else "UTC",
                                   validator=colander.OneOf(timezones())))
    for flag in ("honor_dnt", "honor_gpc", "restrict_hosts"):
        schema.add(colander.SchemaNode(_StrictBoolean(), name=flag, missing=colander.drop))
    schema.add(colander.SchemaNode(_OptionalId(), name="umami_website_id", missing=colander.drop))
    return schema


class _OptionalId(colander.SchemaType):
    """An Umami website id (a UUID, stored in its canonical form), or ``null`` for none."""

    def deserialize(self, node, cstruct):
        if cstruct is None:
            return None
        if not isinstance(cstruct, str):
            raise colander.Invalid(node, "Must be a string or null.")
        try:
            return umami_website_id(cstruct.strip().lower())
        except ValueError as error:
            raise colander.Invalid(node, str(error) if len(cstruct) > 36 else "An Umami website id is a UUID.") from None


def site_fields(body: dict, partial: bool = False) -> dict:
    """A site's fields from a JSON body: all of name and url (and optionally the rest) to create
    one, any of them to change one. The url is normalised as the site form does."""
    try:
        fields = _site_schema(partial).deserialize(body)
    except colander.Invalid as error:
        field, message = next(iter(error.asdict().items()))
        if "Unrecognized keys" in message:
            unknown = sorted(set(body) - {"name", "url", "timezone", "honor_dnt", "honor_gpc", "restrict_hosts",
                                          "umami_website_id"})
            raise InvalidInput(unknown[0] if unknown else None, "There is no such field of a site.") from None
        raise InvalidInput(field or None, message) from None
    if "url" in fields:
        fields["url"] = normalize_site_url(fields["url"])
    return fields


# Members, invitations and share links: the web forms' schemas, without their CSRF token, after
# a check of the JSON types (a form takes text only; a number is no e-mail address here)


def _form_fields(schema: colander.SchemaNode, body: dict, types: dict[str, tuple[type, ...]], **bind) -> dict:
    """``body`` checked against ``types`` (field: the JSON types it takes; ``None`` for a missing
    value), then deserialized by a form's ``schema`` (its CSRF token left out)."""
    unknown = sorted(set(body) - set(types))
    if unknown:
        raise InvalidInput(unknown[0], "There is no such field.")
    for name, value in body.items():
        allowed = types[name]
        if list in allowed and isinstance(value, list) and all(isinstance(item, str) for item in value):
            texts = value
        elif type(value) in allowed and not isinstance(value, list):  # exactly: true is no number, 1 is no boolean
            texts = [value] if isinstance(value, str) else []
        else:
            raise InvalidInput(name, "Must be " + " or ".join(_TYPE_NAMES[kind] for kind in allowed) + ".")
        if any(unicodedata.category(char) == "Cs" for text in texts for char in text):
            raise InvalidInput(name, "Must be valid Unicode text.")
    schema = schema.clone()
    del schema["csrf_token"]
    cstruct = {name: ("\n".join(value) if isinstance(value, list) else value)
               for name, value in body.items() if value is not None}
    try:
        return schema.bind(**bind).deserialize(cstruct)
    except colander.Invalid as error:
        field, message = next(iter(error.asdict().items()))
        raise InvalidInput(field or None, message) from None


_TYPE_NAMES = {str: "a string", bool: "true or false", list: "a list of strings", type(None): "null"}


def invitation_fields(body: dict) -> dict:
    """An invitation: ``email`` and ``role`` (``viewer`` unless said), checked as the members
    page's invite form checks them; the address normalised as the page does."""
    fields = _form_fields(InviteSchema(), {"role": "viewer", **body}, {"email": (str,), "role": (str,)})
    return {"email": normalize_email(fields["email"]), "role": fields["role"]}


def member_role(body: dict) -> str:
    """A member's new role (``admin`` or ``viewer``); removing one is ``DELETE``."""
    unknown = sorted(set(body) - {"role"})
    if unknown:
        raise InvalidInput(unknown[0], "There is no such field.")
    role = body.get("role")
    if role not in MEMBER_ROLES:  # (not hashed: a list or an object is simply not one of them)
        raise InvalidInput("role", f"Must be one of {', '.join(MEMBER_ROLES)}.")
    return role


def share_fields(body: dict, today: date) -> dict:
    """A share link: ``label``, and optionally ``password``, ``expires`` (a day after ``today``,
    YYYY-MM-DD: the link stops at its start, UTC), ``include_visits`` and ``origins`` (a list of
    origins that may frame its dashboard), checked as the share page's form checks them."""
    types = {"label": (str,), "password": (str, type(None)), "expires": (str, type(None)),
             "include_visits": (bool,), "origins": (list,)}
    fields = _form_fields(ShareLinkSchema(), body, types, today=today)
    return {"label": fields["label"], "password": fields["password"], "expires": fields["expires"],
            "include_visits": fields["include_visits"], "origins": fields["origins"].split()}


# Hits sent by a back end

#: Hits in one request at most.
MAX_HITS = 1000
MAX_USER_AGENT = 2048
#: The fields of one hit: the beacon's, and what a browser would have told the beacon itself.
HIT_FIELDS = ("site_id", *FIELDS, "ip", "user_agent", "dnt", "gpc")


class ServerHit(NamedTuple):
    """One hit of a batch, checked (a tuple: made a thousand times a request, a third of the
    cost of a frozen dataclass)."""

    site_id: int
    raw: RawHit
    ip: str
    user_agent: str
    dnt: bool
    gpc: bool


def server_hits(body: dict) -> list[ServerHit]:
    """The hits of ``{"hits": [...]}``, each checked as the beacon checks a hit (the same
    bounds, the same cleaning), with the visitor's address and user agent."""
    if set(body) != {"hits"}:
        extra = sorted(set(body) - {"hits"})
        raise InvalidInput(extra[0] if extra else "hits", "The body is {\"hits\": [...]}.")
    items = body["hits"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_HITS:
        raise InvalidInput("hits", f"A list of 1 to {MAX_HITS} hits.")
    hits = []
    for n, item in enumerate(items):
        try:
            hits.append(_server_hit(item))
        except _BadField as bad:
            raise InvalidInput(f"hits[{n}]{bad.where}", bad.message) from None
    return hits


class _BadField(Exception):
    """A hit's field at fault (``.url``; ``""``: the hit itself), named with its place in the
    list by :func:`server_hits` (only then: the names of a thousand good hits are never made)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


_HIT_FIELDS = frozenset(HIT_FIELDS)
_SITE_IDS = range(1, 2**31)


def _server_hit(item) -> ServerHit:
    # JSON gives dict, list, str, int, float, bool and None only: ``type(x) is int`` is
    # ``isinstance(x, int)`` without ``bool``, ``x is True or x is False`` is ``isinstance(x, bool)``.
    if type(item) is not dict:
        raise _BadField("", "A hit is a JSON object.")
    if not _HIT_FIELDS.issuperset(item):
        raise _BadField(f".{sorted(item.keys() - _HIT_FIELDS)[0]}", "There is no such field of a hit.")
    site_id = item.get("site_id")
    if type(site_id) is not int or site_id not in _SITE_IDS:
        raise _BadField(".site_id", "The id of a site (a positive whole number).")
    ip = item.get("ip")
    ip = _address(ip) if type(ip) is str and len(ip) <= 45 else None
    if ip is None:
        raise _BadField(".ip", "The visitor's IP address (IPv4 or IPv6).")
    user_agent = item.get("user_agent")
    if type(user_agent) is not str or len(user_agent) > MAX_USER_AGENT:
        raise _BadField(".user_agent", f"The visitor's User-Agent, at most {MAX_USER_AGENT} characters.")
    dnt = item.get("dnt", False)
    if dnt is not True and dnt is not False:
        raise _BadField(".dnt", "true or false.")
    gpc = item.get("gpc", False)
    if gpc is not True and gpc is not False:
        raise _BadField(".gpc", "true or false.")
    url = item.get("url", _MISSING)
    if url is _MISSING:
        raise _BadField(".url", "The page's address is required.")
    event, referrer, width = item.get("event"), item.get("referrer"), item.get("width")
    try:
        if (
            item.get("props") is None
            and item.get("revenue") is None
            and type(url) is str
            and (event is None or type(event) is str)
            and (referrer is None or type(referrer) is str)
            and (width is None or type(width) is int)
            and len(url) + len(event or "") + len(referrer or "") <= CACHED_FIELDS
        ):
            raw = _raw_hit(url, event, referrer)
            if width is not None:
                # Not in the cache's key: a page is seen at many widths. A wrong one is said as
                # the beacon says it.
                raw = RawHit(raw.page, raw.event, raw.referrer, width) if 0 <= width <= MAX_WIDTH else parse(item)
        else:
            raw = parse(item)  # reads the beacon's fields of the hit, no other
    except BadHit as bad:
        name, message = next(iter(bad.errors.items()))
        raise _BadField(f".{name}", message) from None
    return ServerHit(site_id, raw, ip, _user_agent(user_agent), dnt, gpc)


_MISSING = object()

# A back end reports the same pages, visitors and browsers hit after hit: their checks are
# cached (bounded whatever is sent: ~10 MB at worst, well under 1 MB for ordinary pages). The
# hits of one page share one :class:`RawHit`, which nothing changes after it is made.

#: The page, event and referrer of a hit are checked through the cache when their characters
#: add up to at most this many (and the hit has no props and no revenue).
CACHED_FIELDS = 512


@lru_cache(maxsize=2048)
def _raw_hit(url: str, event: str | None, referrer: str | None) -> RawHit:
    return parse({"url": url, "event": event, "referrer": referrer})


@lru_cache(maxsize=4096)
def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=512)
def _user_agent(text: str) -> str:
    return clean_text(text, MAX_USER_AGENT)
