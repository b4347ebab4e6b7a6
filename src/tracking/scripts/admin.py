"""``tracking-admin``: administration from the shell.

    tracking-admin create-user production.ini --email ada@example.org --name Ada --admin
    tracking-admin rebuild production.ini 3

``create-user``: the password is asked for twice on a terminal, or read from the first line of
standard input (``echo "$PASSWORD" | tracking-admin create-user ...``).

``rebuild``: re-date a site's visits and hits in its time zone and rebuild its summaries now,
in one transaction of its own, and mark its pending rebuild job done (the writer would have run
it: :mod:`tracking.summaries.jobs`). For a rebuild that failed for good, or one an operator
wants done at once. It needs no running server, and starts none; on SQLite it holds the
database's write lock until it is done (the beacon keeps accepting hits meanwhile: they wait
in the writer's buffer).
"""

import argparse
import getpass
import sys
import time

from pyramid.paster import bootstrap, get_appsettings, setup_logging
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..models import Site, User, get_engine
from ..models.accounts import normalize_email
from ..schemas.accounts import PASSWORD_MAX, PASSWORD_MIN
from ..settings import database_settings
from ..summaries import jobs


class CommandError(Exception):
    pass


def read_password(stdin=sys.stdin) -> str:
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("the two passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise CommandError(f"the password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return password


def create_user(dbsession, *, email: str, name: str, password: str, admin: bool) -> User:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise CommandError(f"not an e-mail address: {email!r}")
    if dbsession.scalar(select(exists().where(User.email == email))):
        raise CommandError(f"an account with the e-mail address {email} already exists")
    user = User(name=name.strip() or email, email=email, is_admin=admin)
    user.set_password(password)
    dbsession.add(user)
    dbsession.flush()
    return user


#: Site ids are 32-bit integers.
MAX_SITE_ID = 2**31 - 1


def rebuild(config_uri: str, site_id: int) -> str:
    """Rebuild the site's data now (see the module's docstring); what was done, in one line."""
    if not 1 <= site_id <= MAX_SITE_ID:
        raise CommandError(f"there is no site {site_id}")
    engine = get_engine(database_settings(get_appsettings(config_uri)))
    try:
        with Session(engine) as session, session.begin():
            # The write lock from the start: a rebuild must not fail half-way because the hit
            # writer committed meanwhile.
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            site = session.get(Site, site_id)
            if site is None:
                raise CommandError(f"there is no site {site_id}")
            started = time.monotonic()
            cleared = jobs.rebuild_now(session, site)
            message = f"rebuilt site {site.id} ({site.name}) in {site.timezone}: {time.monotonic() - started:.1f} s"
    except SQLAlchemyError as exc:
        raise CommandError(f"the rebuild failed, and nothing was changed: {jobs.describe(exc)}") from exc
    finally:
        engine.dispose()
    return message + ("; its pending rebuild is done" if cleared else "")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="tracking-admin", description="Administer a Tracking server.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create an account (the first admin, say)")
    create.add_argument("config_uri", help="the ini file, e.g. production.ini")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--admin", action="store_true", help="make the account an administrator")
    rebuild = commands.add_parser(
        "rebuild", help="re-date a site's data in its time zone and rebuild its summaries now"
    )
    rebuild.add_argument("config_uri", help="the ini file, e.g. production.ini")
    rebuild.add_argument("site", type=int, help="the site's id (in its address: /sites/<id>/)")
    return parser.parse_args(argv)


def main(argv=None, stdin=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.config_uri)
    if args.command == "rebuild":
        try:
            print(rebuild(args.config_uri, args.site))
        except CommandError as exc:
            print(f"tracking-admin: error: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        password = read_password(stdin or sys.stdin)
        with bootstrap(args.config_uri) as env:
            request = env["request"]
            with request.tm:
                user = create_user(
                    request.dbsession, email=args.email, name=args.name, password=password, admin=args.admin
                )
                role = "administrator" if user.is_admin else "user"
                message = f"created {role} {user.email} (id {user.id})"
    except CommandError as exc:
        print(f"tracking-admin: error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0
