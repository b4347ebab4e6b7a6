"""``tracking-admin create-user``."""

import io
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.support import environment, migrate
from tracking.models import User
from tracking.scripts.admin import main

ROOT = Path(__file__).parents[2]


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path}/admin.sqlite"
    migrate(url)
    with environment(TRACKING_DATABASE_URL=url):
        yield url


def users(url):
    with Session(create_engine(url)) as session:
        return [(u.email, u.is_admin, u.check_password("a-long-password")) for u in session.scalars(select(User))]


def test_create_admin_reading_the_password_from_stdin(database, capsys):
    code = main(
        ["create-user", str(ROOT / "development.ini"), "--email", "Root@Example.org", "--admin"],
        stdin=io.StringIO("a-long-password\n"),
    )
    assert code == 0
    assert "created administrator root@example.org" in capsys.readouterr().out
    assert users(database) == [("root@example.org", True, True)]


def test_duplicate_email_is_a_clear_error(database, capsys):
    args = ["create-user", str(ROOT / "development.ini"), "--email", "a@example.org"]
    assert main(args, stdin=io.StringIO("a-long-password\n")) == 0
    assert main(args, stdin=io.StringIO("a-long-password\n")) == 2
    err = capsys.readouterr().err
    assert err.strip() == "tracking-admin: error: an account with the e-mail address a@example.org already exists"
    assert len(users(database)) == 1


def test_short_password_is_refused(database, capsys):
    assert main(["create-user", str(ROOT / "development.ini"), "--email", "a@example.org"], stdin=io.StringIO("short\n")) == 2
    assert "10 to 256 characters" in capsys.readouterr().err
    assert users(database) == []


def test_account_commands_from_the_shell(database, capsys):
    ini = str(ROOT / "development.ini")
    for email in ("ada@example.org", "bob@example.org"):
        assert main(["create-user", ini, "--email", email], stdin=io.StringIO("a-long-password\n")) == 0
    assert main(["disable", ini, "BOB@example.org"]) == 0
    assert main(["make-admin", ini, "ada@example.org"]) == 0
    assert main(["password-link", ini, "ada@example.org", "--base-url", "https://stats.example.org/"]) == 0
    out = capsys.readouterr().out
    assert "disabled bob@example.org (its sessions ended)" in out and "ada@example.org is an administrator" in out
    assert "https://stats.example.org/password/" in out
    with Session(create_engine(database)) as session:
        assert session.scalar(select(User.is_disabled).where(User.email == "bob@example.org"))
    assert main(["password-link", ini, "bob@example.org", "--base-url", "https://stats.example.org/"]) == 2
    assert "This account is disabled: enable it first." in capsys.readouterr().err
    assert main(["unmake-admin", ini, "ada@example.org"]) == 2
    assert "last administrator" in capsys.readouterr().err
    assert main(["delete-user", ini, "bob@example.org", "--sites", "delete"]) == 0
    assert [email for email, *_ in users(database)] == ["ada@example.org"]
