"""Error pages: 404, 403 (or the login page, for anonymous visitors), 400 for a bad CSRF token, a
path that is not UTF-8 or a report's query string that cannot be answered, 500."""

import logging
from urllib.parse import urlencode

from pyramid.exceptions import BadCSRFToken, URLDecodeError
from pyramid.httpexceptions import HTTPException, HTTPSeeOther
from pyramid.location import lineage
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config

from ..reports.query import InvalidQuery
from ..resources import Resource, SharedSite, UserResource
from ..security import Permission

log = logging.getLogger(__name__)


@notfound_view_config(renderer="tracking:templates/errors/404.jinja2")
def notfound(exc, request):
    request.response.status = 404
    return {}


@forbidden_view_config()
def forbidden(exc, request):
    """Anonymous: log in first. Signed in: 403 for admin pages, and for what may be seen but not
    done (a form posted on a page its sender may only view); 404 elsewhere.

    A signed-in user who may not see a site or account is told it does not exist, so
    that ids cannot be probed.
    """
    context = request.context
    if isinstance(context, Resource) and _shared(context) is not None:
        # Through a share link: what the link does not show does not exist, unless the link
        # asks for its password first.
        link = _shared(context).link
        unlocked = request.has_permission(Permission.VIEW, _shared(context))
        if link.password_hash is not None and not unlocked and request.method == "GET":
            return HTTPSeeOther(request.resource_url(_shared(context), "unlock"))
        return render_to_response("tracking:templates/errors/404.jinja2", {}, request, response=_status(404))
    if request.identity is None:
        query = {"next": request.path_qs} if request.method == "GET" else {}
        login = request.resource_url(request.root, "login")
        return HTTPSeeOther(login + ("?" + urlencode(query) if query else ""))
    if getattr(exc.result, "permission", None) == Permission.ADMIN:
        account = next((r for r in lineage(request.context) if isinstance(r, UserResource)), None)
        if account is not None and not request.has_permission(Permission.VIEW, account):
            # An admin page of someone else's account: as if it did not exist (ids not probed).
            return render_to_response("tracking:templates/errors/404.jinja2", {}, request, response=_status(404))
        return render_to_response("tracking:templates/errors/403.jinja2", {}, request, response=_status(403))
    if request.has_permission(Permission.VIEW, request.context):
        message = "You may see this page, but not change it."
        return render_to_response("tracking:templates/errors/403.jinja2", {"message": message}, request, response=_status(403))
    return render_to_response("tracking:templates/errors/404.jinja2", {}, request, response=_status(404))


def _shared(context) -> SharedSite | None:
    """The share link's resource that ``context`` lies under, if any."""
    for resource in lineage(context):
        if isinstance(resource, SharedSite):
            return resource
    return None


def _status(code: int) -> Response:
    return Response(status=code)


@exception_view_config(HTTPException)
def http_exception(exc, request):
    """Other HTTP errors (405, 413, ...) answer as themselves."""
    return exc


@exception_view_config(BadCSRFToken, renderer="tracking:templates/errors/400.jinja2")
def bad_csrf(exc, request):
    request.response.status = 400
    return {"message": "The form was out of date or not sent from this site. Reload the page and try again."}


@exception_view_config(URLDecodeError)
def undecodable_path(exc, request):
    """A path that is not UTF-8 (``/share/%FF/``) names nothing. Registered for this exception
    alone, so that no other error view's ``path_info`` predicate has to decode the path; plain
    text, as traversal never reached a resource that the page layout could link from."""
    return Response("The address is not valid: its path is not UTF-8.\n", status=400, content_type="text/plain")


@exception_view_config(InvalidQuery, renderer="tracking:templates/errors/400.jinja2")
def invalid_query(exc, request):
    """A report asked with a query string no data can answer (a NUL in a filter, say)."""
    request.response.status = 400
    return {"message": str(exc)}


# An error that a new attempt may not meet (a lost database race) is left to pyramid_retry,
# unless this was the last attempt.
@exception_view_config(Exception, retryable_error=False, renderer="tracking:templates/errors/500.jinja2")
@exception_view_config(Exception, last_retry_attempt=True, renderer="tracking:templates/errors/500.jinja2")
def server_error(exc, request):
    log.exception("unhandled error on %s %s", request.method, request.path)
    request.response.status = 500
    # The database may be what failed: the page does not look up who is logged in.
    return {"plain": True}
