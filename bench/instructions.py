"""Instructions per beacon hit, per API batch and per dashboard page, counted by callgrind.

Wall-clock figures move with whatever else the machine runs; the instructions a piece of code
executes do not. This counts them with ``valgrind --tool=callgrind`` for two things, in one
process, on SQLite (so the database's own work is counted too):

* ``beacon``: one GET hit through the whole WSGI application (``tracking.writer = off``: the hit
  stops in the buffer, as it does in a server process; the writer's work is not counted);
* ``api``: one ``POST /api/v1/events`` of 100 hits (``--api-batch``) through the whole WSGI application, with an
  ``events:write`` key (the bodies of ``bench/api_events.py``: 200 pages, 4 referrers, 4 Chrome
  user agents, 1000 addresses; the hits stop in the buffer, as the beacon's do);
* ``plausible`` and ``umami``: one page view through the peers' trackers' endpoints
  (``POST /api/event`` with the compact body Plausible's script posts, ``POST /api/send`` with
  Umami's), the same page, referrer and user agent as the beacon's hit, stopping in the buffer;
* ``dashboard``: the signed-in owner's dashboard page of a site with ``--hits`` demo hits, for
  ``?period=30d``, ``?period=12mo`` and ``?period=30d&country=DE`` (served from the summaries,
  the summaries, and the raw rows).

The application is built and warmed with callgrind's instrumentation off, and what exists then is
exempted from garbage collection (``gc.freeze()``, as ``pserve`` does once the application is
loaded: otherwise every collection walks the lookup data of whichever version loaded it into
the process, which measures the collector, not the code); instrumentation is switched on
(``callgrind_control -i on``) for the measured requests alone and off again before exit, so
the figure is what those requests cost. Every answer must be the expected status.

It uses only what every version of the application has (``tracking.main``, the models
``User`` and ``Site``, ``alembic -c production.ini``, the ``tracking-demo`` command; the ``api``
part also ``tracking.api_keys.create``, in every version with the API), so the
same file measures another checkout: run it with that checkout's interpreter::

    .venv/bin/python -m bench.instructions                       # this checkout's code
    /path/to/other/.venv/bin/python -m bench.instructions        # another checkout's code
    .venv/bin/python -m bench.instructions --only api --hits 1000   # one API batch, quickly

Needs Debian's ``valgrind`` (``callgrind_control`` comes with it). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
PASSWORD = "instructions-bench-password"
UMAMI_ID = "3f2a1c9e-0b7d-4e5f-8a6b-1c2d3e4f5a6b"
#: What each tracker posts for one page view (the beacon's hit's page, referrer and width).
DROPIN_BODIES = {
    "plausible": ("/api/event", "text/plain", b'{"n":"pageview","u":"https://example.com/pricing?a=1",'
                  b'"d":"example.com","r":"https://www.google.com/"}', "202 Accepted"),
    "umami": ("/api/send", "application/json", b'{"type":"event","payload":{"website":"' + UMAMI_ID.encode()
              + b'","hostname":"example.com","url":"/pricing?a=1","referrer":"https://www.google.com/",'
              b'"screen":"1280x800","language":"en-US","title":"Pricing"}}', "200 OK"),
}
PAGES = ("?period=30d", "?period=12mo", "?period=30d&country=DE")


def prepare(workdir: Path, hits: int) -> tuple[str, int, str]:
    """A migrated SQLite database with one owner and one site filled with demo hits."""
    from sqlalchemy import create_engine, insert
    from sqlalchemy.orm import Session

    import tracking
    from tracking.models import Site, User
    from tracking.models.accounts import password_context

    root = Path(tracking.__file__).resolve().parents[2]  # the checkout whose code is measured
    url = f"sqlite:///{workdir}/bench.sqlite"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "TRACKING_DATABASE_URL": url}
    subprocess.run([str(bin_dir / "alembic"), "-c", str(root / "production.ini"), "upgrade", "head"],
                   env=env, check=True, cwd=root, stdout=subprocess.DEVNULL)
    engine = create_engine(url)
    email = "owner@example.org"
    with Session(engine) as session, session.begin():
        user = session.execute(insert(User).values(
            name="Owner", email=email, password_hash=password_context.hash(PASSWORD)).returning(User.id)).scalar()
        site = session.execute(insert(Site).values(
            owner_id=user, name="Shop", url="https://example.com", umami_website_id=UMAMI_ID).returning(Site.id)).scalar()
    engine.dispose()
    usage = subprocess.run([str(bin_dir / "tracking-demo"), "--help"], capture_output=True, text=True).stdout
    count_flag = "--hits" if "--hits" in usage else "--visits"  # hits were once called visits
    subprocess.run([str(bin_dir / "tracking-demo"), str(root / "production.ini"), "--site", str(site),
                    count_flag, str(hits), "--days", "365", "--seed", "1"],
                   env=env, check=True, cwd=root, stdout=subprocess.DEVNULL)
    return url, site, email


def application(url: str):
    from tracking import main

    return main({}, **{
        "sqlalchemy.url": url, "tracking.secret": "s" * 40, "tracking.writer": "off",
        "tracking.buffer_size": "100000000", "tracking.beacon_rate": "0", "tracking.beacon_burst": "0",
        "tracking.api_rate": "0",
    })


def api_key(url: str) -> str:
    """A new ``events:write`` key of the database's user."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from tracking import api_keys
    from tracking.models import User

    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        _, key = api_keys.create(session, session.scalar(select(User.id)), "instructions", {"events:write"})
    engine.dispose()
    return key


def api_request(app, site: int, key: str, hits: int):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``bench`` of this checkout
    from bench.api_events import bodies

    payloads = bodies(site, hits, count=20)
    sent = iter(range(1 << 62))
    statuses: set[str] = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status)

    def batch():
        body = payloads[next(sent) % len(payloads)]
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/events", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "6543", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "stats.example.org", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {key}",
        }
        result = app(environ, start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        if statuses != {"202 Accepted"}:
            raise SystemExit(f"the API answered {statuses}")

    return batch


def beacon_request(app, site: int):
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": f"/sites/{site}/visit", "SCRIPT_NAME": "",
        "QUERY_STRING": "url=https%3A%2F%2Fexample.com%2Fpricing%3Fa%3D1&referrer=https%3A%2F%2Fwww.google.com%2F"
                        "&width=1280",
        "SERVER_NAME": "localhost", "SERVER_PORT": "6543", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "stats.example.org", "REMOTE_ADDR": "81.2.69.160", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "HTTP_USER_AGENT": CHROME,
    }
    statuses: set[str] = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status)

    def hit():
        body = app(dict(environ), start_response)
        getattr(body, "close", lambda: None)()
        if statuses != {"204 No Content"}:
            raise SystemExit(f"the beacon answered {statuses}")

    return hit


def dropin_request(app, which: str):
    path, content_type, body, expected = DROPIN_BODIES[which]
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "6543", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "stats.example.org", "REMOTE_ADDR": "81.2.69.160", "wsgi.url_scheme": "http",
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)), "HTTP_USER_AGENT": CHROME,
    }
    statuses: set[str] = set()

    def start_response(status, headers, exc_info=None):
        statuses.add(status)

    def hit():
        result = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        if statuses != {expected}:
            raise SystemExit(f"{path} answered {statuses}")

    return hit


def dashboard_request(app, site: int, email: str, query: str):
    from webtest import TestApp

    browser = TestApp(app, extra_environ={"HTTP_HOST": "stats.example.org", "REMOTE_ADDR": "192.0.2.1"})
    form = browser.get("/login").forms[0]
    form["email"], form["password"] = email, PASSWORD
    if form.submit().status_int not in (302, 303):
        raise SystemExit("could not sign in")

    def page():
        browser.get(f"/sites/{site}/{query}", status=200)

    return page


def child(args) -> None:
    """The measured process: build, warm, tell the parent, run ``--count`` requests on its word."""
    if args.what == "beacon":
        what = beacon_request(application(args.url), args.site)
    elif args.what in DROPIN_BODIES:
        what = dropin_request(application(args.url), args.what)
    elif args.what == "api":
        what = api_request(application(args.url), args.site, args.key, args.api_batch)
    else:
        what = dashboard_request(application(args.url), args.site, args.email, args.what)
    for _ in range(args.warm):
        what()
    gc.collect()  # as the server does once loaded (``tracking.server``): the collector then
    gc.freeze()  # skips what exists now, the lookup data included, in every version measured
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(args.count):
        what()
    print("done", flush=True)
    sys.stdin.readline()


def count(url: str, site: int, email: str, what: str, number: int, warm: int, workdir: Path, key: str = "",
          api_batch: int = 100) -> float:
    """Instructions per request of ``what``, callgrind counting only the measured requests."""
    out = workdir / f"callgrind.{time.time_ns()}.out"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
               sys.executable, str(Path(__file__).resolve()), "--child", "--url", url, "--site", str(site),
               "--email", email, "--key", key, "--api-batch", str(api_batch), "--what", what, "--count", str(number), "--warm", str(warm)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert process.stdin and process.stdout
    if process.stdout.readline().strip() != "ready":
        raise SystemExit(f"{what}: the measured process failed")
    control = ["callgrind_control", "-i"]
    subprocess.run([*control, "on", str(process.pid)], check=True, stdout=subprocess.DEVNULL)
    process.stdin.write("go\n")
    process.stdin.flush()
    if process.stdout.readline().strip() != "done":
        raise SystemExit(f"{what}: the measured requests failed")
    subprocess.run([*control, "off", str(process.pid)], check=True, stdout=subprocess.DEVNULL)
    process.stdin.write("exit\n")
    process.stdin.flush()
    if process.wait() != 0:
        raise SystemExit(f"{what}: the measured process exited with {process.returncode}")
    totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if totals is None:
        raise SystemExit(f"no totals in {out}")
    return int(totals.group(1)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=200_000, help="demo hits in the dashboard's site (default 200,000)")
    parser.add_argument("--beacon-hits", type=int, default=300, help="measured beacon hits (default 300)")
    parser.add_argument("--pages", type=int, default=3, help="measured requests of each dashboard page (default 3)")
    parser.add_argument("--api-batches", type=int, default=20, help="measured API batches (default 20)")
    parser.add_argument("--api-batch", type=int, default=100, help="hits in each API batch (default 100)")
    parser.add_argument("--only", choices=("beacon", "dropins", "api", "dashboard"), help="measure only this")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--email", "--what", "--key"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--site", "--count", "--warm"):
        parser.add_argument(name, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import tracking

    print(f"code: {Path(tracking.__file__).resolve().parent}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        workdir = Path(name)
        started = time.monotonic()
        url, site, email = prepare(workdir, args.hits)
        print(f"  {args.hits:,} demo hits seeded in {time.monotonic() - started:.0f} s", flush=True)
        if args.only in (None, "beacon"):
            per_hit = count(url, site, email, "beacon", args.beacon_hits, 200, workdir)
            print(f"  beacon hit: {per_hit / 1e6:.3f} M instructions", flush=True)
        for which in DROPIN_BODIES if args.only in (None, "dropins") else ():
            per_hit = count(url, site, email, which, args.beacon_hits, 200, workdir)
            print(f"  {which} hit: {per_hit / 1e6:.3f} M instructions", flush=True)
        if args.only in (None, "api"):
            per_batch = count(url, site, email, "api", args.api_batches, 10, workdir, key=api_key(url),
                              api_batch=args.api_batch)
            print(f"  api events batch ({args.api_batch} hits): {per_batch / 1e6:.2f} M instructions,"
                  f" {per_batch / args.api_batch / 1e6:.3f} M a hit", flush=True)
        for page in PAGES if args.only in (None, "dashboard") else ():
            per_page = count(url, site, email, page, args.pages, 2, workdir)
            print(f"  dashboard {page}: {per_page / 1e6:.1f} M instructions", flush=True)


if __name__ == "__main__":
    main()
