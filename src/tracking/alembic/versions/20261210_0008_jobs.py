"""jobs: heavy work on a site's data (a time-zone change's rebuild), run by the hit writer

Revision ID: 0008_jobs
Revises: 0007_hits_and_visits
Create Date: 2026-12-10 09:00:00.000000

Changing a site's time zone used to re-date its rows and rebuild its summaries inside the web
request. The request now saves the setting and queues a ``rebuild`` job here; the writer runs it
between batches of hits. A new, empty table: nothing else changes.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_jobs"
down_revision = "0007_hits_and_visits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('rebuild')", name=op.f("ck_jobs_kind")),
        sa.CheckConstraint("state IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_jobs_state")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_jobs_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_jobs_state"), "jobs", ["state"], unique=False)
    op.create_index(op.f("ix_jobs_site_id"), "jobs", ["site_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_jobs_site_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_state"), table_name="jobs")
    op.drop_table("jobs")
