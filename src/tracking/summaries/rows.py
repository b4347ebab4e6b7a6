"""Writing summary rows: the one statement each table's rows of a batch take, on either database.

:func:`select_keys` reads the rows of some keys back, in one statement on PostgreSQL (the keys as
arrays, joined), by each key column's values on SQLite.

:func:`upsert` inserts rows and, where a row of the same key is there, adds the new counts to
its own (``add``) or replaces its values. On PostgreSQL the rows go as one array per column,
unnested by the server (the driver adapts a few lists, in the binary format, rather than run an
executemany of thousands of rows in Python); on SQLite as one parameter set each. Callers give
the rows in key order, so that writers in several processes lock shared rows in the same order.
"""

import functools
from collections.abc import Sequence

from sqlalchemy import Table, select
from sqlalchemy.dialects import sqlite

from ..models.types import driver_cursor, execute_binary, postgresql_array


def upsert(connection, table: Table, keys: tuple[str, ...], fields: tuple[str, ...], rows: Sequence[tuple], *,
           add: bool = True) -> None:
    """Insert ``rows`` (each its ``keys``' values, then its ``fields``'), adding their fields to
    those of the rows already there (``add``) or putting them in their place."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        columns = tuple(list(column) for column in zip(*rows, strict=True))
        execute_binary(connection, _unnested(table, keys, fields, add), columns)
    else:
        names = (*keys, *fields)
        connection.execute(_sqlite(table, keys, fields, add), [dict(zip(names, row, strict=True)) for row in rows])


@functools.cache
def _unnested(table: Table, keys: tuple[str, ...], fields: tuple[str, ...], add: bool) -> str:
    """PostgreSQL: ``INSERT … SELECT unnest`` of one array per column (``%b``: binary)."""
    names = (*keys, *fields)
    arrays = ", ".join(f"CAST(%b AS {postgresql_array(table.c[name])})" for name in names)
    updates = ", ".join(
        f"{field} = {table.name}.{field} + excluded.{field}" if add else f"{field} = excluded.{field}" for field in fields
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


@functools.cache
def _sqlite(table: Table, keys: tuple[str, ...], fields: tuple[str, ...], add: bool):
    """SQLite: the same, one parameter set a row."""
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={field: table.c[field] + statement.excluded[field] if add else statement.excluded[field] for field in fields},
    )


def select_keys(connection, table: Table, keys: tuple[str, ...], columns: tuple[str, ...],
                wanted: Sequence[tuple]) -> list[tuple]:
    """The ``columns`` of the rows of ``table`` whose ``keys`` are among ``wanted`` (tuples of
    the keys' values). PostgreSQL joins the keys given as arrays (a list of thousands of key
    tuples is planned as that many index scans or'ed together: 20 times slower); SQLite reads
    them by each key column's values."""
    if not wanted:
        return []
    if connection.dialect.name == "postgresql":
        sql = _joined(table, keys, columns)
        with driver_cursor(connection, sql) as cursor:
            cursor.execute(sql, tuple(list(column) for column in zip(*wanted, strict=True)))
            return cursor.fetchall()
    # SQLite: each key column among its values (the index is searched for each combination:
    # few, the first columns having few values), then the rows of the keys wanted kept.
    wanted_set = set(wanted)
    leading = [sorted({row[i] for row in wanted}) for i in range(len(keys) - 1)]
    last = sorted({row[-1] for row in wanted})
    width = len(keys)
    statement = select(*(table.c[name] for name in (*keys, *columns))).where(
        *(table.c[name].in_(values) for name, values in zip(keys, leading, strict=False))
    )
    found: list[tuple] = []
    for start in range(0, len(last), 500):
        for row in connection.execute(statement.where(table.c[keys[-1]].in_(last[start:start + 500]))):
            if tuple(row[:width]) in wanted_set:
                found.append(tuple(row[width:]))
    return found


@functools.cache
def _joined(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> str:
    arrays = ", ".join(f"CAST(%b AS {postgresql_array(table.c[name])})" for name in keys)
    on = " AND ".join(f"t.{name} = k.{name}" for name in keys)
    return (f"SELECT {', '.join(f't.{name}' for name in columns)} FROM {table.name} AS t"
            f" JOIN unnest({arrays}) AS k({', '.join(keys)}) ON {on}")
