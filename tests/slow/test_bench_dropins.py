"""The ingest benchmark's drop-in scenarios (``bench.ingest --endpoint plausible|umami``) run, and
every hit they acknowledge is stored: a short run of each, on the suite's database."""

import json

import pytest

from bench import ingest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("endpoint", ["plausible", "umami"])
def test_a_short_run_stores_every_acknowledged_hit(database, endpoint, tmp_path, capsys):
    out = tmp_path / "results.json"
    status = ingest.main(["--database", database, "--endpoint", endpoint, "--duration", "8", "--rounds", "2",
                          "--json", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert status == 0, printed
    (result,) = json.loads(out.read_text())
    assert (result["database"], result["endpoint"]) == (database, endpoint)
    load = result["beacon"]
    assert load["acked"] > 0 and result["stored"] == load["acked"]
    ack = {"plausible": 202, "umami": 200}[endpoint]
    assert set(load["statuses"]) == {str(ack)} or set(load["statuses"]) == {ack}
    assert result["exit_status"] == 0 and result["spooled"] == 0
    assert f"stored {load['acked']} == acknowledged {load['acked']}" in printed
    assert f">= {ingest.TARGET_RATIOS[endpoint]:.2f}" in printed and "0.45" in printed
