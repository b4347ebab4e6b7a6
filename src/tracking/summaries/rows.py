"""Writing summary rows: the one statement each table's rows of a batch take, on either database.

:func:`upsert` inserts rows and, where a row of the same key is there, adds the new counts to
its own (``add``) or replaces its values. On PostgreSQL the rows go as one array per column,
unnested by the server (the driver adapts a few lists, in the binary format, rather than run an
executemany of thousands of rows in Python); on SQLite as one parameter set each. Callers give
the rows in key order, so that writers in several processes lock shared rows in the same order.
"""

import functools
from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite

from ..models.types import execute_binary, postgresql_array


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
