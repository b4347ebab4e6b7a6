"""hits by visitor: the index goes, nothing reads hits by visitor any more

Revision ID: 0016_drop_hits_visitor_index
Revises: 0015_funnels_experiments
Create Date: 2026-12-18 09:00:00.000000

The hit writer told a visitor's first view of a page that day by looking up their hits through
``ix_hits_site_id_visitor``; it now reads it from the pages and events their visits list
(``visits.pages``, ``visits.event_names``). No other query finds hits by visitor, so the index
only cost every hit an insert at a random place, and its room on disk (BENCHMARKS.md).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_drop_hits_visitor_index"
down_revision = "0015_funnels_experiments"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_hits_site_id_visitor", table_name="hits")


def downgrade():
    op.create_index("ix_hits_site_id_visitor", "hits", ["site_id", "visitor"])
