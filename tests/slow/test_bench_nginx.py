"""The ingest benchmark behind nginx (``bench.nginx_ingest``) runs, and every hit it acknowledges
through nginx and two app processes is stored: a short run, on PostgreSQL (its database)."""

import re
import shutil

import pytest

from bench import nginx_ingest
from tests.slow.test_nginx import NGINX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None or shutil.which("wrk") is None, reason="needs nginx and wrk (make nginx-deps bench-deps)"),
]


def test_two_processes_behind_nginx_store_every_acknowledged_hit(database, capsys):
    if database != "postgresql":
        pytest.skip("the benchmark runs on PostgreSQL, as deployments behind nginx do")
    status = nginx_ingest.main(["--processes", "2", "--duration", "6"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    stored, acknowledged = map(lambda n: int(n.replace(",", "")),
                               re.search(r"stored ([\d,]+) of ([\d,]+) acknowledged", printed).groups())
    assert stored == acknowledged > 0
    assert "exit [0, 0]" in printed and "non-2xx 0" in printed
