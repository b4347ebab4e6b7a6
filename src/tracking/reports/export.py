"""CSV exports: a panel's full list, the raw hits of a period, its visits.

Each export is read from a query value (:class:`~.query.StatsQuery`): a panel's rows through
the read API (:func:`~.api.breakdown`, with every metric of its details), the hits and visits
by the statements here, streamed in chunks on a session of their own (the response is sent
after the request's transaction has ended), each row after its local time. :func:`csv_lines`
writes them one line at a time, neutralising cells a spreadsheet would run as a formula.
"""

import csv
import io
from collections.abc import Iterator
from urllib.parse import urlencode

from sqlalchemy import Select, and_, case, select

from ..models import Hit
from ..summaries.dimensions import LABELS, split_prop
from ..timezones import to_local
from .query import DETAILS, StatsQuery
from .raw_runner import matching_visits
from .results import Panel

#: The columns of the hits export: the hit's local time, then columns of ``hits``.
HIT_COLUMNS = (
    "local_time", "ts", "visit_id", "event", "host", "path", "query", "referrer", "ref_host", "source", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "country", "region", "city", "as_org", "browser",
    "browser_version", "os", "device", "bot", "props",
)
#: The columns of the visits export: the visit's local start, then columns of ``visits``
#: (``id`` as ``visit_id``, the key of the hits export's column), and whether it bounced.
VISIT_COLUMNS = (
    "local_start", "visit_id", "started_at", "ended_at", "duration", "pageviews", "events", "bounce", "entry_path",
    "exit_path", "source", "ref_host", "utm_source", "utm_medium", "utm_campaign", "country", "region", "city",
    "browser", "os", "device",
)
#: Rows read from the database at a time.
CHUNK = 2000


def hits_export(query: StatsQuery) -> Select:
    """The hits of the period (by their own time), oldest first: every hit, bots' included, or
    with filters the hits of the visits that match them. The :data:`HIT_COLUMNS` after the
    first."""
    start, end = query.period.bounds(query.site.timezone)
    h = Hit
    statement = select(*(getattr(h, name) for name in HIT_COLUMNS[1:])).where(
        h.site_id == query.site.id, h.ts >= start, h.ts < end
    )
    if query.filters:
        statement = statement.where(h.visit_id.in_(select(matching_visits(query.site, query.period, query.filters).c.id)))
    return statement.order_by(h.ts, h.id)


def visits_export(query: StatsQuery) -> Select:
    """The visits of the period (by the day they began) that match the filters, oldest first:
    the :data:`VISIT_COLUMNS` after the first."""
    v = matching_visits(query.site, query.period, query.filters)
    bounce = case((and_(v.c.pageviews <= 1, v.c.events == 0), 1), else_=0)
    computed = {"visit_id": v.c.id.label("visit_id"), "bounce": bounce.label("bounce")}
    columns = (computed[name] if name in computed else v.c[name] for name in VISIT_COLUMNS[1:])
    return select(*columns).order_by(v.c.started_at, v.c.id)


def hit_rows(session_factory, query: StatsQuery) -> Iterator[tuple]:
    """The rows of the hits export (:data:`HIT_COLUMNS`), read when iterated."""
    return _stream(session_factory, hits_export(query), "ts", query.site.timezone)


def visit_rows(session_factory, query: StatsQuery) -> Iterator[tuple]:
    """The rows of the visits export (:data:`VISIT_COLUMNS`), read when iterated."""
    return _stream(session_factory, visits_export(query), "started_at", query.site.timezone)


def _stream(session_factory, statement: Select, time_column: str, timezone: str) -> Iterator[tuple]:
    with session_factory() as session:
        for row in session.execute(statement, execution_options={"yield_per": CHUNK}):
            yield (to_local(row._mapping[time_column], timezone).isoformat(), *row)


def panel_header(dim: str) -> tuple[str, ...]:
    """The columns of a panel's export: its value, the metrics of its details, its share."""
    return (LABELS[dim], *DETAILS[dim], "share")


def panel_rows(panel: Panel) -> Iterator[tuple]:
    """A panel's rows under :func:`panel_header`: rates to a tenth of a percent, durations to
    the second, counts as they are, a property as ``event · key · value``."""
    for row in panel.rows:
        yield (
            " · ".join(split_prop(row.value)) if panel.dim == "prop" else row.value,
            *(_number(metric, getattr(row, metric)) for metric in DETAILS[panel.dim]),
            round(row.share, 2),
        )


def _number(name: str, value: float | None) -> float | None:
    if value is None:  # a page without a measurement of its time or depth
        return None
    if name in ("bounce_rate", "scroll_depth"):
        return round(value, 1)
    if name in ("average_duration", "time_on_page"):
        return round(value)
    return value


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = urlencode(value)
    text = str(value)
    if text.startswith(FORMULA_START) and not isinstance(value, (int, float)):
        return "'" + text
    return text


def csv_lines(header, rows) -> Iterator[bytes]:
    """Yield the CSV one line at a time: constant memory whatever the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> bytes:
        writer.writerow([csv_cell(value) for value in values])
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data.encode("utf-8")

    yield line(header)
    for row in rows:
        yield line(row)
