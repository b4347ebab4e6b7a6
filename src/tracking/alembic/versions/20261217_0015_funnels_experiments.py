"""funnels and experiments: a site's funnels (ordered steps, each a goal) and A/B experiments

Revision ID: 0015_funnels_experiments
Revises: 0014_goals
Create Date: 2026-12-17 09:00:00.000000

New, empty tables. A funnel's step and an experiment go with the goal they name when it is
deleted (``ON DELETE CASCADE``), and everything with its site.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_funnels_experiments"
down_revision = "0014_goals"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "funnels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_funnels_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnels")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_funnels_site_id"), "funnels", ["site_id"], unique=False)
    op.create_table(
        "funnel_steps",
        sa.Column("funnel_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["funnel_id"], ["funnels.id"], name=op.f("fk_funnel_steps_funnel_id_funnels"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_funnel_steps_goal_id_goals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("funnel_id", "position", name=op.f("pk_funnel_steps")),
    )
    op.create_index(op.f("ix_funnel_steps_goal_id"), "funnel_steps", ["goal_id"], unique=False)
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=53), nullable=False),
        sa.Column("control", sa.String(length=256), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_experiments_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_experiments_goal_id_goals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_experiments_site_id"), "experiments", ["site_id"], unique=False)
    op.create_index(op.f("ix_experiments_goal_id"), "experiments", ["goal_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_experiments_goal_id"), table_name="experiments")
    op.drop_index(op.f("ix_experiments_site_id"), table_name="experiments")
    op.drop_table("experiments")
    op.drop_index(op.f("ix_funnel_steps_goal_id"), table_name="funnel_steps")
    op.drop_table("funnel_steps")
    op.drop_index(op.f("ix_funnels_site_id"), table_name="funnels")
    op.drop_table("funnels")
