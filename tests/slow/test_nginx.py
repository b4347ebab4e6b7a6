"""deploy/nginx.conf in front of two ``pserve production.ini`` processes on one database.

The tested file is the one in the README; only its ports, paths and certificate are replaced
(each replacement must match exactly once, so the test fails when the file changes shape).
Needs ``nginx`` (Debian: ``apt-get install nginx``) and the ``openssl`` command; skipped, saying
so, without them. The README shows the same file, character for character.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.servers import ROOT, Server, free_port, seed_site, stored, wait_for
from tracking.models import Hit, get_engine

pytestmark = pytest.mark.slow
#: Debian installs it in /usr/sbin, which a normal user's PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/local/sbin:/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
if NGINX is None and os.environ.get("REQUIRE_NGINX"):
    raise RuntimeError("REQUIRE_NGINX is set, but nginx is not installed: deploy/nginx.conf would go untested")
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx): deploy/nginx.conf is not tested"
)
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is missing: no test certificate for nginx")

CONF = ROOT / "deploy" / "nginx.conf"
HOST = "stats.example.org"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
SPOOFED = "198.51.100.9"


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/nginx.conf should contain {old!r} exactly once"
    return text.replace(old, new)


def configured_server_block(tmp: Path, https_port: int, http_port: int, upstreams: tuple[int, int], cert: Path, key: Path) -> str:
    text = CONF.read_text()
    text = replace_once(text, "server 127.0.0.1:8081;", f"server 127.0.0.1:{upstreams[0]};")
    text = replace_once(text, "server 127.0.0.1:8082;", f"server 127.0.0.1:{upstreams[1]};")
    text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = replace_once(text, "listen [::]:80;", "")
    text = replace_once(text, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = replace_once(text, "listen [::]:443 ssl;", "")
    text = replace_once(text, "/etc/letsencrypt/live/stats.example.org/fullchain.pem", str(cert))
    text = replace_once(text, "/etc/letsencrypt/live/stats.example.org/privkey.pem", str(key))
    text = replace_once(text, "/var/cache/nginx/tracking", str(tmp / "cache"))
    text = replace_once(text, "/var/log/nginx/tracking.access.log", str(tmp / "access.log"))
    return text


def main_config(tmp: Path, server_block: Path) -> str:
    """What /etc/nginx/nginx.conf provides, with every path in ``tmp``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the files in tmp
    temp = "\n".join(f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {tmp / "other-access.log"};
{temp}
    include {server_block};
}}
"""


class Nginx:
    def __init__(self, tmp: Path, upstreams: tuple[int, int]):
        self.tmp = tmp
        self.https_port, self.http_port = free_port(), free_port()
        self.cert, self.key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(self.key), "-out", str(self.cert), "-days", "2", "-subj", f"/CN={HOST}",
             "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"],
            check=True, capture_output=True,
        )
        block = tmp / "tracking.conf"
        block.write_text(configured_server_block(tmp, self.https_port, self.http_port, upstreams, self.cert, self.key))
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(main_config(tmp, block))
        self.command = [NGINX, "-p", str(tmp), "-c", str(self.conf), "-e", str(tmp / "error.log")]
        self.process = None

    def __enter__(self):
        check = subprocess.run([*self.command, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.tmp / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish the requests, flush the logs
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def request(self, method, path, headers=None, tls=True):
        context = ssl.create_default_context(cafile=str(self.cert))
        if tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=30, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            conn.request(method, path, headers={"Host": HOST, "User-Agent": CHROME, **(headers or {})})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


def test_the_readme_shows_the_tested_file():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```nginx\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
    assert blocks == [CONF.read_text()]


@needs_nginx
@needs_openssl
def test_nginx_in_front_of_two_processes(fresh_db, tmp_path):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_id = seed_site(engine)
    env = {"TRACKING_STORE_IP": "full"}
    with Server("production.ini", fresh_db, tmp_path, env=env) as first, Server("production.ini", fresh_db, tmp_path, env=env) as second:
        with Nginx(tmp_path, (first.port, second.port)) as nginx:
            # Hits from four clients at once, each claiming to be someone else; one of them with
            # a snippet of earlier versions (the beacon's old path).
            acknowledged = []

            def send(n):
                name = "visit" if n == 3 else "hit"
                context = ssl.create_default_context(cafile=str(nginx.cert))
                conn = http.client.HTTPSConnection("127.0.0.1", nginx.https_port, timeout=30, context=context)
                ok = 0
                for i in range(40):
                    conn.request(
                        "GET",
                        f"/sites/{site_id}/{name}?url=https%3A%2F%2Fexample.com%2Fc{n}%2F{i}",
                        headers={"Host": HOST, "User-Agent": CHROME, "X-Forwarded-For": SPOOFED},
                    )
                    response = conn.getresponse()
                    response.read()
                    ok += response.status == 204
                conn.close()
                acknowledged.append(ok)

            threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            total = sum(acknowledged)
            assert total == 160

            # Pages: the app sees HTTPS (HSTS, a Secure cookie) and echoes nginx's request id.
            ids = []
            for _ in range(6):
                response, body = nginx.request("GET", "/login")
                assert response.status == 200
                assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
                assert "; secure;" in response.headers["Set-Cookie"].lower()
                assert response.headers.get("Server") == "nginx"  # no version
                ids.append(response.headers["X-Request-Id"])
            assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)

            # A form posted through nginx passes the CSRF origin check (Host and scheme forwarded).
            response, body = nginx.request("POST", "/logout", headers={"Origin": f"https://{HOST}"})
            assert response.status == 400  # no token: the CSRF page, not a scheme/origin mismatch
            assert b"The form was out of date" in body

            # The tracker script: cached by nginx, gzipped, nosniff kept.
            first_fetch, script = nginx.request("GET", "/tracker.js")
            second_fetch, _ = nginx.request("GET", "/tracker.js", headers={"Accept-Encoding": "gzip"})
            assert first_fetch.status == second_fetch.status == 200
            assert first_fetch.headers["X-Cache-Status"] == "MISS" and second_fetch.headers["X-Cache-Status"] == "HIT"
            assert second_fetch.headers["Content-Encoding"] == "gzip"
            assert second_fetch.headers["X-Content-Type-Options"] == "nosniff"

            # The stylesheets go out gzipped too; the pages (with their CSRF tokens) do not.
            for path in ("/deform_static/css/bootstrap.min.css", "/static/style.css", "/static/dashboard.js"):
                response, _ = nginx.request("GET", path, headers={"Accept-Encoding": "gzip"})
                assert response.status == 200 and response.headers["Content-Encoding"] == "gzip", path
            response, _ = nginx.request("GET", "/login", headers={"Accept-Encoding": "gzip"})
            assert "Content-Encoding" not in response.headers

            # A share link's, an invitation's or a set-password link's secret reaches no log.
            secret = "S3cr3t-" + "x" * 36
            for path in (f"/share/{secret}/", f"/share//{secret}/panel", f"/invitations/{secret}", f"/password/./{secret}"):
                response, _ = nginx.request("GET", path)
                assert response.status == 404, path

            # Plain HTTP is sent to HTTPS.
            response, _ = nginx.request("GET", "/login?next=%2Fsites%2F", tls=False)
            assert response.status == 301 and response.headers["Location"] == f"https://{HOST}/login?next=%2Fsites%2F"

            # Every acknowledged hit is stored, with the address nginx saw, not the claimed one.
            assert wait_for(lambda: stored(engine, site_id) == total)
        with engine.connect() as conn:
            assert set(conn.scalars(select(Hit.ip).distinct())) == {"127.0.0.1"}

    # Both processes served: their own logs show the pages, nginx's log the hits.
    logs = [server.log.read_text() for server in (first, second)]
    assert all("method=GET path=/login status=200" in log for log in logs)
    assert sum(log.count("path=/login status=200") for log in logs) >= 6
    for rid in ids:
        assert sum(f"request_id={rid}" in log for log in logs) == 1
    access = (tmp_path / "access.log").read_text()
    beacon_lines = [line for line in access.splitlines() if re.search(rf"/sites/{site_id}/(hit|visit) ", line)]
    assert len(beacon_lines) == 160 and sum(f"/sites/{site_id}/visit " in line for line in beacon_lines) == 40
    assert {re.search(r"upstream=(\S+)", line).group(1) for line in beacon_lines} == {
        f"127.0.0.1:{first.port}",
        f"127.0.0.1:{second.port}",
    }
    assert all(f"request_id={rid}" in access for rid in ids)
    assert not any(secret in log for log in [access, *logs])
    assert access.count("/share/[redacted]/") == 2 and "/invitations/[redacted] " in access
    assert "/password/[redacted] " in access
    # The access log keeps neither addresses nor query strings.
    assert SPOOFED not in access and "url=" not in access and "example.com%2F" not in access
    assert not re.search(r"^\S*127\.0\.0\.1", access, re.MULTILINE)
    engine.dispose()


