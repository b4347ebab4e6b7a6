"""goal segments: the visits that converted on each goal, and their summary rows

Revision ID: 0024_goal_visits
Revises: 0023_segment_values
Create Date: 2026-12-25 09:00:00.000000

A dashboard filtered by a goal read the raw rows: every visit of the period tested against the
goal's rules, then the hits of the converting ones. A new table, ``goal_visits``, lists the
visits that converted on each goal (kept by the hit writer), and ``segment_stats`` gets the
rows of those visits per goal (``segment`` ``goal``), which a goal filter reads as a country
filter reads Germany's. Every goal is counted again for them: its summary rows are marked not
counted for its rules (until then the goals panel reads the raw rows, as for a new goal) and
each site with goals gets a ``goals`` job. A partial index of the hits that carry revenue lets
the goals panel under a filter read only those of the hits.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024_goal_visits"
down_revision = "0023_segment_values"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "goal_visits",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_goal_visits_goal_id_goals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_goal_visits_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "day", "visitor", "visit_id", name=op.f("pk_goal_visits")),
    )
    op.create_index("ix_goal_visits_visit_id", "goal_visits", ["visit_id"])
    # The hits that carry revenue, by site and time: what the goals panel reads of the hits
    # under a filter (the conversions of the matching visits are counted in goal_visits).
    op.create_index("ix_hits_site_id_ts_revenue", "hits", ["site_id", "ts"],
                    postgresql_where=sa.text("revenue_currency IS NOT NULL"),
                    sqlite_where=sa.text("revenue_currency IS NOT NULL"))
    op.execute("UPDATE goals SET summarized_version = 0")
    # Naive UTC, as the application writes its times; one pending goals job per site at most.
    now = "CURRENT_TIMESTAMP" if op.get_bind().dialect.name == "sqlite" else "(now() AT TIME ZONE 'UTC')"
    op.execute(
        "INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
        f" SELECT DISTINCT site_id, 'goals', '', 'pending', {now}, 0 FROM goals"
        " WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.site_id = goals.site_id AND jobs.kind = 'goals'"
        " AND jobs.state = 'pending')"
    )


def downgrade():
    op.drop_index("ix_hits_site_id_ts_revenue", table_name="hits")
    op.execute("DELETE FROM segment_stats WHERE segment = 'goal'")
    op.drop_index("ix_goal_visits_visit_id", table_name="goal_visits")
    op.drop_table("goal_visits")
