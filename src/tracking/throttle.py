"""Log-in throttling, shared by every server process through the database.

Password checks are counted per *key*: one for the account (the normalised e-mail address, known
or not, so the throttle does not reveal which addresses have accounts) and one for the client
(its IP address). The same keys guard every form that checks a password: the log-in form, and
the current password asked by the change-password and delete-account forms. An attempt is
refused while any of its keys is throttled:

* the first :data:`FREE_FAILURES` (5) failures cost nothing, and they lapse :data:`WINDOW`
  (15 minutes) after the first of them;
* from the 5th failure on, each further attempt waits for the back-off: 1 s after the 5th
  failure, 2 s after the 6th, 4 s, 8 s ... at most :data:`MAX_DELAY` (15 minutes);
* from the 20th failure on (:data:`LOCK_FAILURES`) the key is locked: every failure locks it for
  :data:`LOCK` (15 minutes) again;
* a throttled key is forgotten after a quiet :data:`WINDOW` past its last wait;
* a correct password clears the account's counter and gives the client's counter back the
  attempt, nothing more: the client's earlier failures stay counted. (Clearing it would let one
  client spray guesses at other people's accounts and wipe its record by logging into an
  account of its own every fourth try.)

Counted first. An attempt is counted *before* its password is checked (:func:`attempt`): one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` locks the keys' rows (PostgreSQL) or takes the
database's write lock (SQLite), the rules decide from the rows it returns, and the count is
written in the same transaction, the request's, which keeps the lock until it commits. Attempts
on one key therefore take turns and each sees the ones before it: of 30 simultaneous wrong
passwords for one account, exactly 5 are checked. A refused attempt is not counted (hammering
during a wait does not extend it) and its password is not checked, so it reveals nothing and
costs no hash. A correct password settles its attempt in the same transaction
(:func:`settle`). On SQLite, a log-in holds the write lock for its password check (~0.1 s).

Registration. An "address already registered" answer tells whoever asks that the address has an
account, so it is counted against the client's key like a failed log-in (the attempt is
counted before the form is checked, and given back when the address is free): probing for
addresses is slowed exactly like guessing passwords, and shares the same counter. Separately,
one client creates at most :data:`SIGNUPS` (5) accounts per :data:`SIGNUP_WINDOW` (an hour),
counted with the accounts themselves (:func:`count_signup`).

Privacy: keys are keyed hashes (BLAKE2b under a key derived from ``tracking.secret``), so the
table holds neither e-mail addresses nor IP addresses. The client key hashes the full IPv4
address or the IPv6 /64 (one host usually owns a whole /64, so a per-address key would be
useless there). Truncating IPv4 to its /24 was the alternative; it would let one
abuser lock out a whole office or mobile carrier's neighbourhood. Expired rows are deleted as
new attempts arrive.

Keys are locked in sorted order (``account:`` < ``client:`` < ``signup:``) and the purge skips
locked rows, so two attempts cannot deadlock.

Every function takes the SQLAlchemy session to work in and, where time matters, ``now`` (naive
UTC), so the tests run on a fixed clock.
"""

import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from .models.throttle import LoginThrottle

FREE_FAILURES = 5
WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
LOCK_FAILURES = 20
LOCK = timedelta(minutes=15)
SIGNUPS = 5
SIGNUP_WINDOW = timedelta(hours=1)
#: Expired rows deleted per counted attempt: enough to keep up, small enough to stay cheap.
PURGE_BATCH = 100

_table = cast(Table, LoginThrottle.__table__)  # declared a FromClause by SQLAlchemy


# -- keys ----------------------------------------------------------------------------------------


def _digest(secret: str, kind: str, value: str) -> str:
    key = hashlib.sha256(b"tracking login throttle\0" + secret.encode()).digest()
    return f"{kind}:{hashlib.blake2b(value.encode(), key=key, digest_size=16).hexdigest()}"


def account_key(secret: str, email: str) -> str:
    """The key of an account; ``email`` is already normalised."""
    return _digest(secret, "account", email)


def client_network(ip: str) -> str:
    """What identifies a client: the IPv4 address, or the /64 of an IPv6 address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_key(secret: str, ip: str) -> str:
    return _digest(secret, "client", client_network(ip))


def login_keys(secret: str, email: str, ip: str | None) -> list[str]:
    """The keys of a log-in attempt: its account, and its client when the address is known."""
    keys = [account_key(secret, email)]
    if ip:
        keys.append(client_key(secret, ip))
    return keys


def signup_key(secret: str, ip: str) -> str:
    """The key counting the accounts created by a client (same network rule as :func:`client_key`)."""
    return _digest(secret, "signup", client_network(ip))


# -- the rules -----------------------------------------------------------------------------------


def delay(failures: int) -> timedelta:
    """How long the next attempt waits after the ``failures``-th failure."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    if failures >= LOCK_FAILURES:
        return LOCK
    return min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY)


def _lapsed(row, now: datetime) -> bool:
    """The row's count has lapsed at ``now`` (it starts again from zero)."""
    if row.failures < FREE_FAILURES:
        return row.window_start <= now - WINDOW
    return row.retry_at <= now - WINDOW


def _wait(row, now: datetime) -> timedelta:
    """How long the row's key must still wait at ``now``. Free failures never make a key wait,
    whatever the clocks of the processes that counted them said."""
    if row.failures < FREE_FAILURES or _lapsed(row, now) or row.retry_at <= now:
        return timedelta(0)
    return row.retry_at - now


class Throttled(Exception):
    """An attempt refused by the throttle; ``wait`` says for how long."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__(message(wait))
        self.wait = wait


@dataclass(frozen=True)
class Attempt:
    """An attempt counted by :func:`attempt`, or refused (``wait`` > 0, nothing counted)."""

    wait: timedelta
    #: Each key's failure count, this attempt included.
    counts: dict[str, int] = field(default_factory=dict)
    #: Each key's row as it was before (failures, window_start, retry_at), to give it back.
    before: dict[str, tuple] = field(default_factory=dict, repr=False)


def attempt(session: Session, keys: Iterable[str], now: datetime) -> Attempt:
    """Count an attempt against every key, before its password is checked.

    Refused, and counted against no key, while any key is throttled. The rows stay locked until
    the transaction ends: settle the attempt (:func:`settle`, :func:`give_back`) in it.
    """
    keys = sorted(set(keys))
    if not keys:
        return Attempt(timedelta(0))
    rows = _lock(session, keys, now)
    wait = max(_wait(row, now) for row in rows.values())
    if wait:
        return Attempt(wait)
    counts = {}
    for key in keys:
        row = rows[key]
        failures, window_start = (1, now) if _lapsed(row, now) else (row.failures + 1, row.window_start)
        session.execute(
            update(_table)
            .where(_table.c.key == key)
            .values(failures=failures, window_start=window_start, retry_at=now + delay(failures))
        )
        counts[key] = failures
    _purge(session, now)
    return Attempt(timedelta(0), counts, {key: (row.failures, row.window_start, row.retry_at) for key, row in rows.items()})


def give_back(session: Session, counted: Attempt, keys: Iterable[str] | None = None) -> None:
    """Uncount an attempt (from ``keys``, by default all of its keys): their rows are put back as
    they were before it. Only in the transaction that counted it, which still holds their lock."""
    for key in sorted(counted.before if keys is None else set(keys) & counted.before.keys()):
        failures, window_start, retry_at = counted.before[key]
        session.execute(
            update(_table)
            .where(_table.c.key == key)
            .values(failures=failures, window_start=window_start, retry_at=retry_at)
        )


def settle(session: Session, counted: Attempt) -> None:
    """The attempt's password was right: its account keys are cleared, its other keys (the
    client) get the attempt back and keep their earlier failures."""
    accounts = [key for key in counted.before if key.startswith("account:")]
    reset(session, accounts)
    give_back(session, counted, set(counted.before) - set(accounts))


def checked(session: Session, keys: Iterable[str], now: datetime, check: Callable[[], bool]) -> bool:
    """``check()`` (a password verification) behind the throttle of ``keys``: the attempt is
    counted first, refused with :class:`Throttled` (and ``check`` not called) while a key is
    throttled, and settled when ``check`` says yes."""
    counted = attempt(session, keys, now)
    if counted.wait:
        raise Throttled(counted.wait)
    ok = check()
    if ok:
        settle(session, counted)
    return ok


def wait(session: Session, keys: Iterable[str], now: datetime) -> timedelta:
    """How long an attempt with these keys would have to wait (a read: nothing is counted)."""
    rows = session.execute(select(_table).where(_table.c.key.in_(sorted(set(keys))))).all()
    return max((_wait(row, now) for row in rows), default=timedelta(0))


def reset(session: Session, keys: Iterable[str]) -> None:
    """Forget these keys' failures."""
    session.execute(delete(_table).where(_table.c.key.in_(sorted(set(keys)))))


def count_signup(session: Session, key: str, now: datetime) -> timedelta:
    """Count an account creation against a client's ``key``; when the client has created
    :data:`SIGNUPS` accounts in the current :data:`SIGNUP_WINDOW`, count nothing and return how
    long until it may create another. The window starts with the first creation counted."""
    row = _lock(session, [key], now)[key]
    if row.failures == 0 or row.window_start <= now - SIGNUP_WINDOW:
        created, window_start = 0, now
    else:
        created, window_start = row.failures, row.window_start
    if created >= SIGNUPS:
        return window_start + SIGNUP_WINDOW - now
    # ``retry_at`` is the end of the window, so the purge keeps the row until then.
    session.execute(
        update(_table)
        .where(_table.c.key == key)
        .values(failures=created + 1, window_start=window_start, retry_at=window_start + SIGNUP_WINDOW)
    )
    return timedelta(0)


def _lock(session: Session, keys: list[str], now: datetime) -> dict:
    """The rows of ``keys`` (sorted), created empty where missing, locked until the transaction
    ends: one upsert whose update changes nothing but takes the row lock."""
    insert = _dialect_insert(session)
    statement = insert(_table).values([{"key": key, "failures": 0, "window_start": now, "retry_at": now} for key in keys])
    statement = statement.on_conflict_do_update(
        index_elements=[_table.c.key], set_={"failures": _table.c.failures}
    ).returning(_table.c.key, _table.c.failures, _table.c.window_start, _table.c.retry_at)
    return {row.key: row for row in session.execute(statement)}


def _purge(session: Session, now: datetime) -> None:
    """Delete some lapsed rows. Rows another transaction holds are skipped (PostgreSQL), not waited for."""
    lapsed = (
        select(_table.c.key)
        .where(_table.c.retry_at <= now - WINDOW)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(_table).where(_table.c.key.in_(lapsed.scalar_subquery())))


def _dialect_insert(session: Session):
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(f"login throttling needs PostgreSQL or SQLite, not {name}")  # pragma: no cover


def seconds(wait: timedelta) -> int:
    """A wait in whole seconds, rounded up (for ``Retry-After``)."""
    return max(1, math.ceil(wait.total_seconds()))


#: What a form says to an attempt the throttle refused, and to a client over its account cap.
FAILED = "Too many failed attempts."
SIGNED_UP = "Too many new accounts from your network."


def message(wait: timedelta, reason: str = FAILED) -> str:
    """``reason`` and how long to wait: seconds under a minute, else minutes."""
    whole = seconds(wait)
    if whole < 60:
        amount = f"{whole} second{'s' if whole != 1 else ''}"
    else:
        minutes = math.ceil(whole / 60)
        amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{reason} Try again in {amount}."
