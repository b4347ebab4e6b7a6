"""funnel summaries: how far each visit went in each funnel, its visitors per day and step

Revision ID: 0020_funnel_visits
Revises: 0019_filter_indexes
Create Date: 2026-12-21 09:00:00.000000

Three new tables kept by the hit writer (``tracking.summaries.funnels``): ``funnel_visits``
(per funnel, each visit with a hit on one of its steps and the steps it passed, in order),
``funnel_stats`` (per funnel and day, the visitors by the most steps they passed) and
``funnel_visitors`` (each visitor's most steps of the last days, so that they are counted
once). Funnels get ``summarized_key``: the definition (steps, and their goals' rules) the rows
were counted for; the funnel report reads them only while it is the funnel's present
definition. The existing funnels start without one,
and a ``goals`` job (which now recounts the funnels too) is queued for each site that has a
funnel: until it is done the funnel report counts from the raw rows as before.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_funnel_visits"
down_revision = "0019_filter_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "funnel_visits",
        sa.Column("funnel_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.SmallInteger(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["funnel_id"], ["funnels.id"], name=op.f("fk_funnel_visits_funnel_id_funnels"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("funnel_id", "day", "visit_id", name=op.f("pk_funnel_visits")),
    )
    op.create_table(
        "funnel_stats",
        sa.Column("funnel_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("passed", sa.SmallInteger(), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["funnel_id"], ["funnels.id"], name=op.f("fk_funnel_stats_funnel_id_funnels"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("funnel_id", "day", "passed", name=op.f("pk_funnel_stats")),
    )
    op.create_table(
        "funnel_visitors",
        sa.Column("funnel_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["funnel_id"], ["funnels.id"], name=op.f("fk_funnel_visitors_funnel_id_funnels"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("funnel_id", "day", "visitor", name=op.f("pk_funnel_visitors")),
    )
    with op.batch_alter_table("funnels") as batch:
        batch.add_column(sa.Column("summarized_key", sa.String(length=200), nullable=True))
    # Naive UTC, as the application writes its times; one pending job per site at most.
    now = "CURRENT_TIMESTAMP" if op.get_bind().dialect.name == "sqlite" else "(now() AT TIME ZONE 'UTC')"
    op.execute(
        "INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
        f" SELECT DISTINCT site_id, 'goals', '', 'pending', {now}, 0 FROM funnels"
        " WHERE site_id NOT IN (SELECT site_id FROM jobs WHERE kind = 'goals' AND state = 'pending')"
    )


def downgrade():
    with op.batch_alter_table("funnels") as batch:
        batch.drop_column("summarized_key")
    op.drop_table("funnel_visitors")
    op.drop_table("funnel_stats")
    op.drop_table("funnel_visits")
