"""The API's contract: the OpenAPI 3.1 document served at ``/api/v1/openapi.json``.

Built from the same constants the code checks against (periods, dimensions, metrics, filters,
scopes, bounds), so the document cannot drift from what the endpoints accept. The test suite
validates every API answer it gets against this document, and runs schemathesis against a live
server with it.
"""

from __future__ import annotations

from functools import cache

from ..api_keys import SCOPES
from ..conversions import MIN_STEPS
from ..goals import KINDS, MAX_NAME, MAX_PATTERN
from ..goals import MAX_EVENT as MAX_GOAL_EVENT
from ..ingest.hit import MAX_EVENT, MAX_PROP_KEY, MAX_PROP_VALUE, MAX_PROPS, MAX_URL, MAX_WIDTH
from ..members import INVITATION_LIFETIME
from ..models.members import MEMBER_ROLES, ROLES
from ..reports.api import SERIES_METRICS
from ..reports.engagement import ENGAGEMENT_METRICS
from ..reports.periods import PERIODS
from ..reports.query import DETAILS, FILTERABLE, MAX_FILTER
from ..summaries.dimensions import DIMENSIONS, LABELS
from . import api as limits
from .accounts import PASSWORD_MAX, PASSWORD_MIN
from .api import GOAL_METRICS
from .members import MAX_ORIGINS

VERSION = "1"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests a minute this key may make.", "schema": {"type": "string"}},
    "RateLimit-Remaining": {"description": "Requests left in this minute.", "schema": {"type": "string"}},
    "RateLimit-Reset": {"description": "Seconds until the minute starts afresh.", "schema": {"type": "string"}},
}
ERRORS = {
    "400": "A parameter or a field of the body is wrong (`field` names it).",
    "401": "No API key, or one that is unknown, revoked or expired.",
    "403": "The key may not do this (a scope it lacks).",
    "404": "No such site, or not one this key may see.",
    "405": "The resource does not answer this method.",
    "413": "The body is too large.",
    "429": "Too many requests with this key this minute (`Retry-After` says how long to wait).",
}


def _errors(*codes: str) -> dict:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in ("400", "401", "404", "405", "429", *codes)}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PERIOD_PARAMETERS = [
    _query("period", {"type": "string", "enum": list(PERIODS), "default": "30d"},
           "The dashboard's periods, in the site's time zone; `custom` takes `from` and `to`."),
    _query("from", {"type": "string", "format": "date"}, "A custom period's first day (YYYY-MM-DD)."),
    _query("to", {"type": "string", "format": "date"}, "A custom period's last day, included."),
    *(_query(dim, {"type": "string", "maxLength": MAX_FILTER}, f"Only visits whose {LABELS[dim].lower()} is this.")
      for dim in FILTERABLE if dim != "goal"),
    _query("goal", {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"},
           "Only visits that converted on this goal (its id): one of its hits matches the goal."),
]
COMPARE = _query("compare", {"type": "string", "enum": ["true", "false"], "default": "false"},
                 "Also the period before (as the dashboard compares).")
SITE_ID = {"name": "site_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
GOAL_ID = {"name": "goal_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1},
           "description": "The member's user id."}
INVITATION_ID = {"name": "invitation_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
SHARE_ID = {"name": "share_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _deleted(summary: str, tag: str) -> dict:
    return {"summary": summary, "tags": [tag],
            "responses": {"204": {"description": "Done.", "headers": RATE_HEADERS}, **_errors("403")}}


def _stats(summary: str, parameters: list, schema: str, description: str) -> dict:
    return {"get": {
        "summary": summary, "description": description, "tags": ["stats"],
        "parameters": [SITE_ID, *parameters],
        "responses": {"200": _json(_ref(schema), summary, RATE_HEADERS), **_errors("403")},
    }}


def _schemas() -> dict:
    number = {"type": "number"}
    count = {"type": "integer", "minimum": 0}
    period = {"type": "object", "required": ["key", "from", "to"], "properties": {
        "key": {"type": "string"}, "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}}}
    totals = {"type": "object", "properties": {
        "visitors": count, "visits": count, "pageviews": count, "events": count,
        "views_per_visit": number, "bounce_rate": number, "average_duration": number},
        "required": ["visitors", "visits", "pageviews", "events", "views_per_visit", "bounce_rate", "average_duration"],
        "additionalProperties": False}
    base = {"site_id": {"type": "integer"}, "timezone": {"type": "string"}, "period": period,
            "filters": {"type": "object", "additionalProperties": {"type": "string"}}}
    metrics = sorted({metric for names in (*DETAILS.values(), GOAL_METRICS) for metric in names})
    money = {"type": "object", "required": ["amount", "currency"], "additionalProperties": False, "properties": {
        "amount": {"type": "string", "description": "Exact decimal text, with the currency's decimals."},
        "currency": {"type": "string", "description": "ISO 4217."}}}
    site_fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "url": {"type": "string", "maxLength": 300, "description": "scheme://host[:port]; a path is dropped."},
        "timezone": {"type": "string", "description": "An IANA time zone.", "default": "UTC"},
        "honor_dnt": {"type": "boolean"}, "honor_gpc": {"type": "boolean"}, "restrict_hosts": {"type": "boolean"},
        "umami_website_id": {"type": ["string", "null"], "description": "The id Umami's tracker sends (a UUID), for POST /api/send."},
    }
    scalar = {"type": ["string", "number", "boolean", "null"]}
    uses = {  # what deleting a goal does to what is built on it
        "funnels": {"type": "array", "items": _ref("FunnelChange"),
                    "description": "The funnels with a step on the goal, oldest first."},
        "experiments": {"type": "array", "items": _ref("ExperimentChange"),
                        "description": "The experiments measured on the goal, oldest first."},
    }
    goal_fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
        "kind": {"type": "string", "enum": list(KINDS)},
        "pattern": {"type": "string", "maxLength": MAX_PATTERN,
                    "description": "A page goal's path: `*` any run of characters within a segment, `**` across segments."},
        "event": {"type": "string", "maxLength": MAX_GOAL_EVENT, "description": "An event goal's custom event."},
        "prop_key": {"type": "string", "maxLength": MAX_PROP_KEY, "description": "Optional: only its events with this property…"},
        "prop_value": {"type": "string", "maxLength": MAX_PROP_VALUE, "description": "…set to this value."},
        "currency": {"type": ["string", "null"], "description": "An event goal's revenue currency (ISO 4217)."},
    }
    moment = {"type": "string", "format": "date-time"}
    role = {"type": "string", "enum": list(MEMBER_ROLES)}
    invitation = {"email": {"type": "string", "maxLength": 254}, "role": {**role, "default": "viewer"}}
    share = {
        "label": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Who the link is for, say."},
        "password": {"type": ["string", "null"], "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX,
                     "description": "Optional: the dashboard asks for it."},
        "expires": {"type": ["string", "null"], "format": "date",
                    "description": "Optional: a day after today; the link stops at its start (UTC)."},
        "include_visits": {"type": "boolean", "default": False, "description": "The visit log (and its exports) too."},
        "origins": {"type": "array", "maxItems": MAX_ORIGINS, "items": {"type": "string"},
                    "description": "Origins (https://example.com) that may show the dashboard in a frame."},
    }
    return {
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False, "properties": {"error": {
            "type": "object", "required": ["code", "field", "message"], "additionalProperties": False, "properties": {
                "code": {"type": "string", "enum": ["invalid", "invalid_json", "unauthorized", "insufficient_scope",
                                                    "not_found", "method_not_allowed", "too_large", "rate_limited",
                                                    "server_error", "unavailable"]},
                "field": {"type": ["string", "null"]}, "message": {"type": "string"}}}}},
        "Totals": totals,
        "Aggregate": {"type": "object", "required": [*base, "results"], "properties": {
            **base, "results": _ref("Totals"),
            "previous": {"type": "object", "properties": {"period": period, "results": _ref("Totals")}}}},
        "Bucket": {"type": "object", "required": ["start"], "additionalProperties": False, "properties": {
            "start": {"type": "string", "description": "Local time of the bucket's start."},
            "visitors": count, "visits": count, "pageviews": count,
            **{ratio: {"type": ["number", "null"], "description": "null for a bucket without visits."}
               for ratio in ("views_per_visit", "bounce_rate", "average_duration")}}},
        "Timeseries": {"type": "object", "required": [*base, "interval", "metrics", "results"], "properties": {
            **base, "interval": {"type": "string", "enum": list(limits.INTERVALS)},
            "metrics": {"type": "array", "items": {"type": "string", "enum": list(SERIES_METRICS)}},
            "results": {"type": "array", "items": _ref("Bucket")},
            "previous": {"type": "object", "required": ["period", "visitors", "results"], "properties": {
                "period": period, "visitors": {"type": "array", "items": count},
                "results": {"type": "array", "items": _ref("Bucket")}}}}},
        "Breakdown": {"type": "object", "required": [*base, "dimension", "metrics", "results", "offset", "next_offset"], "properties": {
            **base, "dimension": {"type": "string", "enum": [*DIMENSIONS, "goal"]},
            "metrics": {"type": "array", "items": {"type": "string", "enum": metrics}},
            "results": {"type": "array", "items": {"type": "object", "required": ["value", "share"], "properties": {
                "value": {"type": "string"}, "event": {"type": "string"}, "property": {"type": "string"}, "share": number,
                "goal_id": {"type": "integer", "description": "dimension=goal: the goal's id (its name is the value)."},
                "revenue": {"oneOf": [money, {"type": "null"}],
                            "description": "dimension=goal: the conversions' revenue in the goal's currency."},
                "average_revenue": {"oneOf": [money, {"type": "null"}],
                                    "description": "dimension=goal: per conversion that carried an amount in it."},
                "other_revenue": {"type": "array", "items": money,
                                  "description": "dimension=goal: revenue in other currencies, never converted."},
                **{metric: number for metric in metrics},
                **{metric: {"type": ["number", "null"], "description": "null: the page has no measurement."}
                   for metric in ENGAGEMENT_METRICS}}}},
            "offset": count, "next_offset": {"type": ["integer", "null"]}}},
        "Realtime": {"type": "object", "required": ["site_id", "visitors"], "properties": {"site_id": {"type": "integer"}, "visitors": count}},
        "Site": {"type": "object", "additionalProperties": False,
                 "required": ["id", "domain", "created_at", *site_fields],
                 "properties": {"id": {"type": "integer"}, "domain": {"type": "string"},
                                "created_at": {"type": "string", "format": "date-time"}, **site_fields}},
        "SiteList": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": _ref("Site")}}},
        "NewSite": {"type": "object", "required": ["name", "url"], "additionalProperties": False, "properties": site_fields},
        "SiteChange": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": site_fields},
        "Hit": {"type": "object", "required": ["site_id", "url", "ip", "user_agent"], "additionalProperties": False, "properties": {
            "site_id": {"type": "integer", "minimum": 1},
            "url": {"type": "string", "maxLength": MAX_URL, "description": "The page's absolute http(s) address."},
            "event": {"type": "string", "maxLength": MAX_EVENT, "default": "pageview"},
            "referrer": {"type": "string", "maxLength": MAX_URL},
            "width": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_WIDTH},
            "props": {"type": ["object", "null"], "maxProperties": MAX_PROPS, "additionalProperties": scalar,
                      "description": f"Keys of 1 to {MAX_PROP_KEY} characters, values of at most {MAX_PROP_VALUE}."},
            "revenue": {"type": ["object", "null"], "required": ["amount", "currency"], "additionalProperties": False,
                        "description": "A custom event's revenue: an amount from 0 to under 10^12 with at most its "
                                       "currency's decimals, and an ISO 4217 currency.",
                        "properties": {"amount": {"type": ["string", "number"]}, "currency": {"type": "string"}}},
            "ip": {"type": "string", "description": "The visitor's IP address."},
            "user_agent": {"type": "string", "maxLength": limits.MAX_USER_AGENT, "description": "The visitor's User-Agent."},
            "dnt": {"type": "boolean", "default": False, "description": "The visitor sent DNT: 1."},
            "gpc": {"type": "boolean", "default": False, "description": "The visitor sent Sec-GPC: 1."}}},
        "Hits": {"type": "object", "required": ["hits"], "additionalProperties": False, "properties": {
            "hits": {"type": "array", "minItems": 1, "maxItems": limits.MAX_HITS, "items": _ref("Hit")}}},
        "Goal": {"type": "object", "additionalProperties": False, "required": ["id", *goal_fields],
                 "properties": {"id": {"type": "integer"}, **goal_fields}},
        "GoalList": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": _ref("Goal")}}},
        "NewGoal": {"type": "object", "required": ["name", "kind"], "additionalProperties": False, "properties": goal_fields},
        "GoalChange": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": goal_fields},
        "FunnelChange": {"type": "object", "required": ["id", "name", "outcome", "steps"], "additionalProperties": False,
                         "properties": {
                             "id": {"type": "integer"}, "name": {"type": "string"},
                             "outcome": {"type": "string", "enum": ["changed", "deleted"], "description": (
                                 f"`changed`: it loses its steps on the goal; `deleted`: it would keep fewer than "
                                 f"{MIN_STEPS} steps, so it goes with the goal.")},
                             "steps": {"type": "array", "items": {"type": "integer"},
                                       "description": "The goal ids of the steps it keeps (would have kept), in order."}}},
        "ExperimentChange": {"type": "object", "required": ["id", "name", "key", "outcome"], "additionalProperties": False,
                             "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                            "key": {"type": "string"},
                                            "outcome": {"type": "string", "enum": ["deleted"],
                                                        "description": "An experiment goes with its goal."}}},
        "GoalDeleted": {"type": "object", "required": ["goal", *uses], "additionalProperties": False,
                        "properties": {"goal": _ref("Goal"), **uses}},
        "GoalInUse": {"type": "object", "required": ["error", *uses], "additionalProperties": False, "properties": {
            "error": {"type": "object", "required": ["code", "field", "message"], "additionalProperties": False,
                      "properties": {"code": {"type": "string", "enum": ["goal_in_use"]}, "field": {"type": "null"},
                                     "message": {"type": "string"}}},
            **uses}},
        "Member": {"type": "object", "required": ["user_id", "name", "email", "role"], "additionalProperties": False,
                   "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                                  "role": {"type": "string", "enum": list(ROLES)}}},
        "MemberList": {"type": "object", "required": ["results", "invitations"], "properties": {
            "results": {"type": "array", "items": _ref("Member"), "description": "The owner first, then the members."},
            "invitations": {"type": "array", "items": _ref("Invitation"), "description": "The pending invitations."}}},
        "MemberChange": {"type": "object", "required": ["role"], "additionalProperties": False,
                         "properties": {"role": role}},
        "Invitation": {"type": "object", "required": [*invitation, "id", "created_at", "expires_at"],
                       "properties": {"id": {"type": "integer"}, **invitation, "created_at": moment, "expires_at": moment}},
        "InvitationList": {"type": "object", "required": ["results"],
                           "properties": {"results": {"type": "array", "items": _ref("Invitation")}}},
        "NewInvitation": {"type": "object", "required": ["email"], "additionalProperties": False, "properties": invitation},
        "SentInvitation": {"allOf": [_ref("Invitation"), {"type": "object", "required": ["url"], "properties": {"url": {
            "type": "string", "description": "The acceptance link, shown this once: send it to the address."}}}]},
        "ShareLink": {"type": "object", "required": ["id", "label", "password", "expires_at", "include_visits", "origins",
                                                     "created_at"],
                      "properties": {"id": {"type": "integer"}, "label": share["label"],
                                     "password": {"type": "boolean", "description": "Whether the link asks for a password."},
                                     "expires_at": {"type": ["string", "null"], "format": "date-time"},
                                     "include_visits": share["include_visits"], "origins": share["origins"],
                                     "created_at": moment}},
        "ShareLinkList": {"type": "object", "required": ["results"],
                          "properties": {"results": {"type": "array", "items": _ref("ShareLink")}}},
        "NewShareLink": {"type": "object", "required": ["label"], "additionalProperties": False, "properties": share},
        "SentShareLink": {"allOf": [_ref("ShareLink"), {"type": "object", "required": ["url"], "properties": {"url": {
            "type": "string", "description": "The link's secret address, shown this once."}}}]},
        "Accepted": {"type": "object", "required": ["accepted", "ignored"], "properties": {
            "accepted": count, "ignored": {"type": "object", "additionalProperties": count}}},
    }


@cache
def document() -> dict:
    """The OpenAPI document (paths relative to ``/api/v1``)."""
    error_responses = {f"E{code}": _json(_ref("Error"), text) for code, text in ERRORS.items()}
    error_responses["E429"]["headers"] = {"Retry-After": {"schema": {"type": "string"}}, **RATE_HEADERS}
    error_responses["E503"] = _json(_ref("Error"), "Too many hits wait for the database; retry after `Retry-After`.")
    breakdown = [
        _query("dimension", {"type": "string", "enum": [*DIMENSIONS, "goal"]},
               "What to break the visits down by (required); `goal`: the goals panel's rows, each goal's converting "
               "visitors, conversions, conversion rate (its share) and revenue."),
        _query("metrics", {"type": "string"}, "Comma-separated; default (and choice): the dimension's full list's."),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": limits.MAX_LIMIT, "default": limits.DEFAULT_LIMIT}, "Rows."),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": limits.MAX_OFFSET, "default": 0}, "First row."),
        _query("prop_event", {"type": "string"}, "With dimension=prop: only this event's properties."),
    ]
    scopes = "; ".join(f"`{scope}`: {text}" for scope, text in SCOPES.items())
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tracking API", "version": VERSION, "description": (
            "Reports, sites and server-side hits of a Tracking server. Authenticate with an API key "
            f"from your account page: `Authorization: Bearer <key>`. Scopes: {scopes}. Each key makes at "
            "most `tracking.api_rate` requests a minute (600 by default). Errors are "
            "`{\"error\": {\"code\", \"field\", \"message\"}}`.")},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/sites": {
                "get": {"summary": "The sites the key may read", "tags": ["sites"],
                        "responses": {"200": _json(_ref("SiteList"), "The sites, by name.", RATE_HEADERS), **_errors()}},
                "post": {"summary": "Add a site (sites:write)", "tags": ["sites"],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewSite")}}},
                         "responses": {"201": _json(_ref("Site"), "The new site.", RATE_HEADERS), **_errors("403", "413")}},
            },
            "/sites/{site_id}": {
                "parameters": [SITE_ID],
                "get": {"summary": "A site", "tags": ["sites"],
                        "responses": {"200": _json(_ref("Site"), "The site.", RATE_HEADERS), **_errors()}},
                "patch": {"summary": "Change a site (sites:write)", "tags": ["sites"],
                          "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SiteChange")}}},
                          "responses": {"200": _json(_ref("Site"), "The site as changed.", RATE_HEADERS), **_errors("403", "413")}},
                "delete": {"summary": "Delete a site and all its data (sites:write)", "tags": ["sites"],
                           "responses": {"204": {"description": "Deleted.", "headers": RATE_HEADERS}, **_errors("403")}},
            },
            "/sites/{site_id}/aggregate": _stats("The dashboard's headline numbers", [*PERIOD_PARAMETERS, COMPARE], "Aggregate",
                                                 "Unique visitors, visits, page views, views per visit, bounce rate, average visit duration, events."),
            "/sites/{site_id}/timeseries": _stats("The headline metrics per interval", [
                *PERIOD_PARAMETERS, COMPARE,
                _query("interval", {"type": "string", "enum": list(limits.INTERVALS)},
                       f"Default: hour for periods of up to two days, else day; hour covers at most {limits.MAX_HOURLY_DAYS} days."),
                _query("metrics", {"type": "string"},
                       f"Comma-separated, each once, of {', '.join(SERIES_METRICS)}. Default: all of them.")],
                "Timeseries", "The dashboard's chart of each metric; weeks and months add up their days' counts "
                              "(their ratios are those of the sums)."),
            "/sites/{site_id}/breakdown": _stats("The rows of one dimension", [*PERIOD_PARAMETERS, *breakdown], "Breakdown",
                                                 "A panel's full list, in its order, a page at a time (`next_offset`)."),
            "/sites/{site_id}/goals": {
                "parameters": [SITE_ID],
                "get": {"summary": "A site's goals", "tags": ["goals"],
                        "responses": {"200": _json(_ref("GoalList"), "The goals, oldest first.", RATE_HEADERS), **_errors()}},
                "post": {"summary": "Add a goal (sites:write)", "tags": ["goals"],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewGoal")}}},
                         "responses": {"201": _json(_ref("Goal"), "The new goal.", RATE_HEADERS), **_errors("403", "413")}},
            },
            "/sites/{site_id}/goals/{goal_id}": {
                "parameters": [SITE_ID, GOAL_ID],
                "get": {"summary": "A goal", "tags": ["goals"],
                        "responses": {"200": _json(_ref("Goal"), "The goal.", RATE_HEADERS), **_errors()}},
                "patch": {"summary": "Change a goal (sites:write)", "tags": ["goals"],
                          "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("GoalChange")}}},
                          "responses": {"200": _json(_ref("Goal"), "The goal as changed.", RATE_HEADERS), **_errors("403", "413")}},
                "delete": {"summary": "Delete a goal (sites:write)", "tags": ["goals"],
                           "description": (
                               "A funnel with a step on the goal loses that step; one that would keep fewer than "
                               f"{MIN_STEPS} steps is deleted, and so is an experiment measured on the goal. So when "
                               "funnels or experiments are built on the goal, it is deleted only with `cascade=true`: "
                               "otherwise the answer is a 409 naming them, and nothing changes."),
                           "parameters": [_query("cascade", {"type": "string", "enum": ["true", "false"], "default": "false"},
                                                 "`true`: delete the goal even when funnels or experiments are built on "
                                                 "it, changing or deleting them, and answer with what was done.")],
                           "responses": {
                               "200": _json(_ref("GoalDeleted"), "With cascade=true: deleted, and what was done to the "
                                            "funnels and experiments built on it.", RATE_HEADERS),
                               "204": {"description": "Deleted (without cascade=true: nothing was built on it).",
                                       "headers": RATE_HEADERS},
                               "409": _json(_ref("GoalInUse"), "Not deleted: funnels or experiments are built on it "
                                            "(what deleting it would do to them). Send cascade=true to go ahead.",
                                            RATE_HEADERS),
                               **_errors("403")}},
            },
            "/sites/{site_id}/members": {
                "parameters": [SITE_ID],
                "get": {"summary": "A site's members and pending invitations (owner or admin)", "tags": ["members"],
                        "responses": {"200": _json(_ref("MemberList"), "The people of the site.", RATE_HEADERS),
                                      **_errors("403")}},
            },
            "/sites/{site_id}/members/{user_id}": {
                "parameters": [SITE_ID, USER_ID],
                "patch": {"summary": "Change a member's role (sites:write; owner or admin)", "tags": ["members"],
                          "description": "The owner is no member: a 400 (the site's transfer page gives it away).",
                          "requestBody": _body("MemberChange"),
                          "responses": {"200": _json(_ref("Member"), "The member as changed.", RATE_HEADERS),
                                        **_errors("403", "413")}},
                "delete": _deleted("Remove a member (sites:write; owner or admin); the owner cannot be", "members"),
            },
            "/sites/{site_id}/invitations": {
                "parameters": [SITE_ID],
                "get": {"summary": "A site's pending invitations (owner or admin)", "tags": ["members"],
                        "responses": {"200": _json(_ref("InvitationList"), "Oldest first.", RATE_HEADERS),
                                      **_errors("403")}},
                "post": {"summary": "Invite an address (sites:write; owner or admin)", "tags": ["members"],
                         "description": f"The answer holds the acceptance link, once; it works for "
                                        f"{INVITATION_LIFETIME.days} days, for one account with that address.",
                         "requestBody": _body("NewInvitation"),
                         "responses": {"201": _json(_ref("SentInvitation"), "The invitation.", RATE_HEADERS),
                                       **_errors("403", "413")}},
            },
            "/sites/{site_id}/invitations/{invitation_id}": {
                "parameters": [SITE_ID, INVITATION_ID],
                "get": {"summary": "A pending invitation (owner or admin)", "tags": ["members"],
                        "responses": {"200": _json(_ref("Invitation"), "The invitation, without its link.", RATE_HEADERS),
                                      **_errors("403")}},
                "delete": _deleted("Revoke a pending invitation (sites:write; owner or admin)", "members"),
            },
            "/sites/{site_id}/shares": {
                "parameters": [SITE_ID],
                "get": {"summary": "A site's share links (owner or admin)", "tags": ["shares"],
                        "responses": {"200": _json(_ref("ShareLinkList"), "Oldest first; no address.", RATE_HEADERS),
                                      **_errors("403")}},
                "post": {"summary": "Add a share link (sites:write; owner or admin)", "tags": ["shares"],
                         "description": "The answer holds the link's secret address, once.",
                         "requestBody": _body("NewShareLink"),
                         "responses": {"201": _json(_ref("SentShareLink"), "The share link.", RATE_HEADERS),
                                       **_errors("403", "413")}},
            },
            "/sites/{site_id}/shares/{share_id}": {
                "parameters": [SITE_ID, SHARE_ID],
                "get": {"summary": "A share link (owner or admin)", "tags": ["shares"],
                        "responses": {"200": _json(_ref("ShareLink"), "The link, without its address.", RATE_HEADERS),
                                      **_errors("403")}},
                "delete": _deleted("Revoke a share link (sites:write; owner or admin)", "shares"),
            },
            "/sites/{site_id}/realtime": _stats("Visitors of the last 30 minutes", [], "Realtime", "On the whole site."),
            "/events": {"post": {
                "summary": "Send hits from a back end (events:write)", "tags": ["events"],
                "description": "The beacon's pipeline: same checks, enrichment, privacy rules and durability. "
                               "All hits of a request are taken, or none.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Hits")}}},
                "responses": {"202": _json(_ref("Accepted"), "Every hit is in the server's buffer.", RATE_HEADERS),
                              "503": {"$ref": "#/components/responses/E503"}, **_errors("403", "413")}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
            "responses": error_responses,
        },
    }
