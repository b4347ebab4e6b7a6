"""hits without a foreign key to sites: a site's hits are deleted with it by the application

Revision ID: 0017_hits_without_site_key
Revises: 0016_drop_hits_visitor_index
Create Date: 2026-12-18 10:00:00.000000

On PostgreSQL the key checked every hit inserted against its site, locking the site's row once
a hit: half of what storing a hit cost the database (BENCHMARKS.md). The hit writer checks a
batch's sites once instead (locked, on PostgreSQL, until it commits), and deleting a site
deletes its hits (``tracking.models.sites``). On SQLite the table is copied without the key
(a one-time cost of the migration, about a second per million hits).

Downgrading deletes the hits whose site is gone, then puts the key back.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_hits_without_site_key"
down_revision = "0016_drop_hits_visitor_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hits") as batch_op:
        batch_op.drop_constraint("fk_hits_site_id_sites", type_="foreignkey")


def downgrade():
    op.execute("DELETE FROM hits WHERE site_id NOT IN (SELECT id FROM sites)")
    with op.batch_alter_table("hits") as batch_op:
        batch_op.create_foreign_key("fk_hits_site_id_sites", "sites", ["site_id"], ["id"], ondelete="CASCADE")
