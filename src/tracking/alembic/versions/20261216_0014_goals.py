"""goals: a site's goals, and the revenue a custom event may carry

Revision ID: 0014_goals
Revises: 0013_engagements
Create Date: 2026-12-16 09:00:00.000000

A new, empty table, and two columns of ``hits`` (null for every hit stored before): a custom
event's revenue, an exact amount and its ISO 4217 currency. The amount is ``NUMERIC(17, 4)`` on
PostgreSQL; SQLite has no exact decimals, so there it holds whole ten-thousandths
(``tracking.models.types.Amount``).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_goals"
down_revision = "0013_engagements"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("pattern", sa.String(length=1024), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("prop_key", sa.String(length=64), nullable=False),
        sa.Column("prop_value", sa.String(length=256), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_goals_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_goals_site_id"), "goals", ["site_id"], unique=False)
    amount = sa.BigInteger() if op.get_bind().dialect.name == "sqlite" else sa.Numeric(17, 4)
    # Nullable columns without a default: SQLite adds them in place, PostgreSQL without a rewrite.
    op.add_column("hits", sa.Column("revenue_amount", amount, nullable=True))
    op.add_column("hits", sa.Column("revenue_currency", sa.String(length=3), nullable=True))


def downgrade():
    with op.batch_alter_table("hits") as batch:
        batch.drop_column("revenue_currency")
        batch.drop_column("revenue_amount")
    op.drop_index(op.f("ix_goals_site_id"), table_name="goals")
    op.drop_table("goals")
