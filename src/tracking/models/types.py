"""Column types and helpers shared by the model modules."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer

#: A 64-bit primary key that is still SQLite's auto-incrementing ROWID alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
