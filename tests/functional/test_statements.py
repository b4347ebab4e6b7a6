"""The hit writer's own statements (``tracking.ingest.statements``) store exactly what SQLAlchemy's
executemany stores, value for value and type for type, for every column they write: if SQLAlchemy
or the driver changes how a type is stored, these fail."""

import itertools
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, delete, update

from tracking.ingest.statements import Statement
from tracking.ingest.store import INSERT_HITS
from tracking.ingest.visits import INSERT_VISITS, UPDATE_VISITS
from tracking.models import Hit, Visit

#: Values of each Python type that could be stored differently: extremes, precision, text that
#: needs escaping (COPY's tab, newline and backslash, quotes, non-ASCII, a NUL-free control).
SAMPLES = {
    datetime: [datetime(2026, 3, 1, 4, 5, 6, 7), datetime(2026, 12, 31, 23, 59, 59), datetime(1970, 1, 1),
               datetime(9999, 12, 30, 0, 0, 0, 999999)],
    date: [date(2026, 3, 1), date(1970, 1, 1), date(9999, 12, 30)],
    bool: [True, False],
    int: [0, 1, -1, 2**63 - 1, -(2**63), 32767, -32768, 123456789],
    float: [0.0, -33.8688, 151.2093, 1e-7, 1 / 3, None],
    str: ["", "/", "tab\there", "new\nline", "back\\slash", "quote'\"", "ünïcødé ✓ 日本", "\x1f", "x" * 64],
    dict: [{"plan": "pro", "n": "1"}, {"ü": "✓", "q": "\"'\\"}, {}, None],
    Decimal: [Decimal("0"), Decimal("29.9"), Decimal("999999999999.9999"), None],
}
#: Columns whose values have a narrower range than their Python type.
NARROW = {
    "width": [0, 1, 32767, None],
    "pageviews": [0, 1, 2**31 - 1],
    "events": [0, 7, 2**31 - 1],
    "duration": [0, 1800, 2**31 - 1],
    "country": ["", "DE", "ÿÿ"],
    "source": ["direct", "search", "x\ty"],
    "device": ["desktop", "bot"],
    "browser_version": ["", "131", "a\\b"],
    "postal": ["", "75001", "\n"],
    "bot": ["", "crawler"],
    "event": ["pageview", "Signup ✓"],
    "ip": [None, "203.0.113.0", "2001:db8::"],
    "visit_id": [None, 1, 2**63 - 1],
    # The hit writer carries an amount as its text (as a spool file does).
    "revenue_amount": [None, "0", "29.9", "999999999999.9999", "0.0001"],
    "revenue_currency": [None, "EUR", "JPY"],
}


def sample_rows(table, columns, fixed, count=12):
    """``count`` rows for ``columns``, cycling through each column's samples."""
    cycles = []
    for name in columns:
        if name in fixed:
            value = fixed[name]
            cycles.append(value if isinstance(value, itertools.count) else itertools.repeat(value))
            continue
        values = NARROW.get(name)
        if values is None:
            python_type = table.c[name].type.python_type
            values = SAMPLES[python_type]
            if table.c[name].nullable is False:
                values = [value for value in values if value is not None]
        cycles.append(itertools.cycle(values))
    return [tuple(next(cycle) for cycle in cycles) for _ in range(count)]


def stored(connection, table, columns, site_id):
    """The rows of ``site_id`` as the database holds them: on SQLite each value and its storage
    class; on PostgreSQL each value as text."""
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "sqlite":
        selected = ", ".join(f"{quote(c)}, typeof({quote(c)})" for c in columns)
        marker = "?"
    else:
        selected = ", ".join(f"CAST({quote(c)} AS text)" for c in columns)
        marker = "%s"
    sql = f"SELECT {selected} FROM {quote(table.name)} WHERE site_id = {marker} ORDER BY id"
    return [tuple(row) for row in connection.exec_driver_sql(sql, (site_id,)).all()]


def sqlalchemy_insert(connection, table, columns, rows):
    connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


@pytest.mark.parametrize(("statement", "model"), [(INSERT_HITS, Hit), (INSERT_VISITS, Visit)], ids=["hits", "visits"])
def test_an_insert_stores_what_sqlalchemy_stores(connection, site, statement, model):
    table = model.__table__
    rows = sample_rows(table, statement.columns, {"site_id": site.id, "id": itertools.count(10**15)})
    assert {table.c[name].type.python_type for name in statement.columns} <= set(SAMPLES)
    statement.executemany(connection, rows)
    ours = stored(connection, table, statement.columns, site.id)
    connection.execute(delete(table).where(table.c.site_id == site.id))
    sqlalchemy_insert(connection, table, statement.columns, rows)
    theirs = stored(connection, table, statement.columns, site.id)
    assert len(ours) == len(rows) and ours == theirs


def test_an_update_stores_what_sqlalchemy_stores(connection, site):
    table = Visit.__table__
    inserted = sample_rows(table, INSERT_VISITS.columns, {"site_id": site.id, "id": itertools.count(10**15)}, count=8)
    changes = sample_rows(table, UPDATE_VISITS.columns, {}, count=9)[1:]  # not the values inserted
    results = []
    for write in ("ours", "theirs"):
        connection.execute(delete(table).where(table.c.site_id == site.id))
        INSERT_VISITS.executemany(connection, inserted)
        before = stored(connection, table, INSERT_VISITS.columns[1:], site.id)
        ids = [row[0] for row in connection.exec_driver_sql(
            f"SELECT id FROM visits WHERE site_id = {'?' if connection.dialect.name == 'sqlite' else '%s'} ORDER BY id",
            (site.id,),
        )]
        rows = [(*change, id) for change, id in zip(changes, ids, strict=True)]
        if write == "ours":
            UPDATE_VISITS.executemany(connection, rows)
        else:
            statement = update(table).where(table.c.id == bindparam("key")).values(
                {name: bindparam(name) for name in UPDATE_VISITS.columns}
            )
            connection.execute(statement, [{**dict(zip(UPDATE_VISITS.columns, row[:-1], strict=True)), "key": row[-1]} for row in rows])
        results.append(stored(connection, table, INSERT_VISITS.columns[1:], site.id))
    for ours, theirs in zip(*results, strict=True):
        assert ours == theirs
    assert results[0] != before  # the rows did change


def test_a_statement_is_written_once_per_dialect(connection):
    statement = Statement(Hit.__table__, ("site_id", "path"))
    first = statement._for(connection.dialect)
    assert statement._for(connection.dialect) is first
