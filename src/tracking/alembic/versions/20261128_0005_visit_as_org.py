"""visit as_org: the organisation of the autonomous system a hit came from

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # Hits stored before this revision have no organisation: "".
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("as_org", sa.String(length=96), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("as_org")
