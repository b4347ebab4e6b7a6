"""Jobs: heavy work on a site's data, queued by a request and run by the hit writer.

Changing a site's time zone re-dates every visit and hit of the site and rebuilds its
summaries (:func:`~.rebuild.change_timezone`): seconds per million hits, and on SQLite the
database's write lock all along, which the hit writer needs. So the settings page only saves the
zone and queues a ``rebuild`` job (:func:`enqueue_rebuild`), and the hit writer — the store's
thread, in the writer process or in the server (:class:`tracking.ingest.store.Store`) — calls
:func:`run_due` between batches, when idle and at least every ``POLL_SECONDS``: a job never
races that process's hit writes, and the beacon keeps accepting hits meanwhile (they wait in
its buffer). ``tracking-admin rebuild`` runs one at once (:func:`rebuild_now`).

The rules:

* **One pending job per site.** A change while a job waits replaces it (its time zone, and a
  fresh count of attempts): two quick changes rebuild once. A change while one runs queues
  another, which runs after it.
* **The site's time zone wins.** A rebuild re-dates the rows in the time zone the site has when
  the job runs; ``payload`` records the zone the change asked for. Every change queues a job
  after saving the zone, so the last job to run always leaves the rows in the site's zone,
  whatever the order in which processes ran the jobs before it.
* **Claiming is atomic across processes**: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, on
  SQLite under ``BEGIN IMMEDIATE`` (the database's write lock, as the writer takes for its
  batches). A claimed job turns ``running`` (``started_at``, ``attempts`` + 1) in a short
  transaction of its own; the work then runs in a second one, which marks it ``done`` in the
  same commit as the rebuilt rows.
* **Failures are retried a bounded number of times.** A failed attempt records its error (one
  line, shown to the site's owner) and the job waits ``RETRY_SECONDS`` before the next one;
  after ``MAX_ATTEMPTS`` it is ``failed`` for good, the owner is told, and saving the site's
  settings again (or ``tracking-admin rebuild``) starts afresh.
* **A writer that dies mid-job loses it to another.** The work holds the job's row lock on
  PostgreSQL (which claimers skip) and the write lock on SQLite (under which claimers look), so
  a job a claimer finds ``running`` for more than ``LEASE_SECONDS`` has lost its writer (a
  crash, the OOM killer, a power cut): it is claimed again, as one more attempt.
* While a site has a job waiting or running, its pages say so (:func:`latest`), and its numbers
  are the old ones: the rows keep the days of the previous time zone until the job is done.

A second kind, ``goals`` (:func:`enqueue_goals`), recounts the summary rows of a site's goals
(:func:`~.goals.rebuild_goals`) after a goal was added or its rules changed, by the same rules
(one pending per site, claimed atomically, retried, taken over after the lease). Its pages say
nothing of it: until it is done the goals' numbers come from the raw rows, exact and slower.

A third, ``segments``, recounts every summary row of a site in place (:func:`~.rebuild.rebuild`,
no re-dating): the upgrade that added the segments' summaries queued one for each site that had
data (migration ``0021``). Its pages say nothing of it either: until it is done the site's
filters read the raw rows (``Site.segmented``).

A fourth, ``values``, chooses the site's common values of the dimensions with many values and
counts the rows of the new ones (:func:`~.segments.choose_values`). The writer queues one for
each site when the day changes (:func:`queue_values`), unless one waits or runs; the upgrade
that added them queued each site's first. Until a value is counted, a filter by it reads the
raw rows.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, literal, or_, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..models import Job, Site
from ..models.types import utcnow
from .goals import rebuild_goals
from .rebuild import change_timezone, rebuild
from .segments import choose_values

log = logging.getLogger(__name__)

REBUILD = "rebuild"
GOALS = "goals"
SEGMENTS = "segments"
VALUES = "values"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
#: Attempts at a job before it is failed for good.
MAX_ATTEMPTS = 3
#: The wait after the 1st, 2nd... failed attempt before the next one.
RETRY_SECONDS = (60, 300)
#: A job ``running`` this long without its writer is claimed again (see the module's docstring).
LEASE_SECONDS = 60
#: The writer looks for due jobs at least this often.
POLL_SECONDS = 5.0
#: The longest error text kept for the owner.
MAX_ERROR = 500


def enqueue_rebuild(session, site_id: int, timezone: str, *, now: datetime | None = None) -> Job:
    """Queue a rebuild of the site's data in ``timezone``, in ``session``'s transaction: the
    site's pending job, if it has one, becomes this one."""
    now = now or utcnow()
    job = session.scalars(
        select(Job)
        .where(Job.site_id == site_id, Job.kind == REBUILD, Job.state == PENDING)
        .order_by(Job.id)
        .limit(1)
        .with_for_update()
    ).first()
    if job is None:
        job = Job(site_id=site_id, kind=REBUILD, state=PENDING, attempts=0)
        session.add(job)
    job.payload = timezone
    job.created_at = now
    job.attempts = 0
    job.started_at = job.finished_at = job.error = None
    session.flush()
    return job


def enqueue_goals(session, site_id: int, *, now: datetime | None = None) -> Job:
    """Queue a recount of the site's goal rows, in ``session``'s transaction, unless one waits."""
    job = session.scalars(
        select(Job).where(Job.site_id == site_id, Job.kind == GOALS, Job.state == PENDING).order_by(Job.id).limit(1)
    ).first()
    if job is None:
        job = Job(site_id=site_id, kind=GOALS, payload="", state=PENDING, attempts=0, created_at=now or utcnow())
        session.add(job)
        session.flush()
    return job


def queue_values(session_factory, now: datetime) -> int | None:
    """Queue a ``values`` job for every site whose common values were not chosen today (UTC),
    unless it has one waiting or running; returns how many were queued. Never raises (as
    :func:`run_due`): a database that cannot be reached is logged (``None``), and the writer
    asks again."""
    waiting = select(Job.id).where(Job.site_id == Site.id, Job.kind == VALUES, Job.state.in_((PENDING, RUNNING)))
    due = select(Site.id, literal(VALUES), literal(""), literal(PENDING), literal(now), literal(0)).where(
        or_(Site.values_chosen_on.is_(None), Site.values_chosen_on < now.date()), ~waiting.exists()
    )
    columns = ("site_id", "kind", "payload", "state", "created_at", "attempts")
    try:
        with session_factory() as session, session.begin():
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            return len(session.execute(insert(Job).from_select(columns, due).returning(Job.id)).all())
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        log.warning("could not queue the values jobs (%s)", exc.__class__.__name__)
        return None


def latest(session, site_id: int) -> Job | None:
    """The site's latest rebuild, unless it is done: what the site's pages tell the owner (a
    rebuild waiting or running, or one that failed)."""
    job = session.scalars(
        select(Job).where(Job.site_id == site_id, Job.kind == REBUILD).order_by(Job.id.desc()).limit(1)
    ).first()
    return None if job is None or job.state == DONE else job


def retry_at(job: Job) -> datetime | None:
    """When a pending job whose last attempt failed is tried again (naive UTC)."""
    if job.state != PENDING or not job.attempts or job.finished_at is None:
        return None
    return job.finished_at + timedelta(seconds=RETRY_SECONDS[min(job.attempts, len(RETRY_SECONDS)) - 1])


@dataclass(frozen=True)
class _Claim:
    id: int
    site_id: int
    started_at: datetime
    attempts: int


def run_due(session_factory, *, clock=utcnow, limit: int = 1) -> int:
    """Run up to ``limit`` due jobs, one after the other; returns how many ran (done or failed).

    Never raises: a job's failure is recorded on the job, and a database that cannot be reached
    is logged and tried again at the next call."""
    ran = 0
    while ran < limit:
        try:
            claim = _claim(session_factory, clock())
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            log.warning("could not look for jobs (%s)", exc.__class__.__name__)
            break
        if claim is None:
            break
        _run(session_factory, claim, clock)
        ran += 1
    return ran


def _due(now: datetime):
    """Jobs to run now: pending ones (after their wait, when an attempt failed), and running
    ones whose writer has been gone longer than the lease."""
    waited = (
        and_(Job.attempts == n + 1, Job.finished_at <= now - timedelta(seconds=seconds))
        for n, seconds in enumerate(RETRY_SECONDS)
    )
    return or_(
        and_(Job.state == PENDING, or_(Job.attempts == 0, *waited)),
        and_(Job.state == RUNNING, Job.started_at < now - timedelta(seconds=LEASE_SECONDS)),
    )


def _claim(session_factory, now: datetime) -> _Claim | None:
    """Take the oldest due job (see the module's docstring), or ``None``."""
    with session_factory() as session:
        # A plain look first: the write lock is taken only when there is a job to claim.
        if session.scalar(select(Job.id).where(_due(now)).limit(1)) is None:
            return None
    with session_factory() as session, session.begin():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        while True:
            job = session.scalars(
                select(Job).where(_due(now)).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
            ).first()
            if job is None:
                return None
            if job.attempts >= MAX_ATTEMPTS:  # abandoned on its last attempt
                log.error("job %d (%s of site %d) failed: its writer stopped while running it", job.id, job.kind, job.site_id)
                job.state, job.finished_at = FAILED, now
                job.error = "The writer stopped while running it."
                session.flush()
                continue
            job.state, job.started_at, job.attempts = RUNNING, now, job.attempts + 1
            return _Claim(job.id, job.site_id, now, job.attempts)


def _run(session_factory, claim: _Claim, clock) -> None:
    started = clock()
    try:
        with session_factory() as session, session.begin():
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            job = session.scalars(select(Job).where(Job.id == claim.id).with_for_update()).first()
            if job is None or job.state != RUNNING or job.started_at != claim.started_at:
                return  # its site was deleted, or another writer took it after the lease ran out
            site = session.get(Site, job.site_id)
            kind = job.kind
            if kind == GOALS:
                rebuild_goals(session, site.id)
            elif kind == SEGMENTS:
                rebuild(session, site.id)
            elif kind == VALUES:
                choose_values(session, site.id, clock().date())
            else:
                change_timezone(session, site.id, site.timezone)
            job.state, job.finished_at, job.error = DONE, clock(), None
    except Exception as exc:  # a job's failure must never stop the writer
        log.exception("job %d (of site %d), attempt %d, failed", claim.id, claim.site_id, claim.attempts)
        _failed(session_factory, claim, describe(exc), clock())
        return
    done = {GOALS: "goals recounted", SEGMENTS: "summaries recounted", VALUES: "common values chosen"}.get(
        kind, "rebuilt"
    )
    log.info("job %d: %s of site %d in %.1f s", claim.id, done, claim.site_id, (clock() - started).total_seconds())


def _failed(session_factory, claim: _Claim, error: str, now: datetime) -> None:
    """Record a failed attempt: pending again (after its wait), or failed for good."""
    state = FAILED if claim.attempts >= MAX_ATTEMPTS else PENDING
    try:
        with session_factory() as session, session.begin():
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            session.execute(
                update(Job)
                .where(Job.id == claim.id, Job.state == RUNNING, Job.started_at == claim.started_at)
                .values(state=state, finished_at=now, error=error)
            )
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        # Left running: it is claimed again once its lease runs out.
        log.warning("could not record the failure of job %d (%s)", claim.id, exc.__class__.__name__)


def describe(exc: BaseException) -> str:
    """One line for the owner: the error's kind and message (a database error's own, without
    the statement)."""
    error = getattr(exc, "orig", None) or exc
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text[:MAX_ERROR]


def rebuild_now(session, site: Site, *, clock=utcnow) -> int:
    """Re-date the site's rows in its time zone and rebuild its summaries, in ``session``'s
    transaction, recorded as a job that is done; the site's pending jobs are done too (this did
    their work). Returns how many were pending."""
    started = clock()
    change_timezone(session, site.id, site.timezone)
    finished = clock()
    cleared = session.execute(
        update(Job)
        .where(Job.site_id == site.id, Job.state == PENDING)
        .values(state=DONE, finished_at=finished, error=None)
    ).rowcount
    session.add(Job(site_id=site.id, kind=REBUILD, payload=site.timezone, state=DONE, created_at=started,
                    started_at=started, finished_at=finished, attempts=1))
    session.flush()
    return cleared
