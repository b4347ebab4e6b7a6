"""One log line per request, with a request id that the response echoes.

::

    INFO  [tracking.requestlog] method=GET path=/sites/3/ status=200 duration_ms=12.3 request_id=5f0c2a9e41d7b803

* The id is the proxy's ``X-Request-Id`` when it is a sane token (1–64 characters of
  ``A-Z a-z 0-9 - _ .``; nginx sends its ``$request_id``, so both logs can be joined), otherwise
  a new random one. It is returned in the ``X-Request-Id`` header and kept as
  ``request.request_id``.
* A share link's secret, an invitation's token and a set-password token are never written:
  ``/share/<secret>/`` is logged as ``/share/[redacted]/`` (likewise ``/invitations/`` and
  ``/password/``). Traversal skips empty and ``.`` segments and resolves ``..``, so
  ``/share//<secret>/`` and ``/share/x/../<secret>/`` open the same link: a path with such
  segments is logged as traversal reads it, the secret redacted.
* Only the method, the path (percent-encoded, so no control character reaches the log), the
  status, the duration and the id are written. Never the query string (it carries visitors'
  page addresses and ``next`` targets), never client addresses, headers, cookies or form
  fields.
* A response with status 500 or more is logged at WARNING, others at INFO; a request retried
  after a transient database conflict says ``attempt=N``.
* Visitors' hits — the beacon (``/sites/<id>/hit``, and its old path ``/visit``: the hot
  path) and the peers' trackers' endpoints (``/api/event``, ``/api/send``) — and ``/healthz``
  (polled by monitors) are logged at DEBUG only. When DEBUG is off for this logger, the tween
  hands such requests on after one regular-expression match and one logger-level check (cached
  by :mod:`logging`): no id, no header, no clock. An unavailable database is reported by the health check itself.

The tween sits just under ``INGRESS``: it is the outermost, so the duration includes the
transaction's commit and the status is the final one (exception views included). An exception
that escapes every tween is logged with ``status=500`` and re-raised.
"""

import logging
import re
import secrets
import time
from urllib.parse import quote

from pyramid.traversal import split_path_info
from pyramid.tweens import INGRESS

from .ingest import HIT_PATH

log = logging.getLogger(__name__)

#: Paths whose second segment is a secret (a share link, an invitation, a set-password link):
#: logged as ``/share/[redacted]/...``.
_SECRET_PATH = re.compile(r"(/(?:share|invitations|password)/)[^/]+")
#: Segments of a path that traversal does not read as they are.
_UNREAD_SEGMENT = re.compile(r"//|/\.\.?(?:/|\Z)")
_QUIET = re.compile(HIT_PATH.pattern + r"|/healthz\Z")
_SANE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}\Z")
_METHOD = re.compile(r"[A-Z]{1,16}\Z")
MAX_PATH = 512


def request_id(header: str | None) -> str:
    """The proxy's id when it is a sane token, else a fresh one (16 hex digits)."""
    if header and _SANE_ID.match(header):
        return header
    return secrets.token_hex(8)


def _describe(request) -> tuple[str, str]:
    method = request.method
    if not _METHOD.match(method):
        method = "-"
    try:
        path = request.path  # percent-encoded again by WebOb
    except UnicodeDecodeError:  # not UTF-8: its bytes, percent-encoded
        environ = request.environ
        path = quote((environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1"), safe="/")
    if _UNREAD_SEGMENT.search(path):
        path = "/" + "/".join(split_path_info(path)) + ("/" if path.endswith("/") else "")
    path = _SECRET_PATH.sub(r"\1[redacted]", path)
    if len(path) > MAX_PATH:
        path = path[:MAX_PATH] + "..."
    return method, path


def request_log_tween_factory(handler, registry):
    def request_log_tween(request):
        environ = request.environ
        quiet = _QUIET.match(environ.get("PATH_INFO", "")) is not None
        if quiet and not log.isEnabledFor(logging.DEBUG):
            return handler(request)
        rid = request.request_id = request_id(environ.get("HTTP_X_REQUEST_ID"))
        attempt = environ.get("retry.attempt") or 0
        start = time.perf_counter()
        try:
            response = handler(request)
        except BaseException as exc:
            _write(request, quiet, 500, start, rid, attempt, exc)
            raise
        response.headerlist.append(("X-Request-Id", rid))
        _write(request, quiet, response.status_code, start, rid, attempt)
        return response

    return request_log_tween


def _write(request, quiet, status, start, rid, attempt, exc=None) -> None:
    level = logging.DEBUG if quiet else logging.WARNING if status >= 500 else logging.INFO
    if not log.isEnabledFor(level):
        return
    duration = (time.perf_counter() - start) * 1000
    method, path = _describe(request)
    extra = (f" attempt={attempt}" if attempt else "") + (f" exception={type(exc).__name__}" if exc else "")
    log.log(
        level,
        "method=%s path=%s status=%d duration_ms=%.1f request_id=%s%s",
        method,
        path,
        status,
        duration,
        rid,
        extra,
    )


def includeme(config) -> None:
    config.add_tween("tracking.requestlog.request_log_tween_factory", under=INGRESS)
