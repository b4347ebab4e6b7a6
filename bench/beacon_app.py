"""One beacon hit through the whole WSGI application, in one thread: what the app itself costs.

    .venv/bin/python -m bench.beacon_app                          # the application as it is
    .venv/bin/python -m bench.beacon_app --without-request-class  # Pyramid's own request extensions
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python -m bench.beacon_app   # another version

A fresh SQLite database with one site; the application of ``tracking.main`` with
``tracking.writer = off`` (hits stay in the buffer: no writer shares the process) and a limiter
that checks every hit and lets all through. The same GET hit (query string, Chrome user agent,
an address with a country) is sent ``--number`` times a batch; the figure is the fastest batch
of ``--repeat`` (timeit's advice: the others were slowed by the rest of the machine), per hit.
Every answer must be a 204. ``--without-request-class`` leaves out :mod:`tracking.request`, so
Pyramid adds the request properties to each request itself (its public way).
"""

import argparse
import io
import logging
import tempfile
import timeit

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def build(without_request_class: bool):
    from sqlalchemy import create_engine, insert

    from tests.support import migrate
    from tracking.models import Site, User

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    migrate(url)
    logging.getLogger("tracking").setLevel(logging.INFO)  # as production.ini: no line per hit
    engine = create_engine(url)
    with engine.begin() as conn:
        user = conn.execute(insert(User).values(name="O", email="o@example.org", password_hash="x").returning(User.id)).scalar()
        site = conn.execute(insert(Site).values(owner_id=user, name="S", url="https://example.com").returning(Site.id)).scalar()
    engine.dispose()
    if without_request_class:
        import tracking.request

        tracking.request.includeme = lambda config: None
    from tracking import main

    app = main({}, **{
        "sqlalchemy.url": url, "tracking.secret": "s" * 40, "tracking.writer": "off",
        "tracking.buffer_size": "100000000", "tracking.beacon_rate": "1000000000", "tracking.beacon_burst": "1000000000",
    })
    return app, site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--without-request-class", action="store_true")
    parser.add_argument("--number", type=int, default=50, help="hits a batch")
    parser.add_argument("--repeat", type=int, default=400, help="batches")
    args = parser.parse_args()
    app, site = build(args.without_request_class)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": f"/sites/{site}/hit", "SCRIPT_NAME": "",
        "QUERY_STRING": "url=https%3A%2F%2Fexample.com%2Fpricing%3Fa%3D1&referrer=https%3A%2F%2Fwww.google.com%2F&width=1280",
        "SERVER_NAME": "localhost", "SERVER_PORT": "6543", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "stats.example.org", "REMOTE_ADDR": "81.2.69.160", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "HTTP_USER_AGENT": CHROME,
    }
    statuses = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status)

    def hit():
        app(dict(environ), start_response)

    for _ in range(200):  # caches and lookup data warm
        hit()
    best = min(timeit.repeat(hit, number=args.number, repeat=args.repeat)) / args.number
    assert statuses == {"204 No Content"}, statuses
    what = "without tracking.request" if args.without_request_class else "as it is"
    print(f"{best * 1e6:.1f} µs a beacon hit through the WSGI app, {what} (fastest of {args.repeat} batches of {args.number})")


if __name__ == "__main__":
    main()
