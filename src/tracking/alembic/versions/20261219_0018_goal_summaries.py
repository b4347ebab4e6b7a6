"""goal summaries: each goal's converting visitors, conversions and revenue per day

Revision ID: 0018_goal_summaries
Revises: 0017_hits_without_site_key
Create Date: 2026-12-19 09:00:00.000000

Three new tables kept by the hit writer (``tracking.summaries.goals``): ``goal_stats`` (per
goal and day), ``goal_revenue`` (per goal, day and currency) and ``goal_visitors`` (who converted
on a goal that day, so that visitors are counted once). Goals get ``rules_version`` and
``summarized_version``: the reports read a goal's rows only once they were recomputed for its
rules. The existing goals start at version 0 (not summarized) and a ``goals`` job is queued for
each site that has some: the writer recomputes their rows, and until then the reports count
from the raw rows as before. The jobs' kinds allow ``goals``.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_goal_summaries"
down_revision = "0017_hits_without_site_key"
branch_labels = None
depends_on = None


def _keys(table: str) -> list:
    return [
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f(f"fk_{table}_goal_id_goals"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"),
    ]


def upgrade():
    op.create_table(
        "goal_stats",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        *_keys("goal_stats"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "day", name=op.f("pk_goal_stats")),
    )
    op.create_table(
        "goal_revenue",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        *_keys("goal_revenue"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "day", "currency", name=op.f("pk_goal_revenue")),
    )
    op.create_table(
        "goal_visitors",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        *_keys("goal_visitors"),
        sa.PrimaryKeyConstraint("site_id", "goal_id", "day", "visitor", name=op.f("pk_goal_visitors")),
    )
    with op.batch_alter_table("goals") as batch:
        batch.add_column(sa.Column("rules_version", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("summarized_version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", "kind IN ('rebuild', 'goals')")
    # Naive UTC, as the application writes its times.
    now = "CURRENT_TIMESTAMP" if op.get_bind().dialect.name == "sqlite" else "(now() AT TIME ZONE 'UTC')"
    op.execute(
        "INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
        f" SELECT DISTINCT site_id, 'goals', '', 'pending', {now}, 0 FROM goals"
    )


def downgrade():
    op.execute("DELETE FROM jobs WHERE kind = 'goals'")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_kind"), type_="check")
        batch.create_check_constraint("kind", "kind IN ('rebuild')")
    with op.batch_alter_table("goals") as batch:
        batch.drop_column("summarized_version")
        batch.drop_column("rules_version")
    op.drop_table("goal_visitors")
    op.drop_table("goal_revenue")
    op.drop_table("goal_stats")
