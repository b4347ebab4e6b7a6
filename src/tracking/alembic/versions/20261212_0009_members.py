"""members: site members with roles, invitations, share links, a site's history, account state

Revision ID: 0009_members
Revises: 0008_jobs
Create Date: 2026-12-12 09:00:00.000000

A site's owner stays ``sites.owner_id`` (one per site, as before: no data to move); everyone else
with access is a row of ``site_members``. New tables only, and two columns on ``users``
(``is_disabled``, false for every existing account; ``last_login_at``, unknown until the next
log-in).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_members"
down_revision = "0008_jobs"
branch_labels = None
depends_on = None


def upgrade():
    # Added in place (no table rebuild: SQLite keeps the table's AUTOINCREMENT, ids are never reused).
    op.add_column("users", sa.Column("is_disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("users", sa.Column("last_login_at", sa.DateTime(), nullable=True))
    op.create_table(
        "site_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'viewer')", name=op.f("ck_site_members_role")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_site_members_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_site_members_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_members")),
        sa.UniqueConstraint("site_id", "user_id", name=op.f("uq_site_members_site_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_site_members_user_id"), "site_members", ["user_id"], unique=False)
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'viewer')", name=op.f("ck_invitations_role")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_invitations_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], name=op.f("fk_invitations_invited_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_invitations_site_id"), "invitations", ["site_id"], unique=False)
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("include_visits", sa.Boolean(), nullable=False),
        sa.Column("embed_origins", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_share_links_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_share_links_secret_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_share_links_site_id"), "share_links", ["site_id"], unique=False)
    op.create_table(
        "site_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("what", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_site_events_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_site_events_site_id"), "site_events", ["site_id"], unique=False)
    op.create_table(
        "password_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_password_tokens_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_tokens_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_password_tokens_user_id"), "password_tokens", ["user_id"], unique=False)


def downgrade():
    for table, column in (("password_tokens", "user_id"), ("site_events", "site_id"), ("share_links", "site_id"),
                          ("invitations", "site_id"), ("site_members", "user_id")):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("is_disabled")
