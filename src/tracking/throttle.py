"""Log-in throttling, shared by every server process through the database.

Failed log-ins are counted per *key*: one for the account (the normalised e-mail address, known
or not, so the throttle does not reveal which addresses have accounts) and one for the client
(its IP address). A log-in attempt is refused while any of its keys is throttled:

* the first :data:`FREE_FAILURES` (5) failures cost nothing, and they lapse :data:`WINDOW`
  (15 minutes) after the first of them;
* from the 5th failure on, each further attempt waits for the back-off: 1 s after the 5th
  failure, 2 s after the 6th, 4 s, 8 s ... at most :data:`MAX_DELAY` (15 minutes);
* from the 20th failure on (:data:`LOCK_FAILURES`) the key is locked: every failure locks it for
  :data:`LOCK` (15 minutes) again;
* a throttled key is forgotten after a quiet :data:`WINDOW` past its last wait;
* a successful log-in deletes the account's and the client's counters.

A refused attempt is not counted (hammering during a wait does not extend it) and its password
is not checked, so it reveals nothing and costs no hash.

Privacy: keys are keyed hashes (BLAKE2b under a key derived from ``tracking.secret``), so the
table holds neither e-mail addresses nor IP addresses. The client key hashes the full IPv4
address or the IPv6 /64 (one host usually owns a whole /64, so a per-address key would be
useless there). Truncating IPv4 to its /24 was the alternative; it would let one
abuser lock out a whole office or mobile carrier's neighbourhood. Expired rows are deleted as
new failures arrive.

Concurrency: failures are counted with one ``INSERT ... ON CONFLICT DO UPDATE`` per attempt
(PostgreSQL and SQLite), so concurrent failures in several processes are all counted. The check
before the password is a plain read: requests already in flight when a key becomes throttled
still get their answer, which bounds the slack by the number of concurrent requests. Keys are
written in sorted order and the purge skips locked rows, so two attempts cannot deadlock.

Every function takes the SQLAlchemy session to work in and, where time matters, ``now`` (naive
UTC), so the tests run on a fixed clock.
"""

import hashlib
import ipaddress
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from .models.throttle import LoginThrottle

FREE_FAILURES = 5
WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
LOCK_FAILURES = 20
LOCK = timedelta(minutes=15)
#: Expired rows deleted per recorded failure: enough to keep up, small enough to stay cheap.
PURGE_BATCH = 100

_table = LoginThrottle.__table__


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


# -- the rules -----------------------------------------------------------------------------------


def delay(failures: int) -> timedelta:
    """How long the next attempt waits after the ``failures``-th failure."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    if failures >= LOCK_FAILURES:
        return LOCK
    return min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY)


def _expired(now: datetime):
    """SQL: the row's count has lapsed at ``now`` (it starts again from zero)."""
    stale = now - WINDOW
    return or_(
        and_(_table.c.failures < FREE_FAILURES, _table.c.window_start <= stale),
        and_(_table.c.failures >= FREE_FAILURES, _table.c.retry_at <= stale),
    )


def wait(session: Session, keys: Iterable[str], now: datetime) -> timedelta:
    """How long an attempt with these keys must still wait; zero when it may go ahead."""
    rows = session.execute(
        select(_table.c.retry_at).where(_table.c.key.in_(list(keys)), ~_expired(now), _table.c.retry_at > now)
    ).all()
    return max((row.retry_at - now for row in rows), default=timedelta(0))


def record_failure(session: Session, keys: Iterable[str], now: datetime) -> dict[str, int]:
    """Count a failed attempt against every key; returns each key's failure count."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    expired = _expired(now)
    insert = _dialect_insert(session)
    statement = insert(_table).values([{"key": key, "failures": 1, "window_start": now, "retry_at": now} for key in keys])
    statement = statement.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={
            "failures": case((expired, 1), else_=_table.c.failures + 1),
            "window_start": case((expired, now), else_=_table.c.window_start),
            "retry_at": now,
        },
    ).returning(_table.c.key, _table.c.failures)
    counts = {row.key: row.failures for row in session.execute(statement)}
    for key, failures in sorted(counts.items()):
        if failures >= FREE_FAILURES:
            session.execute(update(_table).where(_table.c.key == key).values(retry_at=now + delay(failures)))
    _purge(session, now)
    return counts


def reset(session: Session, keys: Iterable[str]) -> None:
    """Forget these keys' failures (after a successful log-in)."""
    session.execute(delete(_table).where(_table.c.key.in_(sorted(set(keys)))))


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
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the app supports these two
        raise NotImplementedError(f"login throttling needs PostgreSQL or SQLite, not {name}")
    return insert


def seconds(wait: timedelta) -> int:
    """A wait in whole seconds, rounded up (for ``Retry-After``)."""
    return max(1, math.ceil(wait.total_seconds()))


def message(wait: timedelta) -> str:
    """What the log-in form says to a throttled attempt: seconds under a minute, else minutes."""
    whole = seconds(wait)
    if whole < 60:
        amount = f"{whole} second{'s' if whole != 1 else ''}"
    else:
        minutes = math.ceil(whole / 60)
        amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many failed attempts. Try again in {amount}."
