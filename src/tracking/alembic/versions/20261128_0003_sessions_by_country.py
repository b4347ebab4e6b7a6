"""sessions by country: the index behind the dashboard's most common filter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visit_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_visit_sessions_site_id_country_day", ["site_id", "country", "day"], unique=False)


def downgrade():
    with op.batch_alter_table("visit_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_sessions_site_id_country_day")
