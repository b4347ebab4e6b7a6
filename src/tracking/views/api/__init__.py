"""The HTTP API under ``/api/v1/``: one module per area (``stats``, ``sites``, ``events``,
``docs``), and here what they share: JSON answers and errors, the per-key rate limit, and the
API's own 401/403/404/405/500 answers.

Every error is ``{"error": {"code": ..., "field": ..., "message": ...}}`` (``field`` is ``null``
when no one field is at fault), with ``Cache-Control: no-store``:

=====  ========================  ===================================================
400    ``invalid``               a parameter or body field is wrong (``field`` says which)
400    ``invalid_json``          the body is not JSON (or not an object)
401    ``unauthorized``          no key, or a key that is unknown, revoked or expired
403    ``insufficient_scope``    the key may see the resource but not do this
404    ``not_found``             no such resource, or not one the key may see
405    ``method_not_allowed``    the resource does not answer that method
409    ``goal_in_use``           funnels or experiments are built on the goal to delete (the
                                 answer names them; ``?cascade=true`` goes ahead)
413    ``too_large``             the body is larger than the endpoint takes
429    ``rate_limited``          the key made too many requests this minute
500    ``server_error``          a fault of ours (logged); never an answer to bad input
503    ``unavailable``           too many hits wait for the database
=====  ========================  ===================================================

Requests with a key are not CSRF-checked: the key travels in a header a browser never adds by
itself, and the API never reads the session cookie (:mod:`tracking.security`).
"""

from __future__ import annotations

import functools
import json
import logging

from pyramid.exceptions import PredicateMismatch
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config

from ...api_resources import ApiSite
from ...security import Permission, current_api_key, key_allowance

log = logging.getLogger(__name__)

#: Every path of the versioned API.
API_PATH = r"^/api/v1(?:/|\Z)"


class ApiError(Exception):
    """An answer of the error form above."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def invalid(field: str | None, message: str) -> ApiError:
    return ApiError(400, "invalid", message, field)


def json_response(body, status: int = 200, headers=None) -> Response:
    response = Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        content_type="application/json",
        charset=None,
    )
    response.headers.update({"Cache-Control": "no-store", **(headers or {})})
    return response


def error_body(error: ApiError) -> dict:
    return {"error": {"code": error.code, "field": error.field, "message": error.message}}


def error_response(error: ApiError) -> Response:
    return json_response(error_body(error), error.status, error.headers)


def read_json(request, max_bytes: int) -> dict:
    """The request's body, a JSON object of at most ``max_bytes`` bytes."""
    if (request.content_length or 0) > max_bytes:
        raise ApiError(413, "too_large", f"The body is larger than {max_bytes} bytes.")
    body = request.body_file.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "too_large", f"The body is larger than {max_bytes} bytes.")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body is not a JSON object.")
    return data


def _rate_limited(request) -> Response | None:
    allowance = key_allowance(request)
    if allowance is not None and not allowance.allowed:
        return error_response(ApiError(429, "rate_limited", "Too many requests with this key; retry later.",
                                       headers=allowance.headers()))
    return None


def limited(view):
    """A view decorator (``view_defaults(decorator=limited)``): the per-key limit, its headers on
    every answer, and :class:`ApiError` answered as JSON."""

    @functools.wraps(view)
    def wrapper(context, request):
        refused = _rate_limited(request)
        if refused is not None:
            return refused
        try:
            response = view(context, request)
        except ApiError as error:
            response = error_response(error)
        allowance = key_allowance(request)
        if allowance is not None:
            response.headers.update(allowance.headers())
        return response

    return wrapper


@forbidden_view_config(path_info=API_PATH)
def forbidden(exc, request):
    refused = _rate_limited(request)
    if refused is not None:
        return refused
    if current_api_key(request) is None:
        message = "Send a live API key: Authorization: Bearer <key>."
        return error_response(ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"}))
    context = request.context
    if isinstance(context, ApiSite) and not request.has_permission(Permission.API, context):
        return error_response(ApiError(404, "not_found", "There is no such site."))
    return error_response(ApiError(403, "insufficient_scope", "This key may not do that."))


@notfound_view_config(path_info=API_PATH)
def not_found(exc, request):
    if isinstance(exc, PredicateMismatch):
        return error_response(ApiError(405, "method_not_allowed", f"{request.method} is not allowed here."))
    return error_response(ApiError(404, "not_found", "There is no such resource."))


@exception_view_config(ApiError, path_info=API_PATH)
def api_error(exc, request):
    return error_response(exc)


@exception_view_config(Exception, path_info=API_PATH, retryable_error=False)
@exception_view_config(Exception, path_info=API_PATH, last_retry_attempt=True)
def server_error(exc, request):
    log.exception("API failure on %s %s", request.method, request.path)
    return error_response(ApiError(500, "server_error", "Internal error."))
