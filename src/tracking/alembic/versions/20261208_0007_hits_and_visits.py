"""hits and visits: one vocabulary for the raw tables

Revision ID: 0007_hits_and_visits
Revises: 0006_user_sessions
Create Date: 2026-12-08 09:00:00.000000

A *hit* is one page view or custom event; a *visit* is a visitor's hits less than 30 minutes
apart. The table of hits was called ``visits`` and the table of visits ``visit_sessions``:

* ``visits`` becomes ``hits``, its ``session_id`` column ``visit_id``;
* ``visit_sessions`` becomes ``visits``;
* every index, primary key, foreign key and (PostgreSQL) sequence of the two tables takes the
  name the models give it now (``pk_hits``, ``fk_hits_site_id_sites``, ``ix_hits_visit_id``,
  ``hits_id_seq``, ``pk_visits``, ``ix_visits_site_id_day``, ``visits_id_seq``...);
* the visits get an index by site and start (``ix_visits_site_id_started_at``), for the visits
  page, which lists them newest first.

Every row and id is kept. The hits' table is renamed first: its old name is the visits' new one
(PostgreSQL index and sequence names share one namespace, so those go first too).

PostgreSQL renames in place (no row is copied: instant whatever the traffic). SQLite cannot
rename a constraint, which it keeps in the table's SQL, so each table is built again under its
new name and its rows copied (``alembic/env.py`` runs migrations with foreign keys off and
checks every reference before committing).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_hits_and_visits"
down_revision = "0006_user_sessions"
branch_labels = None
depends_on = None


#: Per table, old name → new name: the table, its columns, its indexes (with their columns,
#: under their old names), its keys and its sequence.
HITS = {
    "table": ("visits", "hits"),
    "columns": {"session_id": "visit_id"},
    "indexes": {
        "ix_visits_site_id_ts": ("ix_hits_site_id_ts", ["site_id", "ts"]),
        "ix_visits_site_id_visitor": ("ix_hits_site_id_visitor", ["site_id", "visitor"]),
        "ix_visits_session_id": ("ix_hits_visit_id", ["session_id"]),
    },
    "constraints": {"pk_visits": "pk_hits", "fk_visits_site_id_sites": "fk_hits_site_id_sites"},
    "sequence": "hits_id_seq",
}
VISITS = {
    "table": ("visit_sessions", "visits"),
    "columns": {},
    "indexes": {
        f"ix_visit_sessions_{suffix}": (f"ix_visits_{suffix}", columns)
        for suffix, columns in (
            ("site_id_visitor_ended_at", ["site_id", "visitor", "ended_at"]),
            ("site_id_day", ["site_id", "day"]),
            ("site_id_country_day", ["site_id", "country", "day"]),
            ("site_id_ended_at", ["site_id", "ended_at"]),
        )
    },
    "constraints": {"pk_visit_sessions": "pk_visits", "fk_visit_sessions_site_id_sites": "fk_visits_site_id_sites"},
    "sequence": "visits_id_seq",
}
#: The sequences' names before the migration.
OLD_SEQUENCES = {"hits": "visits_id_seq", "visits": "visit_sessions_id_seq"}


def _reverse(names: dict, sequence: str) -> dict:
    """The same renames, undone; ``sequence``: the old name of the table's sequence."""
    columns = names["columns"]
    return {
        "table": names["table"][::-1],
        "columns": {new: old for old, new in columns.items()},
        "indexes": {
            new: (old, [columns.get(column, column) for column in indexed])
            for old, (new, indexed) in names["indexes"].items()
        },
        "constraints": {new: old for old, new in names["constraints"].items()},
        "sequence": sequence,
    }


# -- PostgreSQL: renames in place ----------------------------------------------------------


def _rename_postgresql(names: dict) -> None:
    old, new = names["table"]
    op.rename_table(old, new)
    for column, renamed in names["columns"].items():
        op.alter_column(new, column, new_column_name=renamed)
    for index, (renamed, _) in names["indexes"].items():
        op.execute(f"ALTER INDEX {index} RENAME TO {renamed}")
    for constraint, renamed in names["constraints"].items():
        # A primary key's index is renamed with it.
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {constraint} TO {renamed}")
    # The id column's sequence, whatever it is called; its default names it by its oid, so it
    # follows the rename.
    sequence = op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": new})
    op.execute(f"ALTER SEQUENCE {sequence} RENAME TO {names['sequence']}")


# -- SQLite: each table built again under its new name -------------------------------------


def _hit_columns(visit_column: str) -> list:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_first", sa.Boolean(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        sa.Column(visit_column, sa.BigInteger(), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("query", sa.String(length=512), nullable=False),
        sa.Column("referrer", sa.String(length=1024), nullable=False),
        sa.Column("ref_host", sa.String(length=253), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("utm_source", sa.String(length=128), nullable=False),
        sa.Column("utm_medium", sa.String(length=128), nullable=False),
        sa.Column("utm_campaign", sa.String(length=128), nullable=False),
        sa.Column("utm_term", sa.String(length=128), nullable=False),
        sa.Column("utm_content", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("city", sa.String(length=128), nullable=False),
        sa.Column("postal", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("browser_version", sa.String(length=16), nullable=False),
        sa.Column("os", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=16), nullable=False),
        sa.Column("width", sa.SmallInteger(), nullable=True),
        sa.Column("bot", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("props", sa.JSON(), nullable=True),
        sa.Column("as_org", sa.String(length=96), server_default="", nullable=False),
    ]


def _visit_columns() -> list:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_first", sa.Boolean(), nullable=False),
        sa.Column("entry_path", sa.String(length=1024), nullable=False),
        sa.Column("exit_path", sa.String(length=1024), nullable=False),
        sa.Column("pageviews", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ref_host", sa.String(length=253), nullable=False),
        sa.Column("utm_source", sa.String(length=128), nullable=False),
        sa.Column("utm_medium", sa.String(length=128), nullable=False),
        sa.Column("utm_campaign", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("city", sa.String(length=128), nullable=False),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("os", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=16), nullable=False),
    ]


def _rebuild_sqlite(names: dict, columns: list) -> None:
    """Create the table under its new name (keys named for it), copy the rows, drop the old
    table with its indexes, and create the indexes under their new names."""
    old, new = names["table"]
    renamed = names["columns"]
    op.create_table(
        new,
        *columns,
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=f"fk_{new}_site_id_sites", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{new}"),
    )
    targets = [column.name for column in columns]
    sources = [next((was for was, now in renamed.items() if now == name), name) for name in targets]
    op.execute(f"INSERT INTO {new} ({', '.join(targets)}) SELECT {', '.join(sources)} FROM {old}")
    op.drop_table(old)  # and its indexes
    for index, indexed in names["indexes"].values():
        op.create_index(index, new, [renamed.get(column, column) for column in indexed], unique=False)


#: The index of the visits page.
BY_START = ("ix_visits_site_id_started_at", "visits", ["site_id", "started_at"])


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(HITS, _hit_columns("visit_id"))
        _rebuild_sqlite(VISITS, _visit_columns())
    else:
        _rename_postgresql(HITS)
        _rename_postgresql(VISITS)
    op.create_index(*BY_START, unique=False)


def downgrade():
    op.drop_index(BY_START[0], table_name=BY_START[1])
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_reverse(VISITS, OLD_SEQUENCES["visits"]), _visit_columns())
        _rebuild_sqlite(_reverse(HITS, OLD_SEQUENCES["hits"]), _hit_columns("session_id"))
    else:
        _rename_postgresql(_reverse(VISITS, OLD_SEQUENCES["visits"]))
        _rename_postgresql(_reverse(HITS, OLD_SEQUENCES["hits"]))
