"""Signed-in sessions: started at log-in, resolved on every request, ended on purpose or by time.

A log-in creates a row in ``user_sessions`` (:class:`tracking.models.UserSession`) and gives the
browser a random token (32 bytes) in its session cookie; the table keeps only the token's
SHA-256, so neither a copy of the table nor a guessed user id opens an account. A request is
signed in only while its token's row exists and has not expired (:func:`resolve`, called by
:mod:`tracking.security`). A session ends:

* at log-out (its row is deleted: a copy of the cookie taken earlier opens nothing);
* when its owner ends it from the account page, one at a time or all but the current one;
* at a password change: every other session of the account ends, and the current one gets a
  new token (a copy of its cookie taken before the change is worthless too);
* when the account is deleted (its rows go with it, ``ON DELETE CASCADE``);
* after :data:`IDLE` (14 days) without a request, and in any case :data:`LIFETIME` (30 days)
  after the log-in. ``expires_at`` holds the earlier of the two deadlines.

``last_seen_at`` (and with it the idle deadline) is written at most every :data:`TOUCH_EVERY`
(5 minutes) per session, so a page view is not a write each time; the account page shows it to
that precision. The write happens after the request, in a short transaction of its own: it never
turns the request's read into a write (which SQLite refuses when another connection committed
in between).

Expired rows are deleted whenever someone logs in. Nothing here stores an IP address or a raw
user agent: a session is described by a short browser and system summary (:func:`device_label`).
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session, contains_eager

from .ingest.enrich import parse_agent
from .models.accounts import User
from .models.types import utcnow
from .models.user_sessions import UserSession

IDLE = timedelta(days=14)
LIFETIME = timedelta(days=30)
TOUCH_EVERY = timedelta(minutes=5)
TOKEN_BYTES = 32
#: Longer values in a cookie are not tokens of ours: refused without a query.
MAX_TOKEN_LENGTH = 64
DEVICE_LENGTH = 64


def now() -> datetime:
    """The clock of sessions (naive UTC, like every time in the database); the tests move it."""
    return utcnow()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deadline(created_at: datetime, last_seen_at: datetime) -> datetime:
    """When a session created and last seen at these times expires."""
    return min(created_at + LIFETIME, last_seen_at + IDLE)


def device_label(user_agent: str | None) -> str:
    """A short summary of a browser and its system, such as "Firefox 128 on Linux"."""
    agent = parse_agent(user_agent or "")
    browser = " ".join(part for part in (agent.browser, agent.browser_version) if part) or "Unknown browser"
    label = f"{browser} on {agent.os}" if agent.os else browser
    return label[:DEVICE_LENGTH]


def start(dbsession: Session, user_id: int, device: str, now: datetime) -> str:
    """A new session for ``user_id``; returns its token (for the cookie, and nowhere else).

    Expired sessions, anyone's, are deleted on the way."""
    dbsession.execute(delete(UserSession).where(UserSession.expires_at <= now))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    dbsession.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=deadline(now, now),
            device=device[:DEVICE_LENGTH],
        )
    )
    return token


def resolve(dbsession: Session, token, now: datetime) -> UserSession | None:
    """The live session of ``token``, with its user loaded (one query); ``None`` if there is none."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return dbsession.scalar(
        select(UserSession)
        .join(UserSession.user)
        .options(contains_eager(UserSession.user))
        .where(UserSession.token_hash == token_hash(token), UserSession.expires_at > now, User.is_disabled.is_(False))
    )


def needs_touch(row: UserSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(dbsession: Session, session_id: int, created_at: datetime, now: datetime) -> None:
    """Record a request of this session: last seen now, idle deadline moved on."""
    dbsession.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.last_seen_at <= now - TOUCH_EVERY,
            UserSession.expires_at > now,
        )
        .values(last_seen_at=now, expires_at=deadline(created_at, now))
    )


def renew(row: UserSession) -> str:
    """A new token for this session (the old one stops working); returns it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row.token_hash = token_hash(token)
    return token


def end_token(dbsession: Session, token) -> None:
    """End the session of ``token`` (log-out)."""
    if isinstance(token, str) and token:
        dbsession.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))


def end(dbsession: Session, user_id: int, session_id: int) -> bool:
    """End one session of ``user_id``; whether it was still there. Another user's id ends nothing."""
    result = dbsession.execute(delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id))
    return cast(CursorResult, result).rowcount > 0


def end_others(dbsession: Session, user_id: int, keep: int | None) -> int:
    """End every session of ``user_id`` but ``keep``; how many ended."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep)
    return cast(CursorResult, dbsession.execute(statement)).rowcount


def active(dbsession: Session, user_id: int, now: datetime) -> list[UserSession]:
    """The live sessions of ``user_id``, the most recently used first."""
    return list(
        dbsession.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, UserSession.expires_at > now)
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )
