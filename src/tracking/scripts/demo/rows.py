"""Rows formatted for the database (:class:`CopyRows` for PostgreSQL's ``COPY``,
:class:`ParameterRows` for SQLite's ``executemany``), and the :class:`Loader` that loads them
on a thread of its own while the next batch is made."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .traffic import LANDINGS, OUTBOUND_PROPS, PAGES, PLACES, SIGNUP_PROPS

#: Columns of ``hits`` in the order rows are written, in groups: what varies from hit to hit;
#: the event (name and properties); the page (shared by a page view and its events); the
#: visit (its day, visitor, id and address); the person's place and software (shared by many
#: people). ``id`` is left to the database.
HIT_OWN_COLUMNS = ("ts", "is_first")
EVENT_COLUMNS = ("event", "props")
PAGE_COLUMNS = ("path", "query", "referrer", "ref_host", "source", "utm_source", "utm_medium", "utm_campaign",
                "utm_term", "utm_content")
PERSON_COLUMNS = ("day", "visitor", "visit_id", "ip")
PROFILE_COLUMNS = ("site_id", "host", "country", "region", "city", "postal", "latitude", "longitude", "browser",
                   "browser_version", "os", "device", "width", "bot")
HIT_COLUMNS = (*HIT_OWN_COLUMNS, *EVENT_COLUMNS, *PAGE_COLUMNS, *PERSON_COLUMNS, *PROFILE_COLUMNS)
#: Columns of ``visits``: the visit's own; its arrival; its person's place and software.
VISIT_OWN_COLUMNS = ("id", "visitor", "started_at", "ended_at", "day", "is_first", "entry_path", "exit_path",
                       "pageviews", "events", "duration", "pages", "event_names")
ARRIVAL_COLUMNS = ("source", "ref_host", "utm_source", "utm_medium", "utm_campaign")
VISIT_PROFILE_COLUMNS = ("site_id", "country", "region", "city", "browser", "os", "device")
VISIT_COLUMNS = (*VISIT_OWN_COLUMNS, *ARRIVAL_COLUMNS, *VISIT_PROFILE_COLUMNS)
NULL = "\\N"


class Rows(ABC):
    """Rows formatted for one way of loading them, buffered until taken (:meth:`take`) and loaded.

    Groups of columns that many rows share are formatted once by :meth:`part` (the generator
    keeps them), so the work per hit is formatting its own few values. Timestamps are text:
    a UTC date and :attr:`clock` ``[second of the day]``, the way the database stores them.
    """

    #: " HH:MM:SS" (and fraction) for each second of a day.
    clock: list[str]

    def __init__(self) -> None:
        self.hits: list[Any] = []
        self.visits: list[Any] = []

    def take(self) -> tuple[list[Any], list[Any]]:
        """The buffered (visits, hits), leaving the buffers empty."""
        batch = (self.visits, self.hits)
        self.visits, self.hits = [], []
        return batch

    @abstractmethod
    def part(self, values: tuple) -> Any:
        """Consecutive columns, formatted."""

    @abstractmethod
    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: Any) -> Any:
        """The columns all hits of a visit share: :data:`PERSON_COLUMNS` and a profile part."""

    @abstractmethod
    def tail(self, page: Any, person: Any) -> Any:
        """The columns a page view shares with the events sent from its page."""

    @abstractmethod
    def hit(self, ts: str, first: bool, event: Any, tail: Any) -> None:
        """Buffer a hit: its timestamp, ``is_first``, event part and tail."""

    @abstractmethod
    def visit(self, own: tuple, arrival: Any, profile: Any) -> None:
        """Buffer a visit: its :data:`VISIT_OWN_COLUMNS` (timestamps as text), arrival and profile parts."""

    @abstractmethod
    def load(self, connection: Any, visits: list[Any], hits: list[Any]) -> None:
        """Write taken rows through ``connection`` (the driver's, in the caller's transaction)."""


def _clock(fraction: str) -> list[str]:
    return [f" {hour:02d}:{minute:02d}:{second:02d}{fraction}" for hour in range(24) for minute in range(60) for second in range(60)]


class CopyRows(Rows):
    """PostgreSQL: lines of ``COPY ... FROM STDIN`` text format, sent one ``COPY`` per table.

    Text format needs escaping only for backslashes, tabs and line breaks, which no generated
    value contains (:func:`check_copy_safe` checks the vocabulary once).
    """

    HITS = f"COPY hits ({', '.join(HIT_COLUMNS)}) FROM STDIN"
    VISITS = f"COPY visits ({', '.join(VISIT_COLUMNS)}) FROM STDIN"
    clock = _clock("")

    @staticmethod
    def _text(value: object) -> str:
        if value is None:
            return NULL
        if value is True:
            return "t"
        if value is False:
            return "f"
        return str(value)

    def part(self, values: tuple) -> str:
        return "\t".join(map(self._text, values))

    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: str) -> str:
        return f"{day}\t{visitor}\t{NULL if visit_id is None else visit_id}\t{ip}\t{profile}\n"

    def tail(self, page: str, person: str) -> str:
        return f"{page}\t{person}"

    def hit(self, ts: str, first: bool, event: str, tail: str) -> None:
        self.hits.append(f"{ts}\t{'t' if first else 'f'}\t{event}\t{tail}")

    def visit(self, own: tuple, arrival: str, profile: str) -> None:
        id, visitor, started, ended, day, first, entry, exit, pageviews, events, duration, pages, names = own
        self.visits.append(
            f"{id}\t{visitor}\t{started}\t{ended}\t{day}\t{'t' if first else 'f'}\t{entry}\t{exit}\t{pageviews}\t"
            f"{events}\t{duration}\t{pages}\t{names}\t{arrival}\t{profile}\n"
        )

    def load(self, connection: Any, visits: list[str], hits: list[str]) -> None:
        with connection.cursor() as cursor:
            for statement, lines in ((self.VISITS, visits), (self.HITS, hits)):
                if lines:
                    with cursor.copy(statement) as copy:
                        copy.write("".join(lines).encode())


class ParameterRows(Rows):
    """SQLite: parameter tuples for ``executemany``, values stored as SQLAlchemy stores them."""

    HITS = f"INSERT INTO hits ({', '.join(HIT_COLUMNS)}) VALUES ({', '.join('?' * len(HIT_COLUMNS))})"
    VISITS = f"INSERT INTO visits ({', '.join(VISIT_COLUMNS)}) VALUES ({', '.join('?' * len(VISIT_COLUMNS))})"
    clock = _clock(".000000")

    def part(self, values: tuple) -> tuple:
        return values

    def person(self, day: str, visitor: int, visit_id: int | None, ip: str, profile: tuple) -> tuple:
        return (day, visitor, visit_id, ip, *profile)

    def tail(self, page: tuple, person: tuple) -> tuple:
        return page + person

    def hit(self, ts: str, first: bool, event: tuple, tail: tuple) -> None:
        self.hits.append((ts, first, *event, *tail))

    def visit(self, own: tuple, arrival: tuple, profile: tuple) -> None:
        self.visits.append(own + arrival + profile)

    def load(self, connection: Any, visits: list[tuple], hits: list[tuple]) -> None:
        if visits:
            connection.executemany(self.VISITS, visits)
        if hits:
            connection.executemany(self.HITS, hits)


def check_copy_safe() -> None:
    """Every text the generator can write is safe in ``COPY`` text format as it is."""
    texts = [*PAGES, *OUTBOUND_PROPS, *SIGNUP_PROPS.table, *(value for landing in LANDINGS for value in landing[:4])]
    texts += [str(value) for place in PLACES.table for value in vars(place).values()]
    if any(char in value for value in texts for char in "\\\t\n\r"):
        raise ValueError("a demo value needs COPY escaping")


class Loader:
    """Loads batches of rows on a thread of its own while the next batch is generated.

    Generating is Python's work on one core, loading the database's on the other (and socket
    or file I/O, during which the drivers release the GIL): on two cores the two overlap
    instead of taking turns. One batch loads while one is generated, so at most two are in
    memory.
    """

    def __init__(self, rows: Rows, connection: Any, progress: Callable[[int], None] | None) -> None:
        self.rows = rows
        self.connection = connection
        self.progress = progress
        self.loaded = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-demo")
        self._pending: Future[None] | None = None
        self._pending_hits = 0

    def send(self) -> None:
        """Load the rows buffered so far (after the batch still loading, if any)."""
        visits, hits = self.rows.take()
        self.wait()
        self._pending = self._executor.submit(self.rows.load, self.connection, visits, hits)
        self._pending_hits = len(hits)

    def wait(self) -> None:
        """Wait for the batch still loading; its errors are raised here."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        pending.result()
        self.loaded += self._pending_hits
        if self.progress:
            self.progress(self.loaded)

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True)
