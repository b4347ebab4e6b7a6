"""``tracking-admin``: administration from the shell.

    tracking-admin create-user production.ini --email ada@example.org --name Ada --admin

The password is asked for twice on a terminal, or read from the first line of standard input
(``echo "$PASSWORD" | tracking-admin create-user ...``).
"""

import argparse
import getpass
import sys

from pyramid.paster import bootstrap, setup_logging
from sqlalchemy import exists, select

from ..models import User
from ..models.accounts import normalize_email
from ..schemas.accounts import PASSWORD_MAX, PASSWORD_MIN


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


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="tracking-admin", description="Administer a Tracking server.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create an account (the first admin, say)")
    create.add_argument("config_uri", help="the ini file, e.g. production.ini")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--admin", action="store_true", help="make the account an administrator")
    return parser.parse_args(argv)


def main(argv=None, stdin=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.config_uri)
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
