"""user sessions: signed-in sessions kept server-side; account and site ids never reused

Revision ID: 0006_user_sessions
Revises: 0005
Create Date: 2026-12-06 10:00:00.000000

A log-in now creates a row in ``user_sessions`` and the session cookie carries its token: the
cookies of earlier versions (which carried a bare user id) no longer sign anybody in, so every
user logs in again once after this upgrade.

On SQLite, ``users`` and ``sites`` are rebuilt with ``AUTOINCREMENT`` (their rows, ids and every
row that refers to them kept): without it SQLite gives a new row the id of a deleted highest one,
so a new account could inherit a deleted account's id. The rebuild drops the old tables, which
is only safe with foreign keys off: ``alembic/env.py`` turns them off for migrations on SQLite and
checks every reference before committing. PostgreSQL's sequences never reuse an id.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_user_sessions"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rebuild_with_autoincrement(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in ("users", "sites"):
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade():
    _rebuild_with_autoincrement(True)
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_sessions_expires_at"))
    op.drop_table("user_sessions")
    _rebuild_with_autoincrement(False)
