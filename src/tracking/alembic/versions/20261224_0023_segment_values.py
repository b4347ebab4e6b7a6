"""common values with summaries of their own: segment_values, and a job that chooses them

Revision ID: 0023_segment_values
Revises: 0022_visit_filter_indexes
Create Date: 2026-12-24 09:00:00.000000

A filter by a referrer, a UTM parameter, a region, a city or an entry page reads the raw rows:
their values are too many for each to have summary rows. The common ones now do: a new table,
``segment_values``, lists the values of a site whose visits ``segment_stats`` counts (as it
counts every country's), chosen once a day by a new kind of job, ``values``, which counts a new
value's rows whole before listing it (``tracking.summaries.segments``). Sites get
``values_chosen_on``, the day that last happened; each site gets its first ``values`` job now,
and the writer queues the next ones when the day changes. ``segment_stats.segment_value`` grows to the length of the values
it now holds (a page path, up to 1,024 characters).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023_segment_values"
down_revision = "0022_visit_filter_indexes"
branch_labels = None
depends_on = None


def _job_kinds(kinds: str) -> None:
    """The jobs' kinds check, as 0021 changes it (a copy on SQLite that keeps its used ids)."""
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'jobs'")
        op.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs', COALESCE(MAX(id), 0) FROM jobs")


def _segment_value_length(length: int) -> None:
    # PostgreSQL changes a varchar's length in place (no rewrite of the table); SQLite copies.
    with op.batch_alter_table("segment_stats") as batch:
        batch.alter_column("segment_value", existing_type=sa.String(), type_=sa.String(length=length),
                           existing_nullable=False)


def upgrade():
    op.create_table(
        "segment_values",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_segment_values_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "segment", "value", name=op.f("pk_segment_values")),
    )
    # A plain ALTER TABLE: a copy of ``sites`` would lose SQLite's record of its used ids.
    op.add_column("sites", sa.Column("values_chosen_on", sa.Date(), nullable=True))
    _segment_value_length(1024)
    _job_kinds("'rebuild', 'goals', 'segments', 'values'")
    # Each site's first choice now; the writer queues the next ones when the day changes.
    now = "CURRENT_TIMESTAMP" if op.get_bind().dialect.name == "sqlite" else "(now() AT TIME ZONE 'UTC')"
    op.execute(f"INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts) SELECT id, 'values', '', 'pending', {now}, 0 FROM sites")


def downgrade():
    op.execute("DELETE FROM jobs WHERE kind = 'values'")
    _job_kinds("'rebuild', 'goals', 'segments'")
    # The chosen values' rows go with their list (their values may be longer than 64).
    op.execute("DELETE FROM segment_stats WHERE segment IN ('referrer', 'utm_source', 'utm_medium',"
               " 'utm_campaign', 'region', 'city', 'entry')")
    _segment_value_length(64)
    op.drop_column("sites", "values_chosen_on")
    op.drop_table("segment_values")
