"""api keys: bearer keys for /api/v1/, stored as a hash, with scopes, sites and an expiry

Revision ID: 0012_api_keys
Revises: 0011_ignored_hits
Create Date: 2026-12-12 09:00:00.000000

A new, empty table, and a column of ``sites``: the Umami website id an owner may give a site,
so that Umami's tracker, pointed at ``/api/send``, reaches it (null for every existing site).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_api_keys"
down_revision = "0011_ignored_hits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("site_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    # SQLite rebuilds the table for the constraint: it keeps AUTOINCREMENT (see 0006).
    with op.batch_alter_table("sites", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column("umami_website_id", sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_sites_umami_website_id"), ["umami_website_id"])


def downgrade():
    with op.batch_alter_table("sites", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sites_umami_website_id"), type_="unique")
        batch_op.drop_column("umami_website_id")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
