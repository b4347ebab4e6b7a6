"""``/healthz``: for load balancers and monitoring.

``200 {"status": "ok", "pending": N}`` when the database answers ``SELECT 1``;
``503 {"status": "database unavailable", "pending": N}`` when it does not. ``pending`` is the
number of acknowledged hits this process is responsible for that are not yet in the database:
those its beacon buffered or handed to its writer, and those its writer read from spool files
(see :mod:`tracking.ingest.spool`; before the writer process has claimed them, the spool files
nobody holds). It grows while the database is away, and a monitor can alert on it before the
buffer fills up (the beacon answers 503 when its own hits reach ``tracking.buffer_size``).

Public and cheap: one round trip to the database, no session, no cookie, no template, and no
traceback (the error's class goes to the log, once per failed check, at WARNING).
"""

import logging

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..interfaces import IHitStore
from ..resources import Root

log = logging.getLogger(__name__)


@view_config(context=Root, name="healthz", permission=NO_PERMISSION_REQUIRED, request_method=("GET", "HEAD"))
def healthz(request):
    pending = request.registry.getUtility(IHitStore).pending
    try:
        request.dbsession.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The session is unusable now: make pyramid_tm abort rather than commit.
        request.tm.doom()
        log.warning("health check: database unavailable (%s)", type(exc).__name__)
        return _answer(503, {"status": "database unavailable", "pending": pending})
    return _answer(200, {"status": "ok", "pending": pending})


def _answer(status: int, body: dict) -> Response:
    response = Response(status=status, json_body=body, content_type="application/json", charset=None)
    response.headers["Cache-Control"] = "no-store"
    return response
