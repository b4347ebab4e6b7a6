"""The beacon benchmark's baseline: a bare WSGI app on the same waitress and options as the product.

``bench.ingest`` compares the beacon with this baseline; if the baseline cannot start, no ratio
is ever measured.
"""

import urllib.request

import pytest

from bench.ingest import BareServer
from tests.servers import ROOT

pytestmark = pytest.mark.slow


def test_the_bare_baseline_serves_the_beacons_empty_answer(tmp_path):
    server = BareServer(ROOT / "production.ini", tmp_path).start(timeout=120)
    try:
        with urllib.request.urlopen(server.url + "/sites/1/hit", timeout=10) as answer:
            assert answer.status == 204
            assert answer.headers["Access-Control-Allow-Origin"] == "*"
            assert answer.read() == b""
    finally:
        server.stop()
    assert "tracking.ingest.writer" not in server.log.read_text()
