"""The suite leaves the machine's PostgreSQL alone, and says so when a test does not.

``tests/conftest.py`` records when the shared server's postmaster started and fails the session
if that changed by the end. Here a pytest run with the suite's conftest is pointed at a
throw-away cluster playing the shared server, and one of its tests restarts it.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.slow

INNER = '''
import json, os, subprocess


def test_restarts_the_server():
    for command in json.loads(os.environ["PG_CTL"]):
        subprocess.run(command, check=True, capture_output=True, timeout=120)
'''


def run_suite(tmp_path, cluster):
    (tmp_path / "test_inner.py").write_text(INNER)
    commands = [cluster.stop_command(), cluster.start_command()]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRACKING_TEST_POSTGRESQL": cluster.admin_url,
        "PG_CTL": json.dumps(commands),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_a_session_that_restarts_the_shared_postgresql_fails(database, pg_cluster, tmp_path):
    if database != "sqlite":
        pytest.skip("does not depend on the database: run once, in the SQLite leg")
    # (Every run of the suite shows that the guard passes a session that leaves the server alone.)
    restarted = run_suite(tmp_path, pg_cluster)
    assert restarted.returncode == 1, restarted.stdout + restarted.stderr
    assert "1 passed" in restarted.stdout  # the test itself passed: the session fails
    assert "the shared PostgreSQL server started at" in restarted.stdout and "was restarted at" in restarted.stdout
    assert pg_cluster.running()
