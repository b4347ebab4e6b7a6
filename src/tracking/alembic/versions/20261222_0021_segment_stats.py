"""segment summaries: the daily rows again for each country, browser, operating system, device and source

Revision ID: 0021_segment_stats
Revises: 0020_funnel_visits
Create Date: 2026-12-22 09:00:00.000000

A new table kept by the hit writer, ``segment_stats``: the rows of ``daily_stats`` for the
visits of one value of a segment dimension (``country``, ``DE``), which a dashboard filtered by
that value reads as an unfiltered one reads ``daily_stats``. Sites get ``segmented``: whether
the table holds all of their data. A site without data has nothing to count and is segmented
at once; every other one gets a ``segments`` job (a new kind: its summaries recounted in
place), which counts its past and marks it: until it is done its filtered dashboards read the
raw rows as before.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021_segment_stats"
down_revision = "0020_funnel_visits"
branch_labels = None
depends_on = None


def _job_kinds(kinds: str) -> None:
    """The jobs' kinds check. On SQLite the table is copied (batch mode), as ``AUTOINCREMENT``
    (a copy without it, as 0018 made, gives a deleted job's id again) and its ids so far stay
    used."""
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'jobs'")
        op.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs', COALESCE(MAX(id), 0) FROM jobs")


def upgrade():
    op.create_table(
        "segment_stats",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("segment_value", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.BigInteger(), nullable=False),
        sa.Column("pageviews", sa.BigInteger(), nullable=False),
        sa.Column("bounces", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_segment_stats_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "segment", "segment_value", "dim", "day", "value",
                                name=op.f("pk_segment_stats")),
    )
    # A plain ALTER TABLE: a copy of ``sites`` (batch mode) would lose SQLite's record of the
    # ids already used, which are never given again.
    op.add_column("sites", sa.Column("segmented", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE sites SET segmented = " + ("1" if op.get_bind().dialect.name == "sqlite" else "true")
        + " WHERE NOT EXISTS (SELECT 1 FROM daily_stats WHERE daily_stats.site_id = sites.id)"
    )
    _job_kinds("'rebuild', 'goals', 'segments'")
    # Naive UTC, as the application writes its times.
    now = "CURRENT_TIMESTAMP" if op.get_bind().dialect.name == "sqlite" else "(now() AT TIME ZONE 'UTC')"
    op.execute(
        "INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
        f" SELECT id, 'segments', '', 'pending', {now}, 0 FROM sites"
        " WHERE segmented = " + ("0" if op.get_bind().dialect.name == "sqlite" else "false")
    )


def downgrade():
    op.execute("DELETE FROM jobs WHERE kind = 'segments'")
    _job_kinds("'rebuild', 'goals'")
    op.drop_column("sites", "segmented")
    op.drop_table("segment_stats")
