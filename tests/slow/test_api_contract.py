"""schemathesis against a live server: generated requests to every operation of the API's
OpenAPI document; no answer is a 500, and every answer is one the document describes (status,
content type, body, headers). Bounded: a few dozen examples per operation, no deadline."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from tests.postgresql import throwaway_database
from tests.servers import Server, app_ini, seed_site
from tests.support import migrate
from tracking import api_keys, models
from tracking.schemas.openapi import document

schema = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def live(request, tmp_path_factory):
    """A production server (SQLite or PostgreSQL, as the run's), a site and a key with every scope."""
    workdir = tmp_path_factory.mktemp("contract")
    database = request.config.getoption("--database")
    if database == "postgresql":
        context = throwaway_database("tracking_contract")
        url = context.__enter__()
    else:
        context, url = None, f"sqlite:///{workdir / 'contract.sqlite'}"
    try:
        migrate(url)
        engine = models.get_engine({"sqlalchemy.url": url})
        user_id, site_id = seed_site(engine)
        with Session(engine) as session, session.begin():
            _, key = api_keys.create(session, user_id, "contract", set(api_keys.SCOPES))
        engine.dispose()
        # No per-key limit here: hundreds of requests a minute are the point.
        server = Server(app_ini(workdir, tracking_api_rate="0"), url, workdir)
        try:
            server.start(timeout=180)  # it loads the lookup data first; the machine may be busy
            yield server.url, key, site_id
        finally:
            server.stop()
    finally:
        if context is not None:
            context.__exit__(None, None, None)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_contract(live, case):
    base, key, site_id = live
    if case.path_parameters and "site_id" in case.path_parameters and case.method != "DELETE":
        case.path_parameters["site_id"] = site_id  # the live site, so the endpoints answer more than 404
    case.call_and_validate(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
