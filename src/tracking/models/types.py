"""Column types and helpers shared by the model modules."""

import re
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

#: A 64-bit primary key that is still SQLite's auto-incrementing ROWID alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is naive UTC.

    Built from the aware time's date and time: ``.replace(tzinfo=None)`` costs three times as
    much (2 µs), and the beacon asks once a hit."""
    now = datetime.now(UTC)
    return datetime.combine(now.date(), now.time())


def postgresql_array(column) -> str:
    """The PostgreSQL array type for a column's values passed as one array parameter (to be
    unnested): its element type without a length, since a cast to ``VARCHAR(n)`` would cut
    longer text silently."""
    return re.sub(r"\(.*\)", "", column.type.compile(dialect=postgresql.dialect())) + "[]"


def execute_binary(connection, sql: str, parameters: tuple) -> None:
    """PostgreSQL: run ``sql``, whose placeholders are ``%b``: its parameters go in the binary
    format. In the text format psycopg quotes each element of an array with a regular
    expression: the larger part of the writer's time in its statements over arrays (a batch's
    visits' update, its summaries' upsert)."""
    with driver_cursor(connection, sql) as cursor:
        cursor.execute(sql, parameters)


@contextmanager
def driver_cursor(connection, sql: str):
    """A cursor of the driver's own, whose errors are raised as SQLAlchemy's, as for any other
    statement (a lost connection invalidated)."""
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
        if invalidated:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error, connection_invalidated=invalidated, dialect=dialect
        ) from error
    finally:
        cursor.close()


class Amount(TypeDecorator):
    """A sum of money, exact: ``NUMERIC(17, 4)`` on PostgreSQL (up to 10^13, four decimals).

    SQLite has no exact decimal type (its ``NUMERIC`` keeps ``29.90`` as a float), so there the
    column holds whole ten-thousandths (``299000``): integers, which it sums exactly. Values go in
    as :class:`~decimal.Decimal` or as their text (``"29.90"``, what a spool file carries) and
    come out as :class:`~decimal.Decimal`, sums included, on both databases."""

    impl = Numeric(17, 4)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return Decimal

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(17, 4, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return int(value.scaleb(AMOUNT_DECIMALS).to_integral_exact())
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-AMOUNT_DECIMALS)
        return Decimal(value)


#: Decimals an :class:`Amount` keeps.
AMOUNT_DECIMALS = 4
