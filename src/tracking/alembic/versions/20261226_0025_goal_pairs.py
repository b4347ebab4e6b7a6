"""goal pairs: per goal and day, the visitors and conversions of each other goal in its visits

Revision ID: 0025_goal_pairs
Revises: 0024_goal_visits
Create Date: 2026-12-26 09:00:00.000000

Under a filter by a goal, the goals panel read that goal's converted visits against every other
goal's list (``goal_visits``): a join of a million rows for a broad goal over a year. A new
table, ``goal_pairs``, keeps per goal, day and second goal the visitors who converted on both in
one visit and the second goal's conversions in the first goal's visits (``goal_pair_visitors``
counts each visitor once, for the last few days, as ``goal_visitors`` does). Every goal is
counted again for them: marked not counted for its rules (until then the goals panel reads the
raw rows, as for a new goal), and each site with goals gets a ``goals`` job.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0025_goal_pairs"
down_revision = "0024_goal_visits"
branch_labels = None
depends_on = None


def _goal_keys(table: str) -> list:
    return [
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f(f"fk_{table}_goal_id_goals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paired_id"], ["goals.id"], name=op.f(f"fk_{table}_paired_id_goals"),
                                ondelete="CASCADE"),
    ]


def upgrade():
    op.create_table(
        "goal_pairs",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("paired_id", sa.Integer(), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        *_goal_keys("goal_pairs"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "day", "paired_id", name=op.f("pk_goal_pairs")),
    )
    op.create_table(
        "goal_pair_visitors",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("paired_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        *_goal_keys("goal_pair_visitors"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "paired_id", "day", "visitor",
                                name=op.f("pk_goal_pair_visitors")),
    )
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
    op.drop_table("goal_pair_visitors")
    op.drop_table("goal_pairs")
