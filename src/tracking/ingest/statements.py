"""Batch statements of positional rows, written once per dialect: the hit writer's inserts and
updates (:mod:`.store`, :mod:`.visits`).

SQLAlchemy's own executemany (a list of dictionaries through ``connection.execute``) compiles and
converts the parameters of every row in Python; :class:`Statement` converts only the columns whose
type needs it, with the bind processors SQLAlchemy itself would use, and hands the driver plain
tuples (on PostgreSQL an INSERT is a ``COPY``, an UPDATE one statement over arrays). What it
writes is what SQLAlchemy writes, value for value (``tests/functional/test_statements.py``); what
it saves is measured in BENCHMARKS.md ("The hit writer's statements").
"""

from datetime import date, datetime
from operator import methodcaller

from ..models.types import driver_cursor, execute_binary, postgresql_array


class Statement:
    """An INSERT (``key`` is ``None``) or UPDATE (``SET columns WHERE key``) of positional rows.

    ``executemany(connection, rows)``: each row holds the values of ``columns`` in order (an
    UPDATE's then ends with its ``key``). Through the driver's executemany on SQLite; on
    PostgreSQL an INSERT is a ``COPY`` and an UPDATE one statement over arrays.
    """

    def __init__(self, table, columns: tuple[str, ...], key: str | None = None) -> None:
        self.table = table
        self.columns = columns  # an UPDATE sets these, in this order, where ``key`` is the last value
        self.key = key
        self._compiled: dict = {}

    def _for(self, dialect):
        key = (type(dialect), dialect.paramstyle)  # not the dialect: each engine has its own
        compiled = self._compiled.get(key)
        if compiled is None:
            quote = dialect.identifier_preparer.quote
            marker = "?" if dialect.paramstyle == "qmark" else "%s"
            table = quote(self.table.name)
            if self.key is None:
                names = ", ".join(quote(column) for column in self.columns)
                sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join([marker] * len(self.columns))})"
                typed = self.columns
            else:
                assignments = ", ".join(f"{quote(column)} = {marker}" for column in self.columns)
                sql = f"UPDATE {table} SET {assignments} WHERE {quote(self.key)} = {marker}"
                typed = (*self.columns, self.key)
            processors = []
            for i, column in enumerate(typed):
                column_type = self.table.c[column].type
                processor = column_type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors.append((i, _faster(processor, column_type)))
            compiled = self._compiled[key] = (sql, tuple(processors))
        return compiled

    def executemany(self, connection, rows: list[tuple]) -> None:
        if not rows:
            return
        sql, processors = self._for(connection.dialect)
        if processors:
            converted = []
            for row in rows:
                values = list(row)
                for i, processor in processors:
                    value = values[i]
                    if value is not None:
                        values[i] = processor(value)
                converted.append(tuple(values))
            rows = converted
        if connection.dialect.name != "postgresql":
            connection.exec_driver_sql(sql, rows)
        elif self.key is None:
            self._copy(connection, rows)
        else:
            self._update_from_arrays(connection, rows)

    def _update_from_arrays(self, connection, rows) -> None:
        """Update with one statement whose parameters are one array per column (``UPDATE …
        FROM unnest``): psycopg's executemany spends Python on every row."""
        dialect = connection.dialect
        sql = self._compiled.get("unnest")
        if sql is None:
            quote = dialect.identifier_preparer.quote
            names = (*self.columns, self.key)
            arrays = ", ".join(f"CAST(%b AS {postgresql_array(self.table.c[name])})" for name in names)
            assignments = ", ".join(f"{quote(column)} = u.{quote(column)}" for column in self.columns)
            table = quote(self.table.name)
            sql = self._compiled["unnest"] = (
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS u({', '.join(quote(n) for n in names)})"
                f" WHERE {table}.{quote(self.key)} = u.{quote(self.key)}"
            )
        execute_binary(connection, sql, tuple(list(column) for column in zip(*rows, strict=True)))

    def _copy(self, connection, rows) -> None:
        """Insert with ``COPY``: psycopg formats the rows in C, where its executemany spends
        Python on every row (the writer's largest cost on PostgreSQL). Driver errors are raised
        as SQLAlchemy's, as for any other statement."""
        quote = connection.dialect.identifier_preparer.quote
        sql = f"COPY {quote(self.table.name)} ({', '.join(quote(column) for column in self.columns)}) FROM STDIN"
        with driver_cursor(connection, sql) as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


#: C implementations of what SQLite's timestamp and date bind processors write, for values of
#: each type, used when they write the same (SQLAlchemy's default formats: ``2026-03-01 04:05:06.000007``).
_ISO_FORMATS = {
    datetime: (methodcaller("isoformat", " ", "microseconds"), (datetime(2026, 3, 1, 4, 5, 6, 7), datetime(999, 1, 2))),
    date: (date.isoformat, (date(2026, 3, 1), date(999, 1, 2))),
}


def _faster(processor, column_type):
    """``processor``, or a C function that converts the column's values the same way."""
    try:
        faster, samples = _ISO_FORMATS[column_type.python_type]
    except (KeyError, NotImplementedError):
        return processor
    return faster if all(faster(sample) == processor(sample) for sample in samples) else processor
