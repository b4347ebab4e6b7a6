"""One client floods the real server: it gets 429s, and everyone else goes on getting 204s.

``pserve production.ini`` on a fresh database, with its default per-client limit. The clients
differ by ``X-Forwarded-For`` (production.ini trusts the proxy at 127.0.0.1, as nginx in front
would be). Bounded: the flood lasts until it has been refused 300 times and for at least 3 s,
30 s at most; bench/flood.py measures the same for longer, with wrk.
"""

import http.client
import json
import threading
import time
from collections import Counter

import pytest

from tests.servers import Server, seed_site, stored
from tracking.ingest.limits import DEFAULT_BURST, DEFAULT_RATE
from tracking.models import get_engine

pytestmark = pytest.mark.slow

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FLOODER = "198.51.100.66"


def send(conn, site_id, address, path):
    conn.request(
        "GET",
        f"/sites/{site_id}/hit?url=https%3A%2F%2Fexample.com{path}",
        headers={"User-Agent": CHROME, "X-Forwarded-For": address},
    )
    answer = conn.getresponse()
    return answer, answer.read()


def test_a_flooding_client_is_refused_and_the_others_are_counted(fresh_db, tmp_path):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_a = seed_site(engine)
    _, site_b = seed_site(engine)
    flood = Counter()
    refusals = []  # (headers, body) of the first refusal
    visitors = {("192.0.2.10", site_a): Counter(), ("192.0.2.20", site_b): Counter(), (FLOODER, site_b): Counter()}
    lock = threading.Lock()
    running = True

    def flooder():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        n = 0
        while running:
            n += 1
            answer, body = send(conn, site_a, FLOODER, f"/flood/{n}")
            with lock:
                flood[answer.status] += 1
                if answer.status == 429 and not refusals:
                    refusals.append((dict(answer.getheaders()), body))
            if answer.will_close:  # after a 204 (waitress closes it); a 429 keeps it
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.close()

    def visit():
        n = 0
        while running:
            for (address, site_id), statuses in visitors.items():
                n += 1
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                try:
                    answer, _ = send(conn, site_id, address, f"/visitor/{n}")
                finally:
                    conn.close()
                statuses[answer.status] += 1
            time.sleep(0.1)  # ~30 hits a second in all, 10 per client and site

    with Server("production.ini", fresh_db, tmp_path) as server:
        threads = [threading.Thread(target=flooder) for _ in range(4)] + [threading.Thread(target=visit)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            while time.monotonic() - start < 30 and not (flood[429] >= 300 and time.monotonic() - start >= 3):
                time.sleep(0.1)
        finally:
            running = False
            for thread in threads:
                thread.join(30)
        elapsed = time.monotonic() - start
        assert server.terminate() == 0

    # The flood: refused beyond what the limit allows, with a JSON 429 that says when to retry.
    assert set(flood) == {204, 429}, flood
    assert flood[429] >= 300
    assert DEFAULT_BURST <= flood[204] <= DEFAULT_BURST + DEFAULT_RATE * elapsed
    [(headers, body)] = refusals
    assert json.loads(body) == {"errors": {"rate": "too many hits; retry later"}}
    assert headers["Content-Type"] == "application/json" and headers["Access-Control-Allow-Origin"] == "*"
    assert int(headers["Retry-After"]) >= 1
    # Everyone else: another client on the flooded site, another client on another site, the
    # flooding client itself on another site.
    for key, statuses in visitors.items():
        assert set(statuses) == {204} and statuses[204] >= 5, (key, statuses)
    # Stored: exactly the hits answered 204; not one refused hit.
    assert stored(engine, site_a) == flood[204] + visitors[("192.0.2.10", site_a)][204]
    assert stored(engine, site_b) == visitors[("192.0.2.20", site_b)][204] + visitors[(FLOODER, site_b)][204]
    engine.dispose()
