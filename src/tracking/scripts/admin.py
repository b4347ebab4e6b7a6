"""``tracking-admin``: administration from the shell.

    tracking-admin create-user production.ini --email ada@example.org --name Ada --admin
    tracking-admin rebuild production.ini 3
    tracking-admin disable production.ini bob@example.org        (enable: the same)
    tracking-admin make-admin production.ini bob@example.org     (unmake-admin: the same)
    tracking-admin password-link production.ini bob@example.org --base-url https://stats.example.org
    tracking-admin delete-user production.ini bob@example.org --sites transfer --to ada@example.org

``disable`` ends the account's sessions at once; ``password-link`` prints a one-time "set your
password" link (valid 2 days); ``delete-user`` deletes the account with its sites, or gives
them to another account (``--sites transfer --to``): it must be said which.

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

from .. import accounts
from ..models import Site, User, get_engine
from ..models.accounts import normalize_email
from ..models.types import utcnow
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


ACCOUNT_COMMANDS = ("disable", "enable", "make-admin", "unmake-admin", "password-link", "delete-user")


def _account(dbsession, email: str) -> User:
    user = dbsession.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise CommandError(f"there is no account {email!r}")
    return user


def administer(dbsession, args) -> str:
    """Run one of :data:`ACCOUNT_COMMANDS` in ``dbsession``; what was done, in one line."""
    user = _account(dbsession, args.email)
    try:
        if args.command in ("disable", "enable"):
            accounts.set_disabled(dbsession, user, args.command == "disable")
            return f"{args.command}d {user.email}" + (" (its sessions ended)" if args.command == "disable" else "")
        if args.command in ("make-admin", "unmake-admin"):
            accounts.set_admin(dbsession, user, args.command == "make-admin")
            return f"{user.email} is {'an administrator' if user.is_admin else 'no longer an administrator'}"
        if args.command == "password-link":
            token = accounts.issue_password_link(dbsession, user, utcnow())
            return f"{args.base_url.rstrip('/')}/password/{token}"
        target = _account(dbsession, args.to) if args.sites == "transfer" else None
        count = accounts.delete_user(dbsession, user, transfer_to=target)
    except accounts.AccountError as exc:
        raise CommandError(str(exc)) from None
    return f"deleted {args.email}; its {count} site(s) " + (f"given to {target.email}" if target else "deleted")


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
    for name in ACCOUNT_COMMANDS:
        command = commands.add_parser(name, help=f"{name.replace('-', ' ')} an account")
        command.add_argument("config_uri", help="the ini file, e.g. production.ini")
        command.add_argument("email", help="the account's e-mail address")
        if name == "password-link":
            command.add_argument("--base-url", default="", help="the server's address, put before the link's path")
        if name == "delete-user":
            command.add_argument("--sites", choices=("delete", "transfer"), required=True, help="what becomes of its sites")
            command.add_argument("--to", help="with --sites transfer: the e-mail address of the account that gets them")
    args = parser.parse_args(argv)
    if getattr(args, "sites", None) == "transfer" and not args.to:
        parser.error("--sites transfer needs --to")
    return args


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
    if args.command in ACCOUNT_COMMANDS:
        try:
            with bootstrap(args.config_uri) as env:
                request = env["request"]
                with request.tm:
                    print(administer(request.dbsession, args))
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
