"""A PostgreSQL server of the tests' own, for the tests whose database goes away.

The machine's PostgreSQL (``TRACKING_TEST_POSTGRESQL``) is shared: tests create and drop
databases on it, and never stop or restart it (``tests/conftest.py`` fails the session if its
postmaster was restarted). A test that stops, restarts or kills its database server uses a
:class:`Cluster` instead: ``initdb`` in a temporary directory, ``pg_ctl start`` on a free port of
127.0.0.1 (its Unix socket in the same directory), stopped and deleted afterwards.

The binaries are the newest under ``/usr/lib/postgresql/*/bin`` (Debian's layout), or
``TRACKING_TEST_PG_BIN``. ``initdb`` refuses to run as root: as root, every command runs as the
``postgres`` system user (``runuser``), which then owns the temporary directory.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

#: Set up for speed: nothing here outlives the test session.
_SERVER_OPTIONS = ("-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")


def binaries() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, or ``None`` when there is none."""
    configured = os.environ.get("TRACKING_TEST_PG_BIN")
    candidates = [Path(configured)] if configured else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0
    )
    for directory in reversed(candidates):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A throw-away PostgreSQL cluster: ``with Cluster() as cluster:`` creates and starts it,
    and stops and deletes it on the way out, whatever happened inside."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin = bin_dir or binaries()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
        self.as_postgres = os.geteuid() == 0
        self.directory: Path | None = None
        self.port = 0

    # -- life cycle ----------------------------------------------------------------------

    def create(self) -> "Cluster":
        self.directory = Path(tempfile.mkdtemp(prefix="tracking-pg-"))
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        for attempt in range(3):  # the free port may be taken in between: try another
            self.port = _free_port()
            try:
                self.start()
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        return self

    @property
    def data(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    @property
    def log(self) -> Path:
        assert self.directory is not None
        return self.directory / "server.log"

    def pg_ctl(self, *args: str) -> list[str]:
        """The command line of ``pg_ctl <args>`` on this cluster, as the user that owns it."""
        return self._command("pg_ctl", "-D", str(self.data), *args)

    def start_command(self) -> list[str]:
        """``pg_ctl start``, waiting until the server accepts connections."""
        options = " ".join(("-p", str(self.port), "-k", str(self.directory), "-c", "listen_addresses=127.0.0.1", *_SERVER_OPTIONS))
        return self.pg_ctl("-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop_command(self, mode: str = "fast") -> list[str]:
        """``pg_ctl stop``: ``fast`` ends the sessions and shuts down cleanly; ``immediate`` is a crash."""
        return self.pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def start(self) -> None:
        """Start the server; nothing if it runs."""
        if not self.running():
            self._run_command(self.start_command())

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run_command(self.stop_command(mode))

    def restart(self) -> None:
        """Stop (``fast``) and start again, as a service manager restarts it."""
        self.stop()
        self.start()

    def running(self) -> bool:
        return subprocess.run(self.pg_ctl("status"), capture_output=True).returncode == 0

    def remove(self) -> None:
        """Stop the server at once and delete everything it had."""
        if self.directory is None:
            return
        try:
            if self.data.is_dir():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> "Cluster":
        try:
            return self.create()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, *exc) -> None:
        self.remove()

    # -- databases -----------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """psycopg's URL of the ``postgres`` database, as ``TRACKING_TEST_POSTGRESQL`` is written."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, prefix: str = "tracking_private") -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- commands ------------------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self.as_postgres else command

    def _run(self, program: str, *args: str) -> None:
        self._run_command(self._command(program, *args))

    def _run_command(self, command: list[str]) -> None:
        # The server's own output goes to its log (``-l``): nothing holds these pipes open.
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.directory)
        if done.returncode != 0:
            log = self.log.read_text() if self.directory and self.log.exists() else ""
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr + log)
