"""engagements: the time on page and scroll depth Plausible's tracker measures of a page view

Revision ID: 0013_engagements
Revises: 0012_api_keys
Create Date: 2026-12-16 09:00:00.000000

``engagement`` events of Plausible's tracker were answered and dropped; they are now kept, one row
each, as measurements of the page view they follow (a visit, a page, an instant, the engaged
milliseconds and the scroll depth). A new, empty table: nothing else changes.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_engagements"
down_revision = "0012_api_keys"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "engagements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("engaged_ms", sa.Integer(), nullable=False),
        sa.Column("scroll_depth", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_engagements_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagements")),
    )
    op.create_index("ix_engagements_site_id_ts", "engagements", ["site_id", "ts"], unique=False)
    op.create_index("ix_engagements_visit_id", "engagements", ["visit_id"], unique=False)


def downgrade():
    op.drop_index("ix_engagements_visit_id", table_name="engagements")
    op.drop_index("ix_engagements_site_id_ts", table_name="engagements")
    op.drop_table("engagements")
