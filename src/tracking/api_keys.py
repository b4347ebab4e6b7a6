"""API keys: made on the account page, presented as ``Authorization: Bearer <key>``.

A key is ``trk_`` and 32 random bytes (base64url). It is shown once, when it is made; the table
(:class:`tracking.models.ApiKey`) keeps its SHA-256, which is what a request's key is looked up
by (a unique index), and the digests are then compared in constant time. A plain digest is
enough: nobody can try 2**256 keys, so there is nothing a slow hash would protect.

What a key may do is the intersection of three things:

* what its user may do (the same access control lists as the pages: a key never reads a site
  its user cannot read, and never acts as an admin);
* its **scopes** (:data:`SCOPES`): ``stats:read`` reads reports, ``sites:write`` creates,
  changes and deletes sites, ``events:write`` sends hits from a back end;
* its **sites**, if it is limited to some.

A key stops working when it is revoked or expires, and while its user's account is disabled;
its user's account going takes its keys with it. ``last_used_at`` is written at most every :data:`TOUCH_EVERY` per key, after the request.

Each key may make :attr:`KeyLimiter.limit` requests a minute (``tracking.api_rate``, 600 by
default), per server process: a fixed window that opens at the key's first request and lasts a
minute. Beyond it the API answers ``429`` with ``Retry-After``; every answer to a key carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from .models.accounts import User
from .models.api_keys import ApiKey
from .models.types import utcnow

#: The scopes a key may have, and what each allows.
SCOPES = {
    "stats:read": "read the reports of the sites",
    "sites:write": "add, change and delete sites",
    "events:write": "send hits from a back end (POST /api/v1/events)",
}
PREFIX = "trk_"
#: Keys longer than this are not ours: refused without a query.
MAX_KEY_LENGTH = 64
#: How many characters of a key the account page shows.
SHOWN = len(PREFIX) + 6
TOUCH_EVERY = timedelta(minutes=1)
LABEL_LENGTH = 100


def now() -> datetime:
    """The clock of keys (naive UTC); the tests move it."""
    return utcnow()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(
    db: Session,
    user_id: int,
    label: str,
    scopes: set[str] | frozenset[str],
    site_ids: list[int] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key of ``user_id``: its row and the key itself (to show once)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        user_id=user_id,
        label=label,
        prefix=key[:SHOWN],
        key_hash=key_hash(key),
        scopes=" ".join(scope for scope in SCOPES if scope in scopes),
        site_ids=sorted(set(site_ids)) if site_ids else None,
        created_at=now(),
        expires_at=expires_at,
    )
    db.add(row)
    db.flush()
    return row, key


@dataclass(frozen=True, slots=True)
class LiveKey:
    """A request's live key: what its rights are decided by, read in one query with its user's
    address (no ORM objects: a view that changes the key loads its row by ``id``)."""

    id: int
    user_id: int
    #: Its user's address (their ``email:`` principal).
    email: str
    scope_set: frozenset[str]
    #: The sites it is limited to; ``None``: every site its user may use.
    site_ids: tuple[int, ...] | None
    last_used_at: datetime | None


_LIVE_KEY = (
    select(ApiKey.id, ApiKey.user_id, User.email, ApiKey.key_hash, ApiKey.scopes, ApiKey.site_ids,
           ApiKey.expires_at, ApiKey.last_used_at, ApiKey.revoked_at)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("digest"), User.is_disabled.is_(False))
)


def resolve(db: Session, key: str, at: datetime) -> LiveKey | None:
    """The live key ``key`` (not revoked, not expired, of an account that is not disabled);
    else ``None``."""
    if not key.startswith(PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    digest = key_hash(key)
    # Core on the session's connection: one row, none of the ORM's work on the API's hot path.
    row = db.connection().execute(_LIVE_KEY, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= at):
        return None
    return LiveKey(row.id, row.user_id, row.email, frozenset(row.scopes.split()),
                   None if row.site_ids is None else tuple(row.site_ids), row.last_used_at)


def needs_touch(row: LiveKey, at: datetime) -> bool:
    return row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY


def touch(db: Session, key_id: int, at: datetime) -> None:
    db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))


def covers(row: LiveKey, site_id: int) -> bool:
    """Whether the key may be used on the site (its user's rights aside)."""
    return row.site_ids is None or site_id in row.site_ids


def of_user(db: Session, user_id: int) -> list[ApiKey]:
    """The user's keys, newest first, revoked ones included."""
    return list(db.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())))


def revoke(db: Session, user_id: int, key_id: int, at: datetime) -> bool:
    """Revoke a key of ``user_id``; ``False`` if there is no such live key."""
    result = db.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return cast(CursorResult, result).rowcount == 1


@dataclass(frozen=True, slots=True)
class Allowance:
    """What the limiter said of one request."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the window starts afresh (whole, at least 1).
    reset: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


class KeyLimiter:
    """``limit`` requests per key per ``window`` seconds, in this process (``limit`` 0: none)."""

    def __init__(self, limit: int, window: float = 60.0, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[int, list[float]] = {}  # key id -> [window start, requests]
        self._lock = threading.Lock()

    def check(self, key_id: int) -> Allowance | None:
        """Count a request of the key; ``None`` when there is no limit."""
        if not self.limit:
            return None
        at = self.clock()
        with self._lock:
            entry = self._windows.get(key_id)
            if entry is None or at - entry[0] >= self.window:
                if len(self._windows) > 10_000:  # forget the windows that are over
                    self._windows = {k: v for k, v in self._windows.items() if at - v[0] < self.window}
                entry = self._windows[key_id] = [at, 0]
            allowed = entry[1] < self.limit
            if allowed:
                entry[1] += 1
            remaining = self.limit - int(entry[1])
            reset = max(1, math.ceil(entry[0] + self.window - at))
        return Allowance(allowed, self.limit, remaining, reset)
