"""Security headers: a strict Content-Security-Policy and friends on every HTML page.

Every response gets ``X-Content-Type-Options: nosniff`` (the beacon's JSON errors,
``/tracker.js`` and the static files included). HTML responses — pages, error pages and the
bodies of redirects — also get:

``Content-Security-Policy``
    ``default-src 'self'; script-src 'self' 'nonce-<nonce>'; style-src 'self'; img-src 'self'
    data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'``.
    No ``'unsafe-inline'``: an injected ``<script>`` or ``style=""`` does nothing. A template that
    needs an inline script writes ``<script nonce="{{ request.csp_nonce }}">``. The nonce is
    reified (one per request) and made on first use, so the beacon and other non-HTML answers
    never pay for it; every HTML response carries one, whether a template used it or not, so
    the header has one shape. ``img-src data:`` is there for Bootstrap's CSS, which draws the
    select arrow and the check marks with ``data:`` SVG images.

    The Deform widgets the forms use (text, password, checked password, select, checkbox,
    hidden) render no inline ``<script>`` and no ``style`` attribute: Deform writes inline
    scripts only for Ajax forms and masked inputs, which we do not use, and the tests check
    every page for inline scripts and styles.

``Referrer-Policy: same-origin``
    The dashboard links to the visited pages and referrers of other people's sites; clicking
    one must not tell that site the analytics host, site id or report it came from.
    ``strict-origin-when-cross-origin`` would still send the origin. Same-origin requests keep
    their full ``Referer`` (Pyramid's CSRF origin check over HTTPS relies on it).

``X-Frame-Options: DENY``
    For browsers that predate ``frame-ancestors``; costs nothing.

An embeddable share link's dashboard is the one exception (:func:`allow_framing`): its 200
response says ``frame-ancestors`` with the link's origins, and has no ``X-Frame-Options``.

``Cache-Control: no-store``
    On every response under a share link (:func:`forbid_storing`, whatever its type: the CSV
    exports too): no browser or proxy keeps a copy that would outlive the link's revocation or
    expiry.

``Strict-Transport-Security: max-age=31536000; includeSubDomains``
    Only when ``tracking.production`` is true (production runs behind TLS; a development
    server on http://localhost must not pin the host to HTTPS for a year).

The beacon (``/sites/<id>/hit``, and its old path ``/visit``) answers with no body or a short
JSON error: it gets nosniff and nothing else, and this module never touches cookies or the
session.

A tween rather than a ``NewResponse`` subscriber: the app has no other subscriber, and the
first one would make Pyramid look up subscribers on every request, the beacon's included.
It sits above the exception view tween, so error pages get the headers too.
"""

import secrets

from pyramid.tweens import EXCVIEW

from .interfaces import ISettings

CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
NOSNIFF = ("X-Content-Type-Options", "nosniff")
HTML_HEADERS = (
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


#: Where a view puts the origins that may frame its response (:func:`allow_framing`).
FRAME_ANCESTORS = "tracking.frame_ancestors"


def allow_framing(request, origins: list[str]) -> None:
    """Let ``origins`` (normalised ``scheme://host[:port]``) frame this response, and no other:
    its CSP says ``frame-ancestors <origins>`` and it has no ``X-Frame-Options``. An embeddable
    share link's dashboard is the one user."""
    request.environ[FRAME_ANCESTORS] = " ".join(origins)


#: Set on a request whose response no cache may keep (:func:`forbid_storing`).
NO_STORE = "tracking.no_store"


def forbid_storing(request) -> None:
    """The response to this request says ``Cache-Control: no-store`` (a share link's pages)."""
    request.environ[NO_STORE] = True


def csp_nonce(request) -> str:
    """``request.csp_nonce``: 128 random bits, base64url."""
    return secrets.token_urlsafe(16)


def security_headers_tween_factory(handler, registry):
    html_headers = HTML_HEADERS
    if registry.getUtility(ISettings).production:
        html_headers += (HSTS,)

    def security_headers_tween(request):
        response = handler(request)
        # No view sets these headers itself: appending (not replacing) keeps the beacon's cost
        # to one list append and a status check (a 204 has no body, hence no type to look up).
        headerlist = response.headerlist
        headerlist.append(NOSNIFF)
        if NO_STORE in request.environ:
            response.cache_control = "no-store"
        if response.status_code != 204 and response.content_type == "text/html":
            policy = CSP.format(nonce=request.csp_nonce)
            ancestors = request.environ.get(FRAME_ANCESTORS) if response.status_code == 200 else None
            if ancestors:
                headerlist.append(("Content-Security-Policy", policy.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")))
                headerlist.extend(header for header in html_headers if header[0] != "X-Frame-Options")
            else:
                headerlist.append(("Content-Security-Policy", policy))
                headerlist.extend(html_headers)
        return response

    return security_headers_tween


def includeme(config) -> None:
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_tween("tracking.headers.security_headers_tween_factory", over=EXCVIEW)
