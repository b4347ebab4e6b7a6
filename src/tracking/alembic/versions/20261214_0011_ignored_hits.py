"""ignored_hits: the hits the beacon ignored, counted per site and reason

Revision ID: 0011_ignored_hits
Revises: 0010_visit_pages
Create Date: 2026-12-12 09:00:00.000000

A hit from a page on another host, or from a browser that sends Do Not Track or Global Privacy
Control, is answered with ``X-Tracking-Ignored`` and stored nowhere: the owner never learned why
nothing showed. Each site now keeps, per reason, how many and when the last one came (and, for
another host, which). A new, empty table: nothing else changes.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_ignored_hits"
down_revision = "0010_visit_pages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ignored_hits",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("last_host", sa.String(length=253), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_ignored_hits_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", "reason", name=op.f("pk_ignored_hits")),
    )


def downgrade():
    op.drop_table("ignored_hits")
